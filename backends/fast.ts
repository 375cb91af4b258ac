// The fastest correct keep-alive backend for load benchmarks: a raw net.Server that answers every
// request head with one precomputed `200 Hello from <name>\n`, all answers for one read in one write.
// It serves requests WITHOUT bodies only (GET/HEAD as load generators send them): a head carrying
// Content-Length or Transfer-Encoding gets 400 and the connection is closed, since bodies are not
// framed here. HTTP/1.0 and `Connection: close` are honoured; HEAD gets the head without the body.
// `node dist/backends/fast.js --port 9001 --name 1 [--host H]`
import net from 'node:net';
import { isMain, runCli } from './cli.js';
import { serve, type BackendHandle, type ListenOptions } from './serve.js';

export interface FastOptions extends ListenOptions {
  name: string;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const MAX_HEAD = 16 * 1024;
const MAX_CACHED_BATCH = 64;

// What a head asks of the response (indexes into the response table).
const KEEP_ALIVE = 0;
const KEEP_ALIVE_10 = 1; // an HTTP/1.0 client must be told that the connection stays open
const CLOSE = 2;
const BAD = 3;
type Kind = typeof KEEP_ALIVE | typeof KEEP_ALIVE_10 | typeof CLOSE | typeof BAD;
const VERSION_PREFIX = Buffer.from(' HTTP/1.');

/** True when the line at pos starts with `name` (lower case, colon included), ASCII-case-insensitively. */
function nameIs(buf: Buffer, pos: number, lineEnd: number, name: string): boolean {
  if (lineEnd - pos < name.length) return false;
  for (let i = 0; i < name.length; i++) if (((buf[pos + i] ?? 0) | 0x20) !== name.charCodeAt(i)) return false;
  return true;
}

/** Classifies the head (byte compares only) buf[start, end) (end is the index of its final `\r\n\r\n`). */
function classify(buf: Buffer, start: number, end: number): Kind {
  let lineEnd = buf.indexOf(10, start); // request line must end with ` HTTP/1.0\r` or ` HTTP/1.1\r`
  if (lineEnd === -1 || lineEnd > end + 1 || lineEnd - start < 10 || buf[lineEnd - 1] !== 13) return BAD;
  if (VERSION_PREFIX.compare(buf, lineEnd - 10, lineEnd - 2) !== 0) return BAD;
  const minor = buf[lineEnd - 2];
  if (minor !== 0x30 && minor !== 0x31) return BAD;
  let close = minor === 0x30;
  let keepAlive = false;
  while (lineEnd < end) {
    const pos = lineEnd + 1;
    lineEnd = buf.indexOf(10, pos);
    if (lineEnd === -1 || lineEnd > end + 1) lineEnd = end + 1;
    const first = (buf[pos] ?? 0) | 0x20;
    if (first === 0x74 /* t */ && nameIs(buf, pos, lineEnd, 'transfer-encoding:')) return BAD;
    if (first !== 0x63 /* c */) continue;
    if (nameIs(buf, pos, lineEnd, 'content-length:')) return BAD;
    if (nameIs(buf, pos, lineEnd, 'connection:')) {
      const value = buf.toString('latin1', pos + 11, lineEnd).toLowerCase();
      if (value.includes('close')) close = true;
      else if (value.includes('keep-alive')) keepAlive = true;
    }
  }
  if (close && !(minor === 0x30 && keepAlive)) return CLOSE;
  return minor === 0x30 ? KEEP_ALIVE_10 : KEEP_ALIVE;
}

function isHead(buf: Buffer, start: number): boolean {
  return buf[start] === 0x48 && buf[start + 1] === 0x45 && buf[start + 2] === 0x41 && buf[start + 3] === 0x44 && buf[start + 4] === 0x20;
}

export function startFast(opts: FastOptions): Promise<BackendHandle<net.Server>> {
  const body = `Hello from ${opts.name}\n`;
  const head = (connection: string): Buffer =>
    Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: text/plain\r\n${connection}\r\n`);
  // Indexed [kind][isHead]: the full response, or the head alone for HEAD.
  const responses: readonly (readonly [Buffer, Buffer])[] = [
    [Buffer.concat([head(''), Buffer.from(body)]), head('')],
    [Buffer.concat([head('Connection: keep-alive\r\n'), Buffer.from(body)]), head('Connection: keep-alive\r\n')],
    [Buffer.concat([head('Connection: close\r\n'), Buffer.from(body)]), head('Connection: close\r\n')],
  ];
  const plain = responses[0]?.[0] ?? Buffer.alloc(0);
  const badRequest = Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  // batches[n] is n plain responses back to back, the common pipelined case.
  const batches: Buffer[] = [Buffer.alloc(0), plain];
  const batch = (n: number): Buffer => {
    if (n > MAX_CACHED_BATCH) return Buffer.concat(Array<Buffer>(n).fill(plain));
    return (batches[n] ??= Buffer.concat(Array<Buffer>(n).fill(plain)));
  };

  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => {});
    let pending: Buffer | null = null;
    socket.on('data', (chunk: Buffer) => {
      const buf: Buffer = pending === null ? chunk : Buffer.concat([pending, chunk]);
      pending = null;
      let start = 0;
      let plainRun = 0; // plain responses not yet added to parts
      let parts: Buffer[] | null = null;
      let closing = false;
      for (let end = buf.indexOf(CRLFCRLF); end !== -1; end = buf.indexOf(CRLFCRLF, start)) {
        const kind = classify(buf, start, end);
        const headOnly = isHead(buf, start);
        start = end + 4;
        if (kind === KEEP_ALIVE && !headOnly) {
          plainRun++;
          continue;
        }
        parts ??= [];
        if (plainRun > 0) parts.push(batch(plainRun));
        plainRun = 0;
        if (kind === BAD) parts.push(badRequest);
        else parts.push(responses[kind]?.[headOnly ? 1 : 0] ?? badRequest);
        if (kind === BAD || kind === CLOSE) {
          closing = true;
          break;
        }
      }
      if (!closing && start < buf.length) {
        pending = buf.subarray(start);
        if (pending.length > MAX_HEAD) {
          parts ??= [];
          if (plainRun > 0) parts.push(batch(plainRun));
          plainRun = 0;
          parts.push(badRequest);
          closing = true;
        }
      }
      const out = parts === null ? batch(plainRun) : Buffer.concat(plainRun > 0 ? [...parts, batch(plainRun)] : parts);
      if (closing) {
        socket.end(out);
        return;
      }
      if (out.length > 0 && !socket.write(out)) {
        socket.pause();
        socket.once('drain', () => socket.resume());
      }
    });
  });
  return serve(server, opts);
}

if (isMain(import.meta.url)) {
  runCli('fast', process.argv.slice(2), ['port', 'name', 'host'], startFast);
}
