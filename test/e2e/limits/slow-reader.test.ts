/**
 * End-to-end: a client that stops reading costs the proxy a bounded amount of memory, however many
 * large responses it asked for (pipelined, each from its own backend connection), and then gets
 * every byte intact once it reads again.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as net from 'node:net';
import { startRaw } from '../../../backends/raw.js';
import { OUTPUT_BUDGET } from '../../../src/frontend/client-conn.js';
import { MAX_READ } from '../../../src/backend/upstream-conn.js';
import { HOST, startProxy, waitFor, waitForIdle, withCleanup } from '../../kit/harness.js';
import { Pattern, StreamReader, WriteProgress, headField, waitForStall, writePattern } from '../../kit/bulk.js';

const SIZE = 4 << 20;
const PIPELINED = 8;
/** The socket's own buffer before write() says stop: its 16 KiB high-water mark and the piece that crossed it. */
const SOCKET_BYTES = 16 * 1024 + MAX_READ;
/** The documented bound: the budget, one piece the front response may add past it, what the socket holds, and head bytes. */
const BOUND = OUTPUT_BUDGET + MAX_READ + SOCKET_BYTES + 4 * 1024;

test(`a client that pipelines ${PIPELINED} large responses and reads nothing holds at most about ${BOUND >> 10} KiB in the proxy; then all of it arrives intact`, () => withCleanup(async (c) => {
  const pattern = new Pattern(SIZE);
  const expected = pattern.sha256();
  const writers: WriteProgress[] = [];
  const backend = c.add(await startRaw({
    onConnection: (socket) => {
      let seen = '';
      socket.on('data', (data: Buffer) => {
        seen += data.toString('latin1');
        if (!seen.includes('\r\n\r\n')) return;
        seen = '';
        const progress = new WriteProgress(socket);
        writers.push(progress);
        writePattern(socket, Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${SIZE}\r\n\r\n`), pattern, progress).catch(() => socket.destroy());
      });
    },
  }));
  const { proxy, port } = await startProxy(c, [backend]);
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ host: HOST, port });
    s.once('error', reject);
    s.once('connect', () => resolve(s));
  });
  c.add({ close: () => socket.destroy() });
  const reader = new StreamReader(socket);
  reader.hold();
  socket.write(Array.from({ length: PIPELINED }, (_, i) => `GET /big/${i} HTTP/1.1\r\nHost: lb.test\r\n\r\n`).join(''));

  let most = 0;
  const sample = setInterval(() => { most = Math.max(most, proxy.stats().bufferedOutput.max); }, 2);
  c.add({ close: () => clearInterval(sample) });
  await waitFor(`all ${PIPELINED} backend exchanges to start`, () => writers.length === PIPELINED, 10_000);
  const sent = (): number => writers.reduce((n, w) => n + w.sent, 0);
  await waitForStall(sent, () => false, 500, 30_000);
  most = Math.max(most, proxy.stats().bufferedOutput.max);
  clearInterval(sample);
  assert.ok(most <= BOUND, `the connection held up to ${most} bytes (bound ${BOUND})`);
  assert.ok(most >= OUTPUT_BUDGET / 2, `and it did hold the responses' start (${most} bytes): the measure measures`);
  assert.ok(sent() < PIPELINED * SIZE, 'the backends were held back by backpressure');

  reader.release();
  for (let i = 0; i < PIPELINED; i++) {
    const head = await reader.readHead(10_000);
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.is(headField(head, 'content-length'), String(SIZE));
    assert.is(await reader.readBody(SIZE, 30_000), expected, `response ${i} intact and in order`);
  }
  await waitForIdle(proxy);
}));

test.run();
