/**
 * End-to-end: chunked bodies are re-chunked by the proxy both ways (the payload and the end-to-end
 * trailer fields byte-exact; chunk extensions and hop-by-hop trailer fields not forwarded), and
 * bodies stream with backpressure: a client or backend that stops reading does not make the proxy
 * buffer the body. The memory tests run the proxy CLI as a child process and read its VmRSS /
 * VmHWM from /proc.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as net from 'node:net';
import { randomBytes } from 'node:crypto';
import { startRaw } from '../../../backends/raw.js';
import { loadFixture } from '../../kit/fixtures.js';
import { headerValue } from '../../kit/raw-client.js';
import { HOST, connect, echoBackends, startProxy, waitFor, waitForIdle, withCleanup, type Cleanup } from '../../kit/harness.js';
import type { EchoHandle, EchoReport } from '../../../backends/echo.js';
import { spawnProxy } from '../../kit/child-proxy.js';
import { prng } from '../../kit/prng.js';
import { Pattern, StreamReader, WriteProgress, headField, waitForStall, writePattern } from '../../kit/bulk.js';
import { dechunk } from '../../kit/chunked.js';

/** Writes `bytes` to `socket` in pieces of 1..maxPiece bytes, yielding to the event loop between. */
async function writeSplit(socket: net.Socket, bytes: Buffer, maxPiece: number, rand: () => number): Promise<void> {
  for (let at = 0; at < bytes.length;) {
    const n = 1 + Math.floor(rand() * maxPiece);
    const piece = bytes.subarray(at, at + n);
    at += n;
    await new Promise<void>((resolve, reject) => socket.write(piece, (err) => (err ? reject(err) : resolve())));
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** A chunked body of about `size` bytes: random chunk sizes, an extension on every chunk, trailer fields. */
function chunkedBody(size: number, rand: () => number): { framed: Buffer; payload: Buffer } {
  const payload = randomBytes(size);
  const parts: Buffer[] = [];
  for (let at = 0, i = 0; at < payload.length; i++) {
    const n = Math.min(payload.length - at, 1 + Math.floor(rand() * 9000));
    const ext = i % 3 === 0 ? `;i=${i}` : i % 3 === 1 ? `;name="q v";flag` : ';x';
    const hex = n.toString(16);
    parts.push(Buffer.from(`${i % 2 === 0 ? hex.toUpperCase() : hex}${ext}\r\n`), payload.subarray(at, at + n), Buffer.from('\r\n'));
    at += n;
  }
  parts.push(Buffer.from('0;final=yes\r\nX-Checksum: abc123\r\nX-Count: 42\r\n\r\n'));
  return { framed: Buffer.concat(parts), payload };
}

/**
 * A raw backend that records everything it receives and, once a head and `bodyLength` more bytes
 * have arrived, answers 200 "ok". `received()` is the whole capture.
 */
async function capturingBackend(c: Cleanup, bodyLength: () => number) {
  let captured = Buffer.alloc(0);
  let last: net.Socket | null = null;
  const backend = c.add(await startRaw({
    onConnection: (socket) => {
      let answered = false;
      last = socket;
      socket.on('data', (data: Buffer) => {
        captured = Buffer.concat([captured, data]);
        const end = captured.indexOf('\r\n\r\n');
        if (!answered && end >= 0 && captured.length - (end + 4) >= bodyLength()) {
          answered = true;
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        }
      });
    },
  }));
  return {
    backend,
    /** Answers now (for a body whose length the test cannot know in advance). */
    answer: (): void => {
      last?.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    },
    head: (): string => captured.toString('latin1', 0, captured.indexOf('\r\n\r\n') + 4),
    body: (): Buffer => captured.subarray(captured.indexOf('\r\n\r\n') + 4),
  };
}

/** The head has exactly one framing line, `Transfer-Encoding: chunked`. */
function assertChunkedHead(head: string): void {
  assert.is(head.match(/\r\ntransfer-encoding:/gi)?.length, 1, 'one Transfer-Encoding line');
  assert.match(head, /\r\nTransfer-Encoding: chunked\r\n/, 'written by the proxy');
  assert.not.match(head, /\r\ncontent-length:/i, 'no Content-Length beside it');
}

/** The backend has the whole re-chunked body: the terminating chunk and trailer section arrived. */
const rechunkedComplete = (body: Buffer): boolean => body.includes('\r\n0\r\n') && body.subarray(-4).equals(Buffer.from('\r\n\r\n'));

test('a chunked request with chunk extensions and trailers reaches the backend re-chunked: the payload and trailer fields exact, no extensions (whole, and 1-byte pieces)', () => withCleanup(async (c) => {
  const fixture = loadFixture('requests', 'post-chunked-trailers.http');
  const fixtureBody = fixture.subarray(fixture.indexOf('\r\n\r\n') + 4);
  assert.ok(fixtureBody.includes(';name="quoted value";flag') && fixtureBody.includes('X-Checksum'), 'the fixture has extensions and trailers');
  const sent = dechunk(fixtureBody);
  for (const piece of [0, 1]) {
    let done = false;
    const cap = await capturingBackend(c, () => (done ? 0 : Number.MAX_SAFE_INTEGER));
    const { proxy, port } = await startProxy(c, [cap.backend]);
    const client = await connect(c, port);
    if (piece === 0) await client.write(fixture);
    else await client.writeInPieces(fixture, piece);
    await waitFor('the whole re-chunked body at the backend', () => rechunkedComplete(cap.body()));
    done = true;
    cap.answer();
    const res = await client.readResponse({ label: `pieces of ${piece}` });
    assert.is(res.status, 200);
    assert.is(res.body.toString(), 'ok');
    assertChunkedHead(cap.head());
    const got = dechunk(cap.body());
    assert.ok(got.payload.equals(sent.payload), `payload byte-exact (pieces of ${piece})`);
    assert.equal(got.trailers, sent.trailers, 'end-to-end trailer fields forwarded');
    assert.is(got.extensions, 0, 'chunk extensions are not forwarded');
    assert.is(got.rest.length, 0, 'nothing after the body');
    await waitForIdle(proxy);
  }
}));

test('a 256 KB chunked upload with an extension on every chunk, sent in random pieces, reaches the backend re-chunked with the payload and trailers exact', () => withCleanup(async (c) => {
  const rand = prng(0xc0ffee);
  const { framed, payload } = chunkedBody(256 * 1024, rand);
  let done = false;
  const cap = await capturingBackend(c, () => (done ? 0 : Number.MAX_SAFE_INTEGER));
  const { proxy, port } = await startProxy(c, [cap.backend]);
  const client = await connect(c, port);
  await client.write('POST /up HTTP/1.1\r\nHost: lb.test\r\nTransfer-Encoding: chunked\r\n\r\n');
  await writeSplit(client.socket, framed, 20_000, rand);
  await waitFor('the whole re-chunked body at the backend', () => rechunkedComplete(cap.body()), 10_000);
  done = true;
  cap.answer();
  const res = await client.readResponse({ timeoutMs: 10_000 });
  assert.is(res.status, 200);
  assertChunkedHead(cap.head());
  const got = dechunk(cap.body());
  assert.ok(got.payload.equals(payload), 'payload byte-exact');
  assert.equal(got.trailers, [['X-Checksum', 'abc123'], ['X-Count', '42']]);
  assert.is(got.extensions, 0);
  await waitForIdle(proxy);
}));

test('hop-by-hop and framing fields in a request\'s trailers never reach the backend; Connection: close there closes the client after its response, and the backend socket stays pooled', () => withCleanup(async (c) => {
  const [echo] = await echoBackends(c, 1);
  const { proxy, port } = await startProxy(c, [echo as EchoHandle]);
  const client = await connect(c, port);
  // (llhttp refuses Content-Length and Transfer-Encoding in trailers outright: 400, see bad-input.)
  await client.write('POST /t HTTP/1.1\r\nHost: lb.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n'
    + 'Connection: close\r\nHost: evil\r\nKeep-Alive: timeout=1\r\nTrailer: X-Kept\r\nX-Kept: yes\r\n\r\n');
  const res = await client.readResponse();
  assert.is(res.status, 200);
  const report = JSON.parse(res.body.toString()) as EchoReport;
  assert.equal(report.trailers, { 'x-kept': 'yes' }, 'only the end-to-end trailer field reached the backend');
  await client.waitForEnd(1_000);
  for (const path of ['/after-1', '/after-2']) {
    const next = await connect(c, port);
    await next.write(`GET ${path} HTTP/1.1\r\nHost: lb.test\r\n\r\n`);
    assert.is((await next.readResponse()).status, 200, path);
  }
  assert.is(echo?.stats().connections, 1, 'one backend socket carried all three requests');
  await waitForIdle(proxy);
}));

test('Connection: close in a response\'s trailers: that backend socket is not reused; the client never sees the field and keeps its connection', () => withCleanup(async (c) => {
  let requests = 0;
  const backend = c.add(await startRaw({
    onConnection: (socket) => {
      socket.on('data', () => {
        requests++;
        // Said in the trailers only; the socket stays open, so only the proxy's parser can tell.
        socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nConnection: close\r\n\r\n');
      });
    },
  }));
  const { proxy, port } = await startProxy(c, [backend]);
  const client = await connect(c, port);
  for (const path of ['/1', '/2', '/3']) {
    await client.write(`GET ${path} HTTP/1.1\r\nHost: lb.test\r\n\r\n`);
    const res = await client.readResponse({ label: path });
    assert.is(res.status, 200, path);
    assert.equal(dechunk(res.body).trailers, [], 'the Connection trailer field is not forwarded');
  }
  assert.not.ok(client.peerEnded, 'the client connection stays open');
  assert.is(requests, 3);
  assert.is(backend.connections(), 3, 'a new backend socket for every request');
  await waitForIdle(proxy);
}));

test('a chunked response (extensions, trailers, written in awkward pieces) reaches the client re-chunked with payload and trailers exact; the connection stays usable', () => withCleanup(async (c) => {
  const rand = prng(42);
  const small = Buffer.from('5;a=1\r\nhello\r\n1;b="x y"\r\n \r\n6\r\nworld!\r\n0;end\r\nX-Sum: 99\r\nX-Other: t\r\n\r\n');
  const { framed: large } = chunkedBody(512 * 1024, rand);
  const bodies = [small, large];
  let served = 0;
  const backend = c.add(await startRaw({
    onConnection: (socket) => {
      let seen = '';
      let chain = Promise.resolve();
      socket.on('data', (data: Buffer) => {
        seen += data.toString('latin1');
        for (let end = seen.indexOf('\r\n\r\n'); end >= 0; end = seen.indexOf('\r\n\r\n')) {
          seen = seen.slice(end + 4);
          const body = bodies[served++ % bodies.length] as Buffer;
          const response = Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/octet-stream\r\n\r\n'), body]);
          chain = chain.then(() => writeSplit(socket, response, body === small ? 3 : 30_000, rand)).catch(() => { socket.destroy(); });
        }
      });
    },
  }));
  const { proxy, port } = await startProxy(c, [backend]);
  const client = await connect(c, port);
  for (const [i, body] of [...bodies, small].entries()) {
    await client.write(`GET /chunked/${i} HTTP/1.1\r\nHost: lb.test\r\n\r\n`);
    const res = await client.readResponse({ label: `response ${i}`, timeoutMs: 10_000 });
    assert.is(res.status, 200);
    assert.is(headerValue(res, 'transfer-encoding'), 'chunked');
    const sent = dechunk(body);
    const got = dechunk(res.body);
    assert.ok(got.payload.equals(sent.payload), `response ${i}: payload byte-exact`);
    assert.equal(got.trailers, sent.trailers, `response ${i}: trailer fields`);
    assert.is(got.extensions, 0, `response ${i}: no chunk extensions`);
  }
  assert.not.ok(client.peerEnded);
  assert.is(backend.connections(), 1, 'one backend connection carried all three');
  await waitForIdle(proxy);
}));

// ---- backpressure and memory (proxy in a child process) ----

const BIG = 64 << 20;
/**
 * Allowed growth of the proxy's RSS over its warmed-up baseline while the body is held up (measured:
 * about 6 MiB; a proxy that buffered the body would grow by most of BIG).
 */
const MAX_STALL_GROWTH_KB = 20 * 1024;
/**
 * Allowed peak growth over the whole transfer. Measured about 30-40 MiB whatever the size (64 MiB to
 * 1 GiB: garbage Buffers awaiting GC), so this only catches buffering of the whole body.
 */
const MAX_PEAK_GROWTH_KB = BIG >> 10;

async function rawSocket(c: Cleanup, port: number): Promise<net.Socket> {
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ host: HOST, port });
    s.once('error', reject);
    s.once('connect', () => { s.off('error', reject); resolve(s); });
  });
  c.add({ close: () => socket.destroy() });
  return socket;
}

/** Calls `onHead(requestLine, reader)` for each request head on a backend connection, one at a time. */
function serveHeads(onHead: (line: string, head: string, reader: StreamReader) => Promise<void>): (socket: net.Socket) => void {
  return (socket) => {
    const reader = new StreamReader(socket);
    void (async () => {
      for (;;) {
        const head = await reader.readHead(60_000);
        await onHead(head.slice(0, head.indexOf('\r\n')), head, reader);
      }
    })().catch(() => socket.destroy());
  };
}

/** A small request through the proxy so the baseline RSS includes the parser, pools and JIT warm-up. */
async function warmUp(c: Cleanup, port: number): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const client = await connect(c, port);
    await client.write('GET /warm HTTP/1.1\r\nHost: lb.test\r\n\r\n');
    assert.is((await client.readResponse()).status, 200);
    client.close();
  }
}

test('a 64 MB download to a client that reads nothing for a while: the proxy does not buffer it, then it all arrives intact', () => withCleanup(async (c) => {
  const pattern = new Pattern(BIG);
  const expected = pattern.sha256();
  let progress: WriteProgress | null = null;
  const backend = c.add(await startRaw({
    onConnection: serveHeads(async (line, _head, reader) => {
      if (line.startsWith('GET /warm ')) {
        reader.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        return;
      }
      progress = new WriteProgress(reader.socket);
      await writePattern(reader.socket, Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${BIG}\r\n\r\n`), pattern, progress);
    }),
  }));
  const proxy = c.add(await spawnProxy(['--backend', `${HOST}:${backend.port}`]));
  await warmUp(c, proxy.port);
  const baseline = proxy.rssKb();

  const socket = await rawSocket(c, proxy.port);
  const reader = new StreamReader(socket);
  reader.hold(); // read nothing
  socket.write('GET /big HTTP/1.1\r\nHost: lb.test\r\n\r\n');
  await waitFor('the backend to start sending', () => progress !== null, 5_000);
  const stalledAt = await waitForStall(() => progress?.sent ?? 0, () => progress?.done ?? false, 400, 20_000);
  const stalledRss = proxy.rssKb();
  assert.ok(stalledAt < BIG, `the backend was held back by backpressure (it sent ${stalledAt} of ${BIG} bytes while the client read nothing)`);
  assert.ok(stalledRss - baseline < MAX_STALL_GROWTH_KB,
    `proxy RSS grew by ${stalledRss - baseline} KiB while ${stalledAt >> 20} MiB sat unread (baseline ${baseline} KiB)`);

  reader.release();
  const head = await reader.readHead(5_000);
  assert.match(head, /^HTTP\/1\.1 200 /);
  assert.is(headField(head, 'content-length'), String(BIG));
  assert.is(await reader.readBody(BIG, 30_000), expected, '64 MB intact and in order');
  const peak = proxy.peakKb();
  assert.ok(peak - baseline < MAX_PEAK_GROWTH_KB, `proxy peak RSS ${peak} KiB is ${peak - baseline} KiB over its baseline ${baseline} KiB`);
}));

test('a 64 MB upload to a backend that reads nothing for a while: the proxy does not buffer it, then it all arrives intact', () => withCleanup(async (c) => {
  const pattern = new Pattern(BIG);
  const expected = pattern.sha256();
  let bigReader: StreamReader | null = null;
  let goOn: () => void = () => {};
  const released = new Promise<void>((resolve) => { goOn = resolve; });
  const backend = c.add(await startRaw({
    onConnection: serveHeads(async (line, head, reader) => {
      if (line.startsWith('GET /warm ')) {
        reader.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        return;
      }
      reader.hold();
      bigReader = reader;
      await released;
      reader.release();
      const sha = await reader.readBody(Number(headField(head, 'content-length')), 30_000);
      reader.socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${sha.length}\r\n\r\n${sha}`);
    }),
  }));
  const proxy = c.add(await spawnProxy(['--backend', `${HOST}:${backend.port}`]));
  await warmUp(c, proxy.port);
  const baseline = proxy.rssKb();

  const socket = await rawSocket(c, proxy.port);
  const reader = new StreamReader(socket);
  const progress = new WriteProgress(socket);
  const uploading = writePattern(socket, Buffer.from(`POST /big HTTP/1.1\r\nHost: lb.test\r\nContent-Length: ${BIG}\r\n\r\n`), pattern, progress);
  uploading.catch(() => {}); // awaited below; a failure must not go unhandled meanwhile
  await waitFor('the upload head to reach the backend', () => bigReader !== null, 5_000);
  const stalledAt = await waitForStall(() => progress.sent, () => progress.done, 400, 20_000);
  const stalledRss = proxy.rssKb();
  assert.ok(stalledAt < BIG, `the client was held back by backpressure (it sent ${stalledAt} of ${BIG} bytes while the backend read nothing)`);
  assert.ok(stalledRss - baseline < MAX_STALL_GROWTH_KB,
    `proxy RSS grew by ${stalledRss - baseline} KiB while ${stalledAt >> 20} MiB waited for the backend (baseline ${baseline} KiB)`);

  goOn();
  await uploading;
  const head = await reader.readHead(30_000);
  assert.match(head, /^HTTP\/1\.1 200 /);
  const got = await reader.readExactly(Number(headField(head, 'content-length')), 5_000);
  assert.is(got.toString('latin1'), expected, 'the backend received the 64 MB intact and in order');
  const peak = proxy.peakKb();
  assert.ok(peak - baseline < MAX_PEAK_GROWTH_KB, `proxy peak RSS ${peak} KiB is ${peak - baseline} KiB over its baseline ${baseline} KiB`);
}));

test.run();
