/**
 * One big upload and one big download through the proxy CLI (a child process), to show that bodies
 * stream with flat memory. Prints throughput and the proxy's RSS before, after each transfer, the
 * highest sampled RSS and its VmHWM (peak RSS, from /proc/PID/status).
 *
 *   node dist/bench/load/big-transfer.js [--size 1g]
 *
 * The backend (a raw socket server) and the client run in this process and hash what they receive,
 * so both directions are checked intact (sha256 of a 64 KiB-block pattern, see test/kit/bulk.ts).
 */
import * as net from 'node:net';
import { parseArgs } from 'node:util';
import { parseSize } from '../../src/options/values.js';
import { spawnProxy, type ChildProxy } from '../../test/kit/child-proxy.js';
import { Pattern, StreamReader, headField, writePattern } from '../../test/kit/bulk.js';

const HOST = '127.0.0.1';
const LONG = 10 * 60_000;

interface Args {
  size: number;
}

function args(): Args {
  const { values } = parseArgs({ options: { size: { type: 'string', default: '1g' } }, strict: true });
  return { size: parseSize('--size', values.size ?? '1g') };
}

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
const kbToMib = (kb: number): string => `${(kb / 1024).toFixed(1)} MiB`;

/** The backend: `GET /download` streams the pattern; `POST /upload` hashes the body and answers the hash. */
function startBackend(pattern: Pattern): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    const reader = new StreamReader(socket);
    void (async () => {
      for (;;) {
        const head = await reader.readHead(LONG);
        if (head.startsWith('GET /download ')) {
          await writePattern(socket, Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${pattern.size}\r\n\r\n`), pattern);
        } else {
          const sha = await reader.readBody(Number(headField(head, 'content-length') ?? '0'), LONG);
          socket.write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${sha.length}\r\n\r\n${sha}`);
        }
      }
    })().catch(() => socket.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve(server));
  });
}

function connectTo(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port });
    socket.setNoDelay(true);
    socket.once('error', reject);
    socket.once('connect', () => { socket.off('error', reject); resolve(socket); });
  });
}

/** Samples the proxy's RSS every 50 ms while `work` runs; returns its result and the highest sample. */
async function sampled<T>(proxy: ChildProxy, work: () => Promise<T>): Promise<{ result: T; maxRssKb: number; ms: number }> {
  let maxRssKb = proxy.rssKb();
  const timer = setInterval(() => { maxRssKb = Math.max(maxRssKb, proxy.rssKb()); }, 50);
  const started = process.hrtime.bigint();
  try {
    const result = await work();
    return { result, maxRssKb, ms: Number(process.hrtime.bigint() - started) / 1e6 };
  } finally {
    clearInterval(timer);
  }
}

async function main(): Promise<void> {
  const { size } = args();
  const pattern = new Pattern(size);
  process.stdout.write(`big-transfer: ${mib(size)} each way; hashing the pattern first...\n`);
  const expected = pattern.sha256();
  const backend = await startBackend(pattern);
  const backendPort = (backend.address() as net.AddressInfo).port;
  const proxy = await spawnProxy(['--backend', `${HOST}:${backendPort}`, '--max-body-bytes', String(size + 1), '--response-timeout', '5m']);
  try {
    // Warm up: a few small requests so the baseline includes the parser and pools.
    for (let i = 0; i < 10; i++) {
      const s = await connectTo(proxy.port);
      const r = new StreamReader(s);
      s.write(`POST /upload HTTP/1.1\r\nHost: bench\r\nContent-Length: 5\r\n\r\nhello`);
      const h = await r.readHead(5_000);
      await r.readExactly(Number(headField(h, 'content-length')), 5_000);
      s.destroy();
    }
    const before = proxy.rssKb();

    const up = await sampled(proxy, async () => {
      const socket = await connectTo(proxy.port);
      const reader = new StreamReader(socket);
      await writePattern(socket, Buffer.from(`POST /upload HTTP/1.1\r\nHost: bench\r\nContent-Type: application/octet-stream\r\nContent-Length: ${size}\r\n\r\n`), pattern);
      const head = await reader.readHead(LONG);
      const sha = (await reader.readExactly(Number(headField(head, 'content-length')), LONG)).toString('latin1');
      socket.destroy();
      return sha;
    });
    const afterUpload = proxy.rssKb();

    const down = await sampled(proxy, async () => {
      const socket = await connectTo(proxy.port);
      const reader = new StreamReader(socket);
      socket.write('GET /download HTTP/1.1\r\nHost: bench\r\n\r\n');
      const head = await reader.readHead(LONG);
      const sha = await reader.readBody(Number(headField(head, 'content-length')), LONG);
      socket.destroy();
      return sha;
    });
    const afterDownload = proxy.rssKb();
    const peak = proxy.peakKb();

    const rate = (ms: number): string => `${((size / 1024 / 1024) / (ms / 1000)).toFixed(0)} MiB/s`;
    const lines = [
      `upload   ${mib(size)} in ${(up.ms / 1000).toFixed(2)} s = ${rate(up.ms)}  ${up.result === expected ? 'intact' : 'CORRUPTED'}`,
      `download ${mib(size)} in ${(down.ms / 1000).toFixed(2)} s = ${rate(down.ms)}  ${down.result === expected ? 'intact' : 'CORRUPTED'}`,
      `proxy RSS before ${kbToMib(before)}, after upload ${kbToMib(afterUpload)}, after download ${kbToMib(afterDownload)}`,
      `proxy RSS highest sample: upload ${kbToMib(up.maxRssKb)}, download ${kbToMib(down.maxRssKb)}; VmHWM (peak) ${kbToMib(peak)} = ${kbToMib(peak - before)} over the baseline`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (up.result !== expected || down.result !== expected) process.exitCode = 1;
  } finally {
    await proxy.close();
    await new Promise<void>((resolve) => backend.close(() => resolve()));
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`big-transfer: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
