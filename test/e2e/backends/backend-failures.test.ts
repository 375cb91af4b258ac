/**
 * Issue #3, failure handling end to end: connect and response timeouts, refused and broken
 * backends, passive health (ejection, cool-down, 503 when none is left), the keep-alive reuse race
 * and its retry rule, and client aborts mid-upload and mid-download. After each, pending counts
 * return to zero and no backend socket is left busy. (security/errors.test.ts has the first cases of
 * refused, closing, garbage, silent and mid-body backends; these extend them.)
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type * as net from 'node:net';
import type { EchoReport } from '../../../backends/echo.js';
import { startHello } from '../../../backends/hello.js';
import { startRaw, type RawBehaviour, type RawHandle } from '../../../backends/raw.js';
import type { Server } from '../../../src/server.js';
import { GET, headerValue, type RawResponse } from '../../kit/raw-client.js';
import { dechunk } from '../../kit/chunked.js';
import { assertErrorResponse } from '../../kit/error-response.js';
import {
  closedPort, connect, echoBackends, helloBackends, sleep, startProxy, waitFor, waitForIdle, withCleanup, type Cleanup,
} from '../../kit/harness.js';
import { okResponse, onRequests, type SeenRequest } from '../../kit/raw-requests.js';
import { unacceptingPort } from '../../kit/unaccepting.js';

/** A raw backend that also counts the sockets it saw close. */
interface Tracked {
  backend: RawHandle;
  /** Accepted sockets that have closed. */
  closed(): number;
  /** Accepted sockets still open. */
  open(): number;
}

async function tracked(c: Cleanup, behaviour: RawBehaviour): Promise<Tracked> {
  let closed = 0;
  const backend = c.add(await startRaw({
    onConnection: (socket, index) => {
      socket.once('close', () => closed++);
      behaviour(socket, index);
    },
  }));
  return { backend, closed: () => closed, open: () => backend.connections() - closed };
}

/** One request on a fresh connection; returns the response and how long it took. */
async function request(c: Cleanup, port: number, bytes: string, timeoutMs = 3_000): Promise<{ res: RawResponse; ms: number }> {
  const client = await connect(c, port);
  const started = Date.now();
  await client.write(bytes);
  const res = await client.readResponse({ timeoutMs });
  const ms = Date.now() - started;
  if (!res.keepAlive) await client.waitForEnd(1_000);
  client.close();
  return { res, ms };
}

/** Reads a response that must be cut: returns the error message. */
async function expectCut(read: Promise<RawResponse>): Promise<string> {
  try {
    const res = await read;
    assert.unreachable(`a complete-looking ${res.status} response (${res.body.length} body bytes) instead of a cut`);
  } catch (err) {
    if (err instanceof assert.Assertion) throw err;
    return (err as Error).message;
  }
  return '';
}

function worker(proxy: Server, i = 0) {
  const w = proxy.stats().workers[i];
  assert.ok(w !== undefined, `worker ${i}`);
  return w as NonNullable<typeof w>;
}

/** Pending back to zero, and every backend socket still open is an idle pooled one. */
async function assertSettled(proxy: Server): Promise<void> {
  await waitForIdle(proxy);
  await waitFor('no busy backend socket', () => proxy.stats().workers.every((w) => w.open === w.idle), 2_000,
    () => JSON.stringify(proxy.stats().workers));
}

// ---- connect ----

test('--connect-timeout: a backend that never completes the handshake gets 502 within about the timeout', () => withCleanup(async (c) => {
  const hole = c.add(await unacceptingPort());
  const { proxy, port } = await startProxy(c, [hole], { connectTimeoutMs: 200 });
  const { res, ms } = await request(c, port, GET('/hole'));
  assertErrorResponse(res, 502, 'connect timeout');
  assert.ok(ms >= 150 && ms < 1_000, `502 after ${ms} ms (connect timeout 200 ms)`);
  await assertSettled(proxy);
  assert.is(worker(proxy).failed, 1);
  assert.is(worker(proxy).open, 0, 'the half-open socket is destroyed');
}));

test('a refused backend gets 502 fast (well under a second), every time', () => withCleanup(async (c) => {
  const dead = await closedPort();
  const { proxy, port } = await startProxy(c, [{ port: dead }], { failuresToEject: 100 });
  for (let i = 0; i < 5; i++) {
    const { res, ms } = await request(c, port, GET(`/refused${i}`));
    assertErrorResponse(res, 502, `refused ${i}`);
    assert.ok(ms < 500, `502 after ${ms} ms`);
  }
  await assertSettled(proxy);
  assert.is(worker(proxy).failed, 5);
  assert.is(worker(proxy).open, 0);
}));

// ---- broken responses ----

async function closesBefore(c: Cleanup, cases: [string, RawBehaviour][]): Promise<void> {
  for (const [what, behaviour] of cases) {
    const { backend, closed } = await tracked(c, behaviour);
    const { proxy, port } = await startProxy(c, [backend.server.address() as net.AddressInfo]);
    const { res } = await request(c, port, GET('/x'));
    assertErrorResponse(res, 502, what);
    await assertSettled(proxy);
    assert.is(worker(proxy).failed, 1, `${what}: counted as a failure`);
    assert.is(backend.connections(), 1, `${what}: a fresh socket is not retried`);
    await waitFor(`${what}: the backend socket closed`, () => closed() === 1, 1_000);
  }
}

test('a backend that closes after reading the request, before any response byte: 502 (FIN or reset)', () => withCleanup((c) => closesBefore(c, [
  ['ends (FIN)', (socket) => onRequests(socket, () => socket.end())],
  ['resets', (socket) => onRequests(socket, () => socket.resetAndDestroy())],
])));

test('a backend that sends part of a response head and closes: a clean 502, none of its bytes relayed', () => withCleanup((c) => closesBefore(c, [
  ['half a status line, then FIN', (socket) => onRequests(socket, () => socket.end('HTTP/1.1 200 O'))],
  ['a head without its blank line, then FIN', (socket) => onRequests(socket, () => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n'))],
  ['a partial header name, then reset', (socket) => onRequests(socket, () => socket.write('HTTP/1.1 200 OK\r\nContent-', () => socket.resetAndDestroy()))],
])));

test('malformed backend responses get 502, never relayed', () => withCleanup(async (c) => {
  const responses: [string, string][] = [
    ['a status that is not a number', 'HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n'],
    ['a header line without a colon', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nBroken header\r\n\r\nok'],
    ['Content-Length and chunked together', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n'],
    ['two different Content-Lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!'],
    ['not HTTP at all', 'SSH-2.0-OpenSSH_9.6\r\n'],
  ];
  for (const [what, bytes] of responses) {
    const { backend } = await tracked(c, (socket) => onRequests(socket, () => socket.write(bytes)));
    const { proxy, port } = await startProxy(c, [backend.server.address() as net.AddressInfo]);
    const { res } = await request(c, port, GET('/bad'));
    assertErrorResponse(res, 502, what);
    await assertSettled(proxy);
    assert.is(worker(proxy).failed, 1, `${what}: counted as a failure`);
    assert.is(worker(proxy).open, 0, `${what}: the socket is not pooled`);
  }
}));

test('a backend that dies mid-body (Content-Length, chunked, right after the head): the client is cut, never a complete-looking body', () => withCleanup(async (c) => {
  const cuts: [string, string][] = [
    ['Content-Length 100, 10 sent', 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789'],
    ['chunked, no last chunk', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n'],
    ['chunked, cut inside a chunk', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nhello'],
    ['head only', 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n'],
  ];
  for (const [what, bytes] of cuts) {
    for (const how of ['end', 'reset'] as const) {
      const { backend } = await tracked(c, (socket) => onRequests(socket, () => {
        socket.write(bytes, () => (how === 'end' ? socket.end() : socket.resetAndDestroy()));
      }));
      const { proxy, port } = await startProxy(c, [backend.server.address() as net.AddressInfo]);
      const client = await connect(c, port);
      await client.write(GET('/cut'));
      const message = await expectCut(client.readResponse({ timeoutMs: 3_000 }));
      assert.match(message, /closed mid-response \(status 200/, `${what} (${how})`);
      await assertSettled(proxy);
      assert.is(worker(proxy).failed, 1, `${what} (${how}): counted as a failure`);
      assert.is(worker(proxy).served, 0, `${what} (${how}): not counted as served`);
    }
  }
}));

test('a body that ends at close (no length, no chunking) is relayed whole (re-chunked) and is not a failure', () => withCleanup(async (c) => {
  const body = 'x'.repeat(10_000);
  const { backend } = await tracked(c, (socket) => onRequests(socket, () => {
    socket.end(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${body}`);
  }));
  const { proxy, port } = await startProxy(c, [backend.server.address() as net.AddressInfo]);
  const { res } = await request(c, port, GET('/until-close'));
  assert.is(res.status, 200);
  assert.is(dechunk(res.body).payload.toString(), body);
  assert.ok(res.keepAlive, 'the backend closing its connection does not close the client\'s');
  await assertSettled(proxy);
  assert.is(worker(proxy).served, 1);
  assert.is(worker(proxy).failed, 0);
}));

test('a response head that arrives in pieces reaches the client intact (not relayed early, not twice)', () => withCleanup(async (c) => {
  const response = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok';
  for (const cut of [5, 17, 20, response.indexOf('\r\n\r\n') + 2]) {
    const { backend } = await tracked(c, (socket) => onRequests(socket, () => {
      socket.write(response.slice(0, cut));
      const timer = setTimeout(() => socket.write(response.slice(cut)), 30);
      socket.once('close', () => clearTimeout(timer));
    }));
    const { proxy, port } = await startProxy(c, [backend.server.address() as net.AddressInfo]);
    const client = await connect(c, port);
    await client.write(GET('/split-head'));
    const res = await client.readResponse({ label: `head cut at byte ${cut}` });
    assert.is(res.status, 200, `cut at ${cut}`);
    assert.is(res.body.toString(), 'ok', `cut at ${cut}`);
    assert.is(headerValue(res, 'content-type'), 'text/plain', `cut at ${cut}`);
    assert.is(client.unreadBytes().length, 0, `cut at ${cut}: nothing after the response`);
    await assertSettled(proxy);
  }
}));

// ---- response timeout ----

test('--response-timeout: a backend that stalls mid-body gets the client cut within about the timeout, and its socket closed', () => withCleanup(async (c) => {
  const stalls: [string, string][] = [
    ['Content-Length 100, 10 sent', 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789'],
    ['chunked, no last chunk', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n'],
    ['head only', 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n'],
  ];
  for (const [what, bytes] of stalls) {
    const { backend, closed } = await tracked(c, (socket) => onRequests(socket, () => socket.write(bytes)));
    const { proxy, port } = await startProxy(c, [backend.server.address() as net.AddressInfo], { responseTimeoutMs: 200 });
    const client = await connect(c, port);
    const started = Date.now();
    await client.write(GET('/stall'));
    const message = await expectCut(client.readResponse({ timeoutMs: 3_000 }));
    const ms = Date.now() - started;
    assert.match(message, /closed mid-response \(status 200/, what);
    assert.ok(ms >= 150 && ms < 1_200, `${what}: cut after ${ms} ms (response timeout 200 ms)`);
    await waitFor(`${what}: the stalled backend socket closed`, () => closed() === 1, 1_000);
    await assertSettled(proxy);
    assert.is(worker(proxy).failed, 1, what);
  }
}));

test('--response-timeout is for silence, not total time: a body trickled in gaps under the timeout arrives whole', () => withCleanup(async (c) => {
  const pieces = Array.from({ length: 8 }, (_, i) => `piece${i};`);
  const body = pieces.join('');
  const { backend } = await tracked(c, (socket) => onRequests(socket, () => {
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
    let i = 0;
    const timer = setInterval(() => {
      if (socket.destroyed) clearInterval(timer);
      else socket.write(pieces[i] ?? '');
      if (++i >= pieces.length) clearInterval(timer);
    }, 60);
    socket.once('close', () => clearInterval(timer));
  }));
  const { proxy, port } = await startProxy(c, [backend.server.address() as net.AddressInfo], { responseTimeoutMs: 200 });
  const { res, ms } = await request(c, port, GET('/trickle'));
  assert.is(res.status, 200);
  assert.is(res.body.toString(), body);
  assert.ok(ms >= 400, `the response took ${ms} ms, more than twice the timeout`);
  await assertSettled(proxy);
  assert.is(worker(proxy).failed, 0);
}));

test('--response-timeout does not cut a request body that is still arriving steadily (gaps under the timeout)', () => withCleanup(async (c) => {
  const [echo] = await echoBackends(c, 1);
  assert.ok(echo !== undefined);
  const { proxy, port } = await startProxy(c, [echo], { responseTimeoutMs: 250 });
  const client = await connect(c, port);
  await client.write('POST /slow-upload HTTP/1.1\r\nHost: lb.test\r\nContent-Length: 100\r\n\r\n');
  // 100 bytes in ten pieces 80 ms apart: about 800 ms in all, never 250 ms without a byte.
  for (let i = 0; i < 10 && !client.peerEnded; i++) {
    await client.write('0123456789').catch(() => {});
    await sleep(80);
  }
  const res = await client.readResponse();
  assert.is(res.status, 200, `a steady upload got ${res.status} ${JSON.stringify(res.body.toString())}`);
  assert.is((JSON.parse(res.body.toString()) as EchoReport).bodyLength, 100);
  await assertSettled(proxy);
  assert.is(worker(proxy).failed, 0);
}));

test('a client that stalls mid-upload is not counted against the backend: no ejection, others still served', () => withCleanup(async (c) => {
  const [echo] = await echoBackends(c, 1);
  assert.ok(echo !== undefined);
  const { proxy, port } = await startProxy(c, [echo], { responseTimeoutMs: 150, failuresToEject: 1 });
  const staller = await connect(c, port);
  await staller.write('POST /stall HTTP/1.1\r\nHost: lb.test\r\nContent-Length: 100\r\n\r\nhalf');
  await waitFor('the upload dispatched', () => worker(proxy).pending === 1, 1_000);
  // Well past the response timeout with the request still unfinished.
  await sleep(500);
  // (Whatever the client is told, a stalled upload is the client's fault, not the backend's.)
  assert.not.ok(worker(proxy).ejected, `a client's stalled upload ejected the backend: ${JSON.stringify(proxy.stats().workers)}`);
  staller.close();
  const { res } = await request(c, port, GET('/other'));
  assert.is(res.status, 200, 'another client is still served');
  await assertSettled(proxy);
}));

// ---- passive health ----

async function getStatus(c: Cleanup, port: number, path: string): Promise<RawResponse> {
  return (await request(c, port, GET(path))).res;
}

test('--eject-after 2: two failures in a row eject a backend, the other takes everything, after the cool-down one request tries it again', () => withCleanup(async (c) => {
  const dead = await closedPort();
  const [good] = await helloBackends(c, 1);
  assert.ok(good !== undefined);
  const { proxy, port } = await startProxy(c, [{ port: dead }, good], { failuresToEject: 2, ejectCooldownMs: 600 });
  // Until ejected, requests alternate; the refused ones go on to the other backend, so every client gets 200.
  const statuses: number[] = [];
  while (!worker(proxy, 0).ejected) {
    assert.ok(statuses.length < 10, `not ejected after ${statuses.length} requests: ${statuses.join(',')}`);
    statuses.push((await getStatus(c, port, `/before${statuses.length}`)).status);
  }
  assert.ok(statuses.every((s) => s === 200), `a refused connect is retried on the other backend: ${statuses.join(',')}`);
  assert.is(worker(proxy, 0).failed, 2);
  // While ejected: no request reaches the dead backend.
  for (let i = 0; i < 20; i++) {
    const res = await getStatus(c, port, `/ejected${i}`);
    assert.is(res.status, 200, `request ${i} while ejected`);
    assert.is(res.body.toString(), 'Hello from 1\n');
  }
  assert.ok(worker(proxy, 0).ejected, 'still within the cool-down (else the check above proves nothing)');
  assert.is(worker(proxy, 0).failed, 2, 'nothing was routed to the ejected backend');
  assert.is(worker(proxy, 0).pending, 0);
  // After the cool-down it is tried again; still down, so one failure ejects it at once.
  await waitFor('the cool-down to end', () => !worker(proxy, 0).ejected, 3_000);
  const after: number[] = [];
  while (worker(proxy, 0).failed === 2) {
    assert.ok(after.length < 6, `the backend was not tried again: ${after.join(',')}`);
    after.push((await getStatus(c, port, `/after${after.length}`)).status);
  }
  assert.ok(after.every((s) => s === 200), `the request that tried it went on to the other backend: ${after.join(',')}`);
  assert.ok(worker(proxy, 0).ejected, 'one more failure after the cool-down ejects it again at once');
  assert.is(worker(proxy, 0).failed, 3);
  for (let i = 0; i < 5; i++) assert.is((await getStatus(c, port, `/again${i}`)).status, 200);
  assert.is(worker(proxy, 0).failed, 3);
  await assertSettled(proxy);
}));

test('an ejected backend that comes back up is used again after the cool-down and stays in', () => withCleanup(async (c) => {
  const deadPort = await closedPort();
  const [good] = await helloBackends(c, 1);
  assert.ok(good !== undefined);
  const { proxy, port } = await startProxy(c, [{ port: deadPort }, good], { failuresToEject: 1, ejectCooldownMs: 300 });
  for (let i = 0; !worker(proxy, 0).ejected; i++) {
    assert.ok(i < 6, 'not ejected');
    await getStatus(c, port, `/x${i}`);
  }
  c.add(await startHello({ name: 'revived', port: deadPort }));
  await waitFor('the cool-down to end', () => !worker(proxy, 0).ejected, 3_000);
  const names = new Map<string, number>();
  for (let i = 0; i < 10; i++) {
    const res = await getStatus(c, port, `/y${i}`);
    assert.is(res.status, 200);
    const body = res.body.toString();
    names.set(body, (names.get(body) ?? 0) + 1);
  }
  assert.ok((names.get('Hello from revived\n') ?? 0) >= 3, `the revived backend takes its share: ${JSON.stringify([...names])}`);
  assert.not.ok(worker(proxy, 0).ejected);
  assert.is(worker(proxy, 0).failed, 1);
  await assertSettled(proxy);
}));

test('every backend ejected: 503 at once, and no backend is dialled', () => withCleanup(async (c) => {
  const a = await closedPort();
  const b = await closedPort();
  const { proxy, port } = await startProxy(c, [{ port: a }, { port: b }], { failuresToEject: 1, ejectCooldownMs: 30_000 });
  // The first request tries both (the refused connect goes on to the other): both are ejected, and
  // it gets the last attempt's 502.
  assertErrorResponse(await getStatus(c, port, '/1'), 502, 'first');
  assert.ok(proxy.stats().workers.every((w) => w.ejected), JSON.stringify(proxy.stats().workers));
  const dialled = proxy.stats().workers.map((w) => w.dialled);
  for (let i = 0; i < 3; i++) {
    const { res, ms } = await request(c, port, GET(`/none${i}`));
    assertErrorResponse(res, 503, `all ejected ${i}`);
    assert.ok(ms < 500, `503 after ${ms} ms`);
  }
  assert.equal(proxy.stats().workers.map((w) => w.dialled), dialled, 'no backend was dialled for the 503s');
  await assertSettled(proxy);
}));

// ---- the keep-alive reuse race ----

interface RaceBackend {
  backend: RawHandle;
  /** Every request head the backend received, in order (`METHOD url`). */
  heads: string[];
}

/**
 * Each connection answers its first `answered` requests with keep-alive 200s (body `c<conn> <url>`),
 * then, on the next request head, drops the connection without a byte: what the proxy sees when a
 * backend closes an idle pooled socket just as it is reused. With `later` set, connections after the
 * first drop even their first request.
 */
async function raceBackend(c: Cleanup, options: { later?: 'drop'; partial?: string } = {}): Promise<RaceBackend> {
  const heads: string[] = [];
  const backend = c.add(await startRaw({
    onConnection: (socket, conn) => {
      const answered = options.later === 'drop' && conn > 0 ? 0 : 1;
      onRequests(socket, (req: SeenRequest) => {
        if (req.index <= answered) socket.write(okResponse(`c${conn} ${req.url}`));
      }, (req: SeenRequest) => {
        heads.push(`${req.method} ${req.url}`);
        if (req.index > answered) {
          if (options.partial !== undefined) socket.write(options.partial, () => socket.destroy());
          else socket.destroy();
        }
      });
    },
  }));
  return { backend, heads };
}

test('keep-alive race: a GET (and a DELETE) on a pooled socket the backend dropped is retried once on a fresh one, invisibly', () => withCleanup(async (c) => {
  const { backend, heads } = await raceBackend(c);
  const { proxy, port } = await startProxy(c, [backend]);
  const client = await connect(c, port);
  const requests = ['GET /g0', 'GET /g1', 'DELETE /d2', 'GET /g3', 'HEAD /h4'];
  for (const line of requests) {
    const [method = '', url = ''] = line.split(' ');
    await client.write(`${method} ${url} HTTP/1.1\r\nHost: lb.test\r\n\r\n`);
    const res = await client.readResponse({ label: line, head: method === 'HEAD' });
    assert.is(res.status, 200, line);
    assert.ok(res.keepAlive, `${line}: the client connection is kept`);
    if (method !== 'HEAD') assert.match(res.body.toString(), new RegExp(`^c\\d+ ${url}$`), line);
  }
  assert.not.ok(client.peerEnded);
  // The first request on the first socket; every later one dropped once on a reused socket, then retried.
  const expected = [requests[0] ?? '', ...requests.slice(1).flatMap((r) => [r, r])];
  assert.equal(heads, expected, 'each retried request was sent exactly twice');
  assert.is(backend.connections(), requests.length);
  await assertSettled(proxy);
  assert.is(worker(proxy).failed, 0, 'a retry that succeeds is not a failure');
  assert.is(worker(proxy).served, requests.length);
}));

test('keep-alive race: a POST (and a PUT with a body) is not retried: 502, and the backend never gets it twice', () => withCleanup(async (c) => {
  for (const method of ['POST', 'PUT']) {
    const { backend, heads } = await raceBackend(c);
    const { proxy, port } = await startProxy(c, [backend]);
    const send = (url: string): string => `${method} ${url} HTTP/1.1\r\nHost: lb.test\r\nContent-Length: 7\r\n\r\nbody=${url.slice(-2)}`;
    const first = await request(c, port, send('/p1'));
    assert.is(first.res.status, 200, `${method}: first`);
    assert.is(worker(proxy).idle, 1, `${method}: the first socket is pooled`);
    const second = await request(c, port, send('/p2'));
    assertErrorResponse(second.res, 502, `${method} on a dropped pooled socket`);
    await assertSettled(proxy);
    assert.equal(heads, [`${method} /p1`, `${method} /p2`], `${method}: sent once each`);
    assert.is(backend.connections(), 1, `${method}: no fresh socket was dialled for a retry`);
    assert.is(worker(proxy).failed, 1);
  }
}));

test('keep-alive race: a GET is retried once only (the fresh socket failing too gives 502)', () => withCleanup(async (c) => {
  const { backend, heads } = await raceBackend(c, { later: 'drop' });
  const { proxy, port } = await startProxy(c, [backend], { failuresToEject: 100 });
  const client = await connect(c, port);
  await client.write(GET('/a'));
  assert.is((await client.readResponse()).status, 200);
  await client.write(GET('/b'));
  assertErrorResponse(await client.readResponse(), 502, 'retry failed too');
  assert.equal(heads, ['GET /a', 'GET /b', 'GET /b']);
  assert.is(backend.connections(), 2);
  await assertSettled(proxy);
  assert.is(worker(proxy).failed, 1);
}));

test('keep-alive race: no retry once response bytes arrived on the reused socket (502, sent once)', () => withCleanup(async (c) => {
  const { backend, heads } = await raceBackend(c, { partial: 'HTTP/1.1 200 OK\r\nContent-' });
  const { proxy, port } = await startProxy(c, [backend]);
  const client = await connect(c, port);
  await client.write(GET('/a'));
  assert.is((await client.readResponse()).status, 200);
  await client.write(GET('/b'));
  assertErrorResponse(await client.readResponse(), 502, 'partial response on a reused socket');
  assert.equal(heads, ['GET /a', 'GET /b']);
  assert.is(backend.connections(), 1);
  await assertSettled(proxy);
}));

/** Answers every request with a keep-alive 200 and then ends the connection at once (FIN racing the next request). */
function lyingKeepAlive(heads: string[]): RawBehaviour {
  return (socket, conn) => onRequests(socket, (req) => {
    heads.push(`${req.method} ${req.url}`);
    socket.end(okResponse(`c${conn} ${req.url}`));
  });
}

test('keep-alive race, FIN right after each response: GETs always get 200; POSTs get 200 or 502 but never reach the backend twice', () => withCleanup(async (c) => {
  const getHeads: string[] = [];
  const getBackend = c.add(await startRaw({ onConnection: lyingKeepAlive(getHeads) }));
  const gets = await startProxy(c, [getBackend]);
  const client = await connect(c, gets.port);
  for (let i = 0; i < 30; i++) {
    await client.write(GET(`/g${i}`));
    const res = await client.readResponse({ label: `/g${i}` });
    assert.is(res.status, 200, `/g${i}`);
    assert.match(res.body.toString(), new RegExp(`^c\\d+ /g${i}$`));
  }
  assert.not.ok(client.peerEnded);
  await assertSettled(gets.proxy);

  const postHeads: string[] = [];
  const postBackend = c.add(await startRaw({ onConnection: lyingKeepAlive(postHeads) }));
  const posts = await startProxy(c, [postBackend], { failuresToEject: 1_000 });
  let post = await connect(c, posts.port);
  const ok: string[] = [];
  for (let i = 0; i < 30; i++) {
    if (post.peerEnded) post = await connect(c, posts.port);
    await post.write(`POST /p${i} HTTP/1.1\r\nHost: lb.test\r\nContent-Length: 2\r\n\r\nhi`);
    const res = await post.readResponse({ label: `/p${i}` });
    assert.ok(res.status === 200 || res.status === 502, `/p${i}: ${res.status}`);
    if (res.status === 200) ok.push(`POST /p${i}`);
    else await post.waitForEnd(1_000);
  }
  assert.is(new Set(postHeads).size, postHeads.length, `a POST reached the backend twice: ${postHeads.join(',')}`);
  for (const line of ok) assert.ok(postHeads.includes(line), `${line} answered 200 without reaching the backend`);
  await assertSettled(posts.proxy);
}));

// ---- client aborts ----
// A reset is an abort whatever the proxy is doing. A FIN is an abort only when the request is
// unfinished (the proxy keeps half-closed clients that sent a whole request: they get the response);
// mid-download it shows up as a reset when the proxy next writes.

async function uploadAbort(c: Cleanup, how: 'reset' | 'fin'): Promise<void> {
  let received = 0;
  const { backend, closed } = await tracked(c, (socket) => socket.on('data', (d: Buffer) => { received += d.length; }));
  const { proxy, port } = await startProxy(c, [backend.server.address() as net.AddressInfo]);
  const client = await connect(c, port);
  await client.write(`POST /upload HTTP/1.1\r\nHost: lb.test\r\nContent-Length: ${4 * 1024 * 1024}\r\n\r\n`);
  await client.write(Buffer.alloc(256 * 1024, 0x61));
  await waitFor('part of the body at the backend', () => received > 128 * 1024, 2_000, () => `${received} bytes`);
  assert.is(worker(proxy).pending, 1);
  if (how === 'reset') client.socket.resetAndDestroy();
  client.close();
  await waitFor(`${how}: the backend to see its socket closed`, () => closed() === 1, 2_000);
  await assertSettled(proxy);
  assert.is(worker(proxy).open, 0, 'the socket was not pooled');
  await waitFor('the proxy to drop the client', () => proxy.stats().clients === 0, 1_000);
}

test('a client that resets mid-upload: the backend socket is destroyed (not pooled) and pending returns to zero', () =>
  withCleanup((c) => uploadAbort(c, 'reset')));

test('a client that closes (FIN) mid-upload, its body unfinished: the backend socket is destroyed at once, not left to the response timeout', () =>
  withCleanup((c) => uploadAbort(c, 'fin')));

test('a client that aborts mid-download (stalled backend: reset; streaming backend: reset or FIN): the backend socket is destroyed', () => withCleanup(async (c) => {
  const TOTAL = 64 * 1024 * 1024;
  const cases = [['stalled', 'reset'], ['streaming', 'reset'], ['streaming', 'fin']] as const;
  for (const [mode, how] of cases) {
    const what = `${mode}, ${how}`;
    let written = 0;
    let blocked = false;
    const { backend, closed } = await tracked(c, (socket) => onRequests(socket, () => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${TOTAL}\r\n\r\n`);
      const piece = Buffer.alloc(64 * 1024, 0x62);
      if (mode === 'stalled') {
        socket.write(piece);
        written = piece.length;
        return;
      }
      const pump = (): void => {
        while (written < TOTAL && !socket.destroyed) {
          written += piece.length;
          if (!socket.write(piece)) {
            blocked = true;
            socket.once('drain', () => { blocked = false; pump(); });
            return;
          }
        }
      };
      pump();
    }));
    const { proxy, port } = await startProxy(c, [backend.server.address() as net.AddressInfo]);
    const client = await connect(c, port);
    await client.write(GET(`/download-${mode}`));
    await waitFor(`${what}: the first response bytes`, () => client.unreadBytes().length > 0, 2_000);
    if (mode === 'streaming') {
      // A client that stops reading: the proxy must push back on the backend rather than buffer it all.
      client.socket.pause();
      await waitFor(`${what}: the backend to be blocked by backpressure`, () => blocked, 3_000, () => `${written} bytes written`);
      assert.ok(written < TOTAL / 2, `${what}: the backend wrote ${written} of ${TOTAL} bytes to a client that stopped reading`);
    }
    if (how === 'reset') client.socket.resetAndDestroy();
    client.close();
    await waitFor(`${what}: the backend to see its socket closed`, () => closed() === 1, 2_000);
    await assertSettled(proxy);
    assert.is(worker(proxy).open, 0, `${what}: the socket was not pooled`);
    assert.is(worker(proxy).failed, 0, `${what}: a client abort is not a backend failure`);
  }
}));

test('a client that resets while waiting for the response head: the backend socket is destroyed', () => withCleanup(async (c) => {
  const { backend, closed } = await tracked(c, (socket) => socket.resume());
  const { proxy, port } = await startProxy(c, [backend.server.address() as net.AddressInfo]);
  const client = await connect(c, port);
  await client.write(GET('/wait'));
  await waitFor('the request at the backend', () => backend.connections() === 1 && worker(proxy).pending === 1, 2_000);
  client.socket.resetAndDestroy();
  await waitFor('the backend to see its socket closed', () => closed() === 1, 2_000);
  await assertSettled(proxy);
  assert.is(worker(proxy).open, 0);
  assert.is(worker(proxy).failed, 0, 'a client abort is not a backend failure');
}));

// ---- after everything ----

/** One backend whose behaviour is chosen by the request path. */
function scenarioBackend(): RawBehaviour {
  return (socket) => onRequests(socket, (req) => {
    const path = req.url.split('?')[0];
    switch (path) {
      case '/ok': socket.write(okResponse(`ok ${req.url}`)); break;
      case '/garbage': socket.end('\x00\x01 not http\r\n\r\n'); break;
      case '/drop': socket.destroy(); break;
      case '/midbody': socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789', () => socket.destroy()); break;
      case '/stall-body': socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789'); break;
      case '/big': socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${1 << 24}\r\n\r\n${'z'.repeat(65_536)}`); break;
      case '/silent': break;
      default: socket.write(okResponse('unknown path')); break;
    }
  }, (req) => {
    if (req.url === '/upload') socket.resume();
  });
}

test('after every kind of failure on one proxy, it still serves normally and nothing is left pending or busy', () => withCleanup(async (c) => {
  const { backend } = await tracked(c, scenarioBackend());
  // Two workers on the same scenario backend: failures land on both.
  const addr = backend.server.address() as net.AddressInfo;
  const { proxy, port } = await startProxy(c, [addr, addr], { responseTimeoutMs: 250, failuresToEject: 1_000 });
  const failures = ['/garbage', '/drop', '/midbody', '/stall-body', '/silent', '/garbage', '/drop', '/midbody'];
  await Promise.all(failures.map(async (path) => {
    const client = await connect(c, port);
    await client.write(GET(path));
    try {
      const res = await client.readResponse({ timeoutMs: 3_000 });
      assert.ok(res.status === 502 || res.status === 504, `${path}: ${res.status}`);
    } catch (err) {
      assert.match((err as Error).message, /closed mid-response/, path);
    }
    client.close();
  }));
  // Client aborts: mid-download, waiting for a head, mid-upload.
  const big = await connect(c, port);
  await big.write(GET('/big'));
  await waitFor('download bytes', () => big.unreadBytes().length > 0, 2_000);
  big.socket.resetAndDestroy();
  const waiting = await connect(c, port);
  await waiting.write(GET('/silent'));
  const upload = await connect(c, port);
  await upload.write(`POST /upload HTTP/1.1\r\nHost: lb.test\r\nContent-Length: 1000000\r\n\r\n${'u'.repeat(1000)}`);
  await waitFor('both requests dispatched', () => proxy.stats().workers.reduce((a, w) => a + w.pending, 0) === 2, 2_000,
    () => JSON.stringify(proxy.stats().workers));
  waiting.socket.resetAndDestroy();
  upload.socket.resetAndDestroy();
  // A malformed request does not reach the backend but goes through the same connection code.
  const bad = await connect(c, port);
  await bad.write('GET / HTTP/1.1\r\nNo colon\r\n\r\n');
  assert.is((await bad.readResponse()).status, 400);
  bad.close();
  await assertSettled(proxy);
  await waitFor('every failed client gone', () => proxy.stats().clients === 0, 2_000, () => String(proxy.stats().clients));
  // One failure per attempt: a dropped connection (nothing answered) goes on to the other backend
  // and fails there too; the rest are not retried (garbage, a cut response, a silent backend).
  const failed = proxy.stats().workers.reduce((a, w) => a + w.failed, 0);
  assert.is(failed, failures.length + failures.filter((p) => p === '/drop').length, `failures counted: ${JSON.stringify(proxy.stats().workers)}`);
  // Now ordinary traffic, sequential and pipelined: every request answered.
  const client = await connect(c, port);
  for (let i = 0; i < 10; i++) {
    await client.write(GET(`/ok?i=${i}`));
    const res = await client.readResponse();
    assert.is(res.status, 200);
    assert.is(res.body.toString(), `ok /ok?i=${i}`);
  }
  await client.write(Array.from({ length: 8 }, (_, i) => GET(`/ok?p=${i}`)).join(''));
  const pipelined = await client.readResponses(8);
  assert.equal(pipelined.map((r) => r.body.toString()), Array.from({ length: 8 }, (_, i) => `ok /ok?p=${i}`));
  assert.not.ok(client.peerEnded);
  await assertSettled(proxy);
  for (const w of proxy.stats().workers) assert.is(w.pending, 0, `${w.name}: pending`);
  assert.is(proxy.stats().workers.reduce((a, w) => a + w.failed, 0), failed, 'no new failures');
}));

test.run();
