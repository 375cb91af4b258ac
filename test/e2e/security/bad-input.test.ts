/**
 * End-to-end: bad input is refused with the right status and a close, and the backend never sees a
 * request the client did not send. Complements errors.test.ts (which has the first malformed heads,
 * 431/414 in one write, 501 for an unknown method): the fixtures under fixtures/requests/bad, unknown
 * transfer codings, control bytes in header values, request-line shapes, Host rules, limits crossed
 * across many reads, 413 for Content-Length and chunked bodies, and a client that half-closes mid-body.
 */
import { test } from 'uvu';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { loadBadFixtures } from '../../kit/fixtures.js';
import { headerValue, type RawClient, type RawResponse } from '../../kit/raw-client.js';
import { connect, echoBackends, startProxy, waitFor, waitForIdle, withCleanup, type Cleanup } from '../../kit/harness.js';
import type { EchoHandle } from '../../../backends/echo.js';
import type { Server } from '../../../src/server.js';
import type { ProxyOptions } from '../../../src/options/options.js';

function assertRefused(res: RawResponse, status: number, what: string): void {
  assert.is(res.status, status, `${what}: status (body ${JSON.stringify(res.body.toString())})`);
  assert.is(headerValue(res, 'connection')?.toLowerCase(), 'close', `${what}: Connection: close`);
  assert.not.ok(res.keepAlive, `${what}: not keep-alive`);
}

interface Setup {
  echo: EchoHandle;
  proxy: Server;
  port: number;
}

async function setup(c: Cleanup, overrides: Partial<ProxyOptions> = {}): Promise<Setup> {
  const [echo] = await echoBackends(c, 1);
  assert.ok(echo !== undefined);
  const { proxy, port } = await startProxy(c, [echo], overrides);
  return { echo, proxy, port };
}

/** Writes `bytes` in `piece`-byte writes, stopping quietly once the proxy has answered and closed. */
async function writeUntilClosed(client: RawClient, bytes: string | Buffer, piece: number): Promise<void> {
  const all = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
  for (let at = 0; at < all.length && !client.peerEnded; at += piece) {
    try {
      await client.write(all.subarray(at, at + piece));
    } catch {
      return; // the proxy refused and closed before the rest was sent
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/**
 * Sends each case on its own connection (in `piece`-byte writes if given) and checks it gets
 * `status` then a close, with nothing after; at the end no request reached the backend complete
 * and every pending count is back to zero.
 */
async function refuseAll(c: Cleanup, s: Setup, cases: readonly (readonly [string, string | Buffer, number])[], piece = 0): Promise<void> {
  for (const [what, bytes, status] of cases) {
    const client = await connect(c, s.port);
    if (piece > 0) await writeUntilClosed(client, bytes, piece);
    else await client.write(bytes);
    assertRefused(await client.readResponse({ label: what }), status, what);
    await client.waitForEnd();
    assert.is(client.unreadBytes().length, 0, `${what}: nothing after the error response`);
    client.close();
  }
  assert.is(s.echo.completed(), 0, 'no request reached the backend complete');
  await waitForIdle(s.proxy);
}

test('every fixture under fixtures/requests/bad: 400 and a close, whole and byte by byte', () => withCleanup(async (c) => {
  const s = await setup(c);
  // bad-method.http is `G@T`: not a method token, so a malformed request line (400), not an unknown method (501).
  const cases = loadBadFixtures().map((f) => [f.name, f.bytes, 400] as const);
  assert.ok(cases.length >= 13, 'the fixtures were found');
  await refuseAll(c, s, cases);
  await refuseAll(c, s, cases, 1);
  // Only invalid-chunk-size has a valid head, so only its head may have been forwarded (then cut).
  assert.ok(s.echo.stats().requests <= 2, `heads forwarded: ${s.echo.stats().requests}`);
}));

test('transfer codings: chunked not last or alone-unknown is 400; an unknown coding before chunked is 501', () => withCleanup(async (c) => {
  const s = await setup(c);
  const post = (te: string): string => `POST / HTTP/1.1\r\nHost: lb.test\r\nTransfer-Encoding: ${te}\r\n\r\n0\r\n\r\n`;
  await refuseAll(c, s, [
    ['Transfer-Encoding: gzip (chunked missing)', post('gzip'), 400],
    ['Transfer-Encoding: chunked, gzip', post('chunked, gzip'), 400],
    ['Transfer-Encoding: chunked twice as headers then gzip', 'POST / HTTP/1.1\r\nHost: lb.test\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n', 400],
  ]);
  await refuseAll(c, s, [
    ['Transfer-Encoding: bogus, chunked', post('bogus, chunked'), 501],
    ['Transfer-Encoding: x-custom, chunked', post('x-custom, chunked'), 501],
  ]);
  assert.is(s.echo.stats().requests, 0, 'the backend saw nothing');
}));

test('Content-Length smuggling shapes: TE then CL, a CL list, signed or huge CL: 400 and the backend sees nothing', () => withCleanup(async (c) => {
  const s = await setup(c);
  await refuseAll(c, s, [
    ['Transfer-Encoding then Content-Length', 'POST / HTTP/1.1\r\nHost: lb.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n', 400],
    ['Content-Length: 5, 6', 'POST / HTTP/1.1\r\nHost: lb.test\r\nContent-Length: 5, 6\r\n\r\nabcdef', 400],
    ['Content-Length: +5', 'POST / HTTP/1.1\r\nHost: lb.test\r\nContent-Length: +5\r\n\r\nabcde', 400],
    ['Content-Length: -1', 'POST / HTTP/1.1\r\nHost: lb.test\r\nContent-Length: -1\r\n\r\n', 400],
    ['a Content-Length beyond 2^64', 'POST / HTTP/1.1\r\nHost: lb.test\r\nContent-Length: 99999999999999999999999\r\n\r\n', 400],
  ]);
  assert.is(s.echo.stats().requests, 0, 'the backend saw nothing');
}));

test('bad chunked bodies after a valid head: 400, and the backend never gets a complete request', () => withCleanup(async (c) => {
  const s = await setup(c);
  const head = 'POST /c HTTP/1.1\r\nHost: lb.test\r\nTransfer-Encoding: chunked\r\n\r\n';
  await refuseAll(c, s, [
    ['a chunk size that overflows', `${head}fffffffffffffffffff\r\nx\r\n0\r\n\r\n`, 400],
    ['chunk data longer than its size', `${head}3\r\nabcdef\r\n0\r\n\r\n`, 400],
    ['a chunk size with a space before CRLF', `${head}3 \r\nabc\r\n0\r\n\r\n`, 400],
    ['a bare LF after the chunk size', `${head}3\nabc\r\n0\r\n\r\n`, 400],
  ]);
}));

test('control bytes in a header value or name: 400 and a close, the backend sees nothing', () => withCleanup(async (c) => {
  const s = await setup(c);
  const get = (line: string): string => `GET / HTTP/1.1\r\nHost: lb.test\r\n${line}\r\n\r\n`;
  await refuseAll(c, s, [
    ['NUL in a value', get('X-Bad: a\x00b'), 400],
    ['0x01 in a value', get('X-Bad: a\x01b'), 400],
    ['DEL in a value', get('X-Bad: a\x7fb'), 400],
    ['a bare CR in a value', get('X-Bad: a\rb'), 400],
    ['ESC in a value', get('X-Bad: \x1b[31mred'), 400],
    ['a control byte in a name', get('X-B\x01d: v'), 400],
    ['a space inside a name', get('X Bad: v'), 400],
    ['an empty name', get(': v'), 400],
  ]);
  assert.is(s.echo.stats().requests, 0);
}));

test('malformed request lines: 400 (501 for an unknown method) and a close', () => withCleanup(async (c) => {
  const s = await setup(c);
  await refuseAll(c, s, [
    ['a space inside the target', 'GET /a b HTTP/1.1\r\nHost: lb.test\r\n\r\n', 400],
    ['no target', 'GET HTTP/1.1\r\nHost: lb.test\r\n\r\n', 400],
    ['a lower-case protocol name', 'GET / http/1.1\r\nHost: lb.test\r\n\r\n', 400],
    // Not `token SP`: a malformed request line (RFC 9112 §3), not an unknown method.
    ['a tab instead of a space', 'GET\t/ HTTP/1.1\r\nHost: lb.test\r\n\r\n', 400],
    ['trailing garbage after the version', 'GET / HTTP/1.1 x\r\nHost: lb.test\r\n\r\n', 400],
    ['a method the proxy does not know', 'BREW /pot HTTP/1.1\r\nHost: lb.test\r\n\r\n', 501],
  ]);
  assert.is(s.echo.stats().requests, 0);
}));

test('a request line without a version (HTTP/0.9), or HTTP/0.9 or HTTP/2.0 spelt out: refused (400 or 505), never forwarded as HTTP/1.1', () => withCleanup(async (c) => {
  // llhttp accepts these (as versions 0.9 and 2.0); the proxy must not turn them into HTTP/1.1.
  const s = await setup(c);
  for (const [what, bytes] of [
    ['GET / with no version, then a Host', 'GET /\r\nHost: lb.test\r\n\r\n'],
    ['GET / with no version and no headers', 'GET /\r\n\r\n'],
    ['HTTP/0.9', 'GET / HTTP/0.9\r\nHost: lb.test\r\n\r\n'],
    ['HTTP/2.0 (no Host)', 'GET / HTTP/2.0\r\n\r\n'],
    ['HTTP/2.0 with a Host', 'GET / HTTP/2.0\r\nHost: lb.test\r\n\r\n'],
  ] as const) {
    const client = await connect(c, s.port);
    await client.write(bytes);
    let res: RawResponse | null = null;
    try {
      res = await client.readResponse({ label: what });
    } catch {
      // a bare close is a refusal too
    }
    if (res !== null) assert.ok(res.status === 400 || res.status === 505, `${what}: got ${res.status}, body ${JSON.stringify(res.body.toString())}`);
    await client.waitForEnd();
    client.close();
  }
  assert.is(s.echo.stats().requests, 0, 'none reached the backend');
  await waitForIdle(s.proxy);
}));

test('Host: two Host headers (equal or not, 1.1 or 1.0) or none on 1.1: 400 and a close', () => withCleanup(async (c) => {
  const s = await setup(c);
  await refuseAll(c, s, [
    ['two different Host headers', 'GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n', 400],
    ['two equal Host headers', 'GET / HTTP/1.1\r\nHost: a.test\r\nHost: a.test\r\n\r\n', 400],
    ['two Host headers on HTTP/1.0', 'GET / HTTP/1.0\r\nHost: a.test\r\nHost: b.test\r\n\r\n', 400],
    ['two Host headers, the second after others', 'GET / HTTP/1.1\r\nhost: a.test\r\nAccept: */*\r\nHOST: b.test\r\n\r\n', 400],
    ['no Host on HTTP/1.1 (with other headers)', 'GET / HTTP/1.1\r\nAccept: */*\r\nX-Host: a.test\r\n\r\n', 400],
    ['no headers at all on HTTP/1.1', 'GET / HTTP/1.1\r\n\r\n', 400],
  ]);
  assert.is(s.echo.stats().requests, 0);
}));

test('limits crossed across many small reads: 431 for headers, 414 for the target', () => withCleanup(async (c) => {
  const s = await setup(c, { maxHeadBytes: 1024 });
  const many = Array.from({ length: 40 }, (_, i) => `X-H${i}: ${'v'.repeat(30)}\r\n`).join('');
  await refuseAll(c, s, [
    ['40 headers, 1.5 KB in all', `GET / HTTP/1.1\r\nHost: lb.test\r\n${many}\r\n`, 431],
    ['one long header value', `GET / HTTP/1.1\r\nHost: lb.test\r\nX-Big: ${'b'.repeat(1500)}\r\n\r\n`, 431],
  ], 64);
  await refuseAll(c, s, [
    ['a 1.5 KB target', `GET /${'u'.repeat(1500)} HTTP/1.1\r\nHost: lb.test\r\n\r\n`, 414],
  ], 64);
  assert.is(s.echo.stats().requests, 0);
}));

test('a head exactly at maxHeadBytes is served; one byte more is refused', () => withCleanup(async (c) => {
  const s = await setup(c, { maxHeadBytes: 512 });
  const headOf = (size: number): string => {
    const base = 'GET / HTTP/1.1\r\nHost: lb.test\r\nX-Pad: \r\n\r\n';
    return base.replace('X-Pad: ', `X-Pad: ${'p'.repeat(size - base.length)}`);
  };
  const client = await connect(c, s.port);
  await client.write(headOf(512));
  const ok = await client.readResponse();
  assert.is(ok.status, 200, 'a 512-byte head with maxHeadBytes 512');
  await client.write(headOf(513));
  assertRefused(await client.readResponse(), 431, 'a 513-byte head');
  await client.waitForEnd();
  assert.is(s.echo.completed(), 1);
  await waitForIdle(s.proxy);
}));

test('a body over maxBodyBytes: 413 at once for Content-Length (the backend sees nothing); at the limit it is served', () => withCleanup(async (c) => {
  const s = await setup(c, { maxBodyBytes: 1000 });
  const client = await connect(c, s.port);
  await client.write(`POST /at-limit HTTP/1.1\r\nHost: lb.test\r\nContent-Length: 1000\r\n\r\n${'a'.repeat(1000)}`);
  assert.is((await client.readResponse()).status, 200, 'exactly maxBodyBytes');
  client.close();
  const before = s.echo.stats().requests;
  const over = await connect(c, s.port);
  // Only the head is sent: the answer must not wait for a body that is refused anyway.
  await over.write('POST /over HTTP/1.1\r\nHost: lb.test\r\nContent-Length: 1001\r\n\r\n');
  assertRefused(await over.readResponse({ timeoutMs: 2_000 }), 413, 'Content-Length 1001');
  await over.waitForEnd();
  assert.is(s.echo.stats().requests, before, 'the refused request never reached the backend');
  await waitForIdle(s.proxy);
}));

test('a chunked body whose payload is exactly maxBodyBytes is served (chunk framing is not payload)', () => withCleanup(async (c) => {
  const s = await setup(c, { maxBodyBytes: 1000 });
  const client = await connect(c, s.port);
  await client.write(`POST /chunked HTTP/1.1\r\nHost: lb.test\r\nTransfer-Encoding: chunked\r\n\r\n1f4\r\n${'a'.repeat(500)}\r\n1f4;ext=1\r\n${'b'.repeat(500)}\r\n0\r\n\r\n`);
  const res = await client.readResponse();
  assert.is(res.status, 200, '1000 payload bytes in two chunks with maxBodyBytes 1000');
  assert.match(res.body.toString(), /"bodyLength":1000/);
  await waitForIdle(s.proxy);
}));

test('a chunked body over maxBodyBytes: 413 when crossed, and the backend never gets it complete', () => withCleanup(async (c) => {
  const s = await setup(c, { maxBodyBytes: 1000 });
  const over = await connect(c, s.port);
  await over.write(`POST /chunked HTTP/1.1\r\nHost: lb.test\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n${'a'.repeat(1000)}\r\n1\r\nc\r\n`);
  assertRefused(await over.readResponse({ timeoutMs: 2_000 }), 413, 'chunked, 1001 bytes');
  await over.waitForEnd();
  await waitForIdle(s.proxy);
  assert.is(s.echo.completed(), 0, 'the over-limit request never reached the backend complete');
  assert.is(s.proxy.stats().workers[0]?.failed, 0, 'a client error is not blamed on the backend');
}));

test('Expect: 100-continue, then a chunked body over maxBodyBytes: the client that waited for 100 Continue still gets its 413, and the access log one line', () => withCleanup(async (c) => {
  const dir = mkdtempSync(join(tmpdir(), 'chanlb-413-'));
  c.add({ close: () => rmSync(dir, { recursive: true, force: true }) });
  const file = join(dir, 'access.log');
  const s = await setup(c, { maxBodyBytes: 64 * 1024, accessLog: 'json', accessLogFile: file });
  const client = await connect(c, s.port);
  await client.write('PUT /upload HTTP/1.1\r\nHost: lb.test\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n');
  const interim = await client.readResponse({ label: '100 Continue from the backend' });
  assert.is(interim.status, 100);
  // As curl does: the whole body after the 100, far past the limit, without waiting for an answer.
  const piece = `4000\r\n${'x'.repeat(0x4000)}\r\n`;
  await writeUntilClosed(client, piece.repeat(64), piece.length);
  const res = await client.readResponse({ label: 'the 413 after the 100', timeoutMs: 5_000 });
  assertRefused(res, 413, 'chunked past the limit after 100 Continue');
  await client.waitForEnd();
  assert.is(client.error, null, 'closed gracefully, not reset');
  await waitForIdle(s.proxy);
  await s.proxy.close(); // flushes the log
  const lines = readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { status: number; method: string; target: string });
  assert.equal(lines.map((l) => [l.status, l.method, l.target]), [[413, 'PUT', '/upload']], 'one line for the request, with its status');
}));

test('a client that half-closes mid-body: the exchange ends promptly and the backend is not blamed (nor ejected)', () => withCleanup(async (c) => {
  const s = await setup(c, { responseTimeoutMs: 2_000, failuresToEject: 3 });
  const started = Date.now();
  const clients = await Promise.all(Array.from({ length: 3 }, async (_, i) => {
    const client = await connect(c, s.port);
    client.socket.end(`POST /cut${i} HTTP/1.1\r\nHost: lb.test\r\nContent-Length: 100\r\n\r\nonly 16 bytes...`);
    return client;
  }));
  for (const client of clients) {
    await client.waitForEnd(3_000);
    const rest = client.unreadBytes().toString('latin1');
    assert.ok(rest === '' || /^HTTP\/1\.1 4\d\d /.test(rest), `nothing, or a 4xx, for a request the client cut off: ${JSON.stringify(rest)}`);
  }
  const took = Date.now() - started;
  assert.ok(took < 1_000, `closed ${took} ms after the half-close (responseTimeoutMs is 2000): the request can never complete`);
  await waitForIdle(s.proxy);
  const worker = s.proxy.stats().workers[0];
  assert.is(worker?.failed, 0, 'a truncated upload is the client\'s fault, not the backend\'s');
  assert.is(worker?.ejected, false);
  assert.is(s.echo.completed(), 0);
  await waitFor('the cut exchanges to free their backend sockets', () => (s.proxy.stats().workers[0]?.open ?? 1) === (s.proxy.stats().workers[0]?.idle ?? 0), 2_000);
  // The backend still serves.
  const client = await connect(c, s.port);
  await client.write('GET /after HTTP/1.1\r\nHost: lb.test\r\n\r\n');
  assert.is((await client.readResponse()).status, 200);
}));

test('a body that looks like a request stays a body: the backend gets one request with it, never a second', () => withCleanup(async (c) => {
  const s = await setup(c);
  const inner = 'GET /smuggled HTTP/1.1\r\nHost: lb.test\r\n\r\n';
  const client = await connect(c, s.port);
  await client.write(`POST /outer HTTP/1.1\r\nHost: lb.test\r\nContent-Length: ${inner.length}\r\n\r\n${inner}`);
  const res = await client.readResponse();
  assert.is(res.status, 200);
  assert.match(res.body.toString(), /"url":"\/outer"/);
  assert.match(res.body.toString(), new RegExp(`"bodyLength":${inner.length}`));
  await client.write(`POST /chunked HTTP/1.1\r\nHost: lb.test\r\nTransfer-Encoding: chunked\r\n\r\n${inner.length.toString(16)}\r\n${inner}\r\n0\r\n\r\n`);
  assert.match((await client.readResponse()).body.toString(), /"url":"\/chunked"/);
  assert.is(s.echo.stats().requests, 2);
  assert.is(client.unreadBytes().length, 0);
  await waitForIdle(s.proxy);
}));

test.run();
