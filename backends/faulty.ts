// A backend that fails on purpose, for bench/load/failover.ts: every request gets `--status S`
// (default 200) with `Hello from <name>\n`, but only the first `--answer N` requests of each
// connection do (default: all); later ones are read and never answered, and the connection is never
// closed (--answer 0: a silent backend). `GET /__faulty/stats` answers FaultyStats as JSON whatever
// --answer says, and is not counted. Like fast.ts it serves requests without bodies only (bodies are
// not framed); `Connection: close` is honoured after an answer.
// `node dist/backends/faulty.js --port 9001 --name 1 [--host H] [--status 503] [--answer 1]`
import { STATUS_CODES } from 'node:http';
import net from 'node:net';
import { isMain, runCli, takeFlag } from './cli.js';
import { serve, type BackendHandle, type ListenOptions } from './serve.js';

export interface FaultyOptions extends ListenOptions {
  name: string;
  /** The status of every answer (default 200). */
  status?: number;
  /** Requests answered per connection before it goes silent (default: no limit). */
  answer?: number;
}

export interface FaultyStats {
  name: string;
  /** Connections that carried at least one counted request. */
  connections: number;
  /** Request heads received, answered or not. */
  requests: number;
  answered: number;
}

export const FAULTY_STATS_PATH = '/__faulty/stats';
const STATS_LINE = `GET ${FAULTY_STATS_PATH} `;
const CRLFCRLF = Buffer.from('\r\n\r\n');
const MAX_HEAD = 16 * 1024;

function response(status: number, body: string, close = false): Buffer {
  return Buffer.from(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Content-Type: text/plain\r\n${close ? 'Connection: close\r\n' : ''}\r\n${body}`,
  );
}

export function startFaulty(opts: FaultyOptions): Promise<BackendHandle<net.Server>> {
  const answer = opts.answer ?? Infinity;
  const reply = response(opts.status ?? 200, `Hello from ${opts.name}\n`);
  const stats: FaultyStats = { name: opts.name, connections: 0, requests: 0, answered: 0 };
  const server = net.createServer((socket) => {
    socket.on('error', () => {}); // proxies cut these connections in failure runs
    let pending: Buffer = Buffer.alloc(0);
    let seen = 0;
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let start = 0;
      for (let end = pending.indexOf(CRLFCRLF); end !== -1; end = pending.indexOf(CRLFCRLF, start)) {
        const head = pending.toString('latin1', start, end);
        start = end + 4;
        if (head.startsWith(STATS_LINE)) {
          socket.end(response(200, JSON.stringify(stats), true));
          return;
        }
        if (seen++ === 0) stats.connections++;
        stats.requests++;
        if (seen > answer) continue;
        stats.answered++;
        if (/^connection:[^\r]*close/im.test(head)) {
          socket.end(reply);
          return;
        }
        socket.write(reply);
      }
      pending = pending.subarray(start);
      if (pending.length > MAX_HEAD) socket.destroy(); // not a request head: a body, or garbage
    });
  });
  return serve(server, opts);
}

/** An integer flag of this CLI, in [min, max]; exits 2 on anything else. */
function intFlag(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (n >= min && n <= max) return n;
  process.stderr.write(`faulty: --${name} needs an integer ${min}-${max}, got '${text}'\n`);
  process.exit(2);
}

if (isMain(import.meta.url)) {
  const status = takeFlag(process.argv.slice(2), 'status');
  const answer = takeFlag(status.rest, 'answer');
  const opts = { status: intFlag('status', status.value, 200, 599), answer: intFlag('answer', answer.value, 0, 2 ** 31 - 1) };
  runCli('faulty', answer.rest, ['port', 'name', 'host'], (flags) => startFaulty({ ...flags, ...opts }));
}
