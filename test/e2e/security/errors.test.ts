/**
 * End-to-end: bad requests are refused by the proxy (the backend sees nothing), backend failures
 * become 502/504 or a cut connection, and pending counts come back to zero either way.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeImmediately, closeMidBody, hangForever, sendGarbage, startRaw, type RawBehaviour } from '../../../backends/raw.js';
import { assertErrorResponse } from '../../kit/error-response.js';
import { closedPort, connect, echoBackends, startProxy, waitForIdle, withCleanup, type Cleanup } from '../../kit/harness.js';

const GET = 'GET / HTTP/1.1\r\nHost: lb.test\r\n\r\n';

const MALFORMED: [string, string][] = [
  ['a header line without a colon', 'GET / HTTP/1.1\r\nHost: lb.test\r\nNo colon here\r\n\r\n'],
  ['whitespace before the colon', 'GET / HTTP/1.1\r\nHost : lb.test\r\n\r\n'],
  ['HTTP/1.1 without Host', 'GET / HTTP/1.1\r\nAccept: */*\r\n\r\n'],
  ['Content-Length and Transfer-Encoding together', 'POST / HTTP/1.1\r\nHost: lb.test\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['two different Content-Length values', 'POST / HTTP/1.1\r\nHost: lb.test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab'],
  ['a control byte in the URL', 'GET /a\x01b HTTP/1.1\r\nHost: lb.test\r\n\r\n'],
  ['a broken version', 'GET / HTTP/1.x\r\nHost: lb.test\r\n\r\n'],
  ['bare LF line endings', 'GET / HTTP/1.1\nHost: lb.test\n\n'],
  ['an obs-folded header', 'GET / HTTP/1.1\r\nHost: lb.test\r\nX-Folded: a\r\n  b\r\n\r\n'],
  ['a Content-Length that is not a number', 'POST / HTTP/1.1\r\nHost: lb.test\r\nContent-Length: 12a\r\n\r\n'],
];

test('malformed requests get 400 and a close, and the backend sees nothing', () => withCleanup(async (c) => {
  const [echo] = await echoBackends(c, 1);
  assert.ok(echo !== undefined);
  const { proxy, port } = await startProxy(c, [echo]);
  for (const [what, bytes] of MALFORMED) {
    const client = await connect(c, port);
    await client.write(bytes);
    const res = await client.readResponse({ label: what });
    assertErrorResponse(res, 400, what);
    await client.waitForEnd();
    assert.is(client.unreadBytes().length, 0, `${what}: nothing after the 400`);
    client.close();
  }
  assert.equal(echo.stats(), { requests: 0, connections: 0 }, 'the backend saw nothing');
  assert.is(proxy.stats().workers[0]?.dialled, 0);
}));

async function refusedWith(c: Cleanup, cases: [string, string, number][]): Promise<void> {
  const [echo] = await echoBackends(c, 1);
  assert.ok(echo !== undefined);
  const { port } = await startProxy(c, [echo], { maxHeadBytes: 1024 });
  for (const [what, bytes, status] of cases) {
    const client = await connect(c, port);
    await client.write(bytes);
    assertErrorResponse(await client.readResponse({ label: what }), status, what);
    await client.waitForEnd();
    client.close();
  }
  assert.equal(echo.stats(), { requests: 0, connections: 0 }, 'the backend saw nothing');
}

test('a head over maxHeadBytes gets 431; an unknown method or CONNECT gets 501; then a close', () => withCleanup((c) => refusedWith(c, [
  ['a 2 KB header', `GET / HTTP/1.1\r\nHost: lb.test\r\nX-Big: ${'b'.repeat(2048)}\r\n\r\n`, 431],
  ['an unknown method', 'FROB / HTTP/1.1\r\nHost: lb.test\r\n\r\n', 501],
  ['CONNECT', 'CONNECT lb.test:443 HTTP/1.1\r\nHost: lb.test:443\r\n\r\n', 501],
])));

test('a request line over maxHeadBytes (one write, headers included) gets 414 and a close', () => withCleanup((c) => refusedWith(c, [
  ['a 2 KB URL', `GET /${'u'.repeat(2048)} HTTP/1.1\r\nHost: lb.test\r\n\r\n`, 414],
])));

test('a malformed chunked body after a valid head: 400 and a close promptly, pending back to zero', () => withCleanup(async (c) => {
  const [echo] = await echoBackends(c, 1);
  assert.ok(echo !== undefined);
  const { proxy, port } = await startProxy(c, [echo]);
  const client = await connect(c, port);
  await client.write('POST /chunks HTTP/1.1\r\nHost: lb.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n');
  const res = await client.readResponse({ label: 'the answer to a bad chunk size', timeoutMs: 2_000 });
  assertErrorResponse(res, 400, 'bad chunk size');
  await client.waitForEnd();
  await waitForIdle(proxy);
}));

test('the only backend refuses connections: 502 and a close', () => withCleanup(async (c) => {
  const dead = await closedPort();
  const { proxy, port } = await startProxy(c, [{ port: dead }]);
  const client = await connect(c, port);
  await client.write(GET);
  assertErrorResponse(await client.readResponse(), 502, 'refused backend');
  await client.waitForEnd();
  await waitForIdle(proxy);
  const worker = proxy.stats().workers[0];
  assert.is(worker?.failed, 1);
  assert.is(worker?.open, 0);
}));

/** One request to a proxy whose only backend behaves as `behaviour`; returns the proxy and client. */
async function oneRequest(c: Cleanup, behaviour: RawBehaviour, responseTimeoutMs = 60_000) {
  const backend = c.add(await startRaw({ onConnection: behaviour }));
  const started = await startProxy(c, [backend], { responseTimeoutMs });
  const client = await connect(c, started.port);
  await client.write(GET);
  return { ...started, client, backend };
}

test('a backend that closes at once, or answers garbage: 502 and a close', () => withCleanup(async (c) => {
  for (const [what, behaviour] of [['closes at once', closeImmediately], ['sends garbage', sendGarbage]] as const) {
    const { proxy, client } = await oneRequest(c, behaviour);
    assertErrorResponse(await client.readResponse({ label: what }), 502, what);
    await client.waitForEnd();
    await waitForIdle(proxy);
    assert.is(proxy.stats().workers[0]?.failed, 1, `${what}: counted as failed`);
  }
}));

test('a backend that never answers: 504 after responseTimeoutMs', () => withCleanup(async (c) => {
  const { proxy, client } = await oneRequest(c, hangForever, 200);
  const started = Date.now();
  assertErrorResponse(await client.readResponse({ timeoutMs: 3_000 }), 504, 'silent backend');
  assert.ok(Date.now() - started >= 150, 'not before the timeout');
  await client.waitForEnd();
  await waitForIdle(proxy);
}));

test('a backend that dies mid-body: the client connection is cut, never left looking complete', () => withCleanup(async (c) => {
  const { proxy, client } = await oneRequest(c, closeMidBody);
  let error: unknown = null;
  try {
    await client.readResponse();
  } catch (err) {
    error = err;
  }
  assert.instance(error, Error);
  assert.match((error as Error).message, /closed mid-response \(status 200, 10 body bytes\)/);
  await waitForIdle(proxy);
  assert.is(proxy.stats().workers[0]?.failed, 1);
}));

test.run();
