// Question: how much memory does a client that stops reading a large response cost the proxy?
// N clients each ask for a 64 MiB response and read nothing; once the backend's writes have stalled
// (backpressure reached it), the proxy's RSS growth over its warmed-up baseline is divided by N.
// Kernel socket buffers are not in RSS; what remains is what the proxy itself holds per connection.
//
// node dist/bench/load/slow-readers.js [--clients 50] [--only chanlb,nginx,haproxy] [--dist DIR]
// (--dist: another build's dist/, to measure an earlier commit side by side)
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startRaw } from '../../backends/raw.js';
import { DIST, list, runToEnd, sleep } from './compare/driver.js';
import { stopAll } from './compare/procs.js';
import { startTarget, unavailable, type TargetName } from './compare/targets.js';

const BIG = 64 << 20;
const BLOCK = Buffer.alloc(64 * 1024, 0x78);

/** Sum of the processes' resident set sizes now (VmRSS), in KiB. */
function rssKiB(pids: readonly number[]): number {
  let kib = 0;
  for (const pid of pids) {
    try {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
      if (m !== null) kib += Number(m[1]);
    } catch {
      // gone
    }
  }
  return kib;
}

/** A backend answering /warm with 2 bytes and anything else with BIG bytes, written as fast as backpressure lets it. */
async function bigBackend(): Promise<{ port: number; written: () => number; close: () => Promise<void> }> {
  let written = 0;
  const handle = await startRaw({
    onConnection: (socket) => {
      let seen = '';
      socket.on('data', (d: Buffer) => {
        seen += d.toString('latin1');
        for (let end = seen.indexOf('\r\n\r\n'); end >= 0; end = seen.indexOf('\r\n\r\n')) {
          const line = seen.slice(0, seen.indexOf('\r\n'));
          seen = seen.slice(end + 4);
          if (line.startsWith('GET /warm ')) {
            socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
            continue;
          }
          socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${BIG}\r\n\r\n`);
          let left = BIG;
          const pump = (): void => {
            while (left > 0 && !socket.destroyed) {
              const n = Math.min(left, BLOCK.length);
              left -= n;
              written += n;
              if (!socket.write(n === BLOCK.length ? BLOCK : BLOCK.subarray(0, n))) {
                socket.once('drain', pump);
                return;
              }
            }
          };
          pump();
        }
      });
    },
  });
  return { port: handle.port, written: () => written, close: () => handle.close() };
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('error', reject);
    s.once('connect', () => resolve(s));
  });
}

async function warm(port: number): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const s = await connect(port);
    await new Promise<void>((resolve) => {
      s.once('data', () => resolve());
      s.write('GET /warm HTTP/1.1\r\nHost: b\r\n\r\n');
    });
    s.destroy();
  }
}

/** Waits until `value` has not changed for `quietMs` (at most `timeoutMs`). */
async function stalled(value: () => number, quietMs: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = value();
  let since = Date.now();
  while (Date.now() < deadline) {
    await sleep(100);
    const now = value();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return;
    }
  }
  throw new Error('the backend never stalled: the proxy buffers without bound?');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { clients: { type: 'string', default: '50' }, only: { type: 'string', default: 'chanlb,nginx,haproxy' }, dist: { type: 'string' } } });
  const clients = Number(values.clients);
  const dist = values.dist === undefined ? DIST : path.resolve(values.dist);
  const backend = await bigBackend();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'chanlb-slow-'));
  const rows: string[] = [];
  try {
    for (const name of list(values.only) as TargetName[]) {
      const why = unavailable(name);
      if (why !== null) {
        rows.push(`| ${name} | skipped: ${why} | | |`);
        continue;
      }
      const target = await startTarget(name, { dist, tmp, backendPorts: [backend.port], backends: [] });
      try {
        await warm(target.port);
        await sleep(500);
        const baseline = rssKiB(target.pids());
        const before = backend.written();
        const sockets = await Promise.all(Array.from({ length: clients }, () => connect(target.port)));
        for (const s of sockets) {
          s.pause();
          s.write('GET /big HTTP/1.1\r\nHost: b\r\n\r\n');
        }
        await stalled(backend.written, 1000, 30_000);
        const grown = rssKiB(target.pids()) - baseline;
        const pushed = (backend.written() - before) / clients;
        rows.push(`| ${name} | ${(grown / clients).toFixed(0)} | ${(pushed / 1024).toFixed(0)} | ${baseline} |`);
        for (const s of sockets) s.destroy();
      } finally {
        await stopAll(); // the target's processes (the backend runs in this one)
      }
    }
  } finally {
    await backend.close();
    rmSync(tmp, { recursive: true, force: true });
  }
  process.stdout.write(`${clients} clients each asking for ${BIG >> 20} MiB and reading nothing (dist: ${dist})\n\n`);
  process.stdout.write('| target | RSS growth per slow client (KiB) | bytes the backend got out per client before it stalled (KiB, kernel buffers included) | baseline RSS (KiB) |\n| --- | ---: | ---: | ---: |\n');
  process.stdout.write(`${rows.join('\n')}\n`);
}

await runToEnd('slow-readers', main);
