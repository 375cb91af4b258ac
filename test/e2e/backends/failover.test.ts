/**
 * Issue #12, failover end to end: a failed attempt goes again on another backend (connect failures
 * for any method, resets for idempotent requests), a silent backend costs the client no more than
 * the response timeout, a full backend spills to the next, the retry budget caps retries in flight,
 * active health checks take a backend out and bring it back, and slow start ramps a returning
 * backend's share.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as http from 'node:http';
import { startRaw } from '../../../backends/raw.js';
import { serve } from '../../../backends/serve.js';
import type { Server } from '../../../src/server.js';
import { withDefaults, type ProxyOptions } from '../../../src/options/options.js';
import { GET, type RawResponse } from '../../kit/raw-client.js';
import { assertErrorResponse } from '../../kit/error-response.js';
import { LoadLoop } from '../../kit/load-loop.js';
import { closedPort, connect, helloBackends, HOST, startProxy, waitFor, waitForIdle, withCleanup, type Cleanup } from '../../kit/harness.js';
import { okResponse, onRequests } from '../../kit/raw-requests.js';

const POST = (path: string, body: string): string =>
  `POST ${path} HTTP/1.1\r\nHost: lb.test\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

function workerOf(proxy: Server, port: number) {
  const w = proxy.stats().workers.find((s) => s.name === `${HOST}:${port}`);
  assert.ok(w !== undefined, `a worker for port ${port}`);
  return w as NonNullable<typeof w>;
}

function retries(proxy: Server) {
  const pool = proxy.stats().pools[0];
  assert.ok(pool !== undefined);
  return pool.retries;
}

/** One request on a fresh connection; the response and how long it took. */
async function timed(c: Cleanup, port: number, bytes: string, timeoutMs = 5_000): Promise<{ res: RawResponse; ms: number }> {
  const client = await connect(c, port);
  const started = performance.now();
  await client.write(bytes);
  const res = await client.readResponse({ timeoutMs });
  return { res, ms: performance.now() - started };
}

// ---- retries on another backend ----

test('a backend killed under keep-alive load of GETs (server closed, sockets destroyed): no client sees a failure', () => withCleanup(async (c) => {
  const backends = await helloBackends(c, 4, 5);
  const { proxy, port } = await startProxy(c, backends);
  const victim = backends[1];
  assert.ok(victim !== undefined);
  const load = new LoadLoop(port, { clients: 16, request: (i, n) => GET(`/c${i}/${n}`) }).start();
  await load.waitForMore(300, 10_000);
  await victim.close();
  await load.waitForMore(600, 10_000);
  const result = await load.stop();
  assert.equal(result.failures, [], `${result.failures.length} of ${result.sent} failed`);
  assert.ok(retries(proxy).started > 0, 'the requests cut by the kill went again elsewhere');
  assert.ok(workerOf(proxy, victim.port).failed > 0, 'the killed backend counted failures');
  await waitForIdle(proxy);
}));

test('a backend refusing connections from the start: no client sees a failure, POSTs with bodies included', () => withCleanup(async (c) => {
  const backends = await helloBackends(c, 3);
  const dead = await closedPort();
  const { proxy, port } = await startProxy(c, [...backends, { port: dead }]);
  const load = new LoadLoop(port, {
    clients: 16,
    request: (i, n) => (n % 2 === 0 ? GET(`/c${i}/${n}`) : POST(`/c${i}/${n}`, `body ${i} ${n} `.repeat(20))),
  }).start();
  await load.waitForMore(400, 10_000);
  const result = await load.stop();
  assert.equal(result.failures, [], `${result.failures.length} of ${result.sent} failed`);
  assert.ok(retries(proxy).started > 0, 'the refused attempts went again elsewhere');
  assert.ok(workerOf(proxy, dead).ejected, 'the refusing backend is ejected by its failures');
  assert.ok(!result.bodies.has(''), 'every answer came from a backend');
  await waitForIdle(proxy);
}));

test('a POST the backend reset after reading it is not sent again (it may have been acted on): 502', () => withCleanup(async (c) => {
  let seen = 0;
  const resets = c.add(await startRaw({ onConnection: (socket) => onRequests(socket, () => { seen++; socket.resetAndDestroy(); }) }));
  const [good] = await helloBackends(c, 1);
  assert.ok(good !== undefined);
  // The resetting backend first: equal loads take turns in the order given.
  const { proxy, port } = await startProxy(c, [{ port: resets.port }, good]);
  // No body: the body rule plays no part, only the method's.
  const { res } = await timed(c, port, POST('/order', ''));
  assertErrorResponse(res, 502, 'reset after the POST was written');
  assert.is(seen, 1);
  assert.is(workerOf(proxy, good.port).served, 0, 'not sent to the other backend either');
  // A GET reset the same way goes to the other backend.
  const again = await timed(c, port, GET('/read'));
  assert.is(again.res.status, 200);
  assert.is(again.res.body.toString(), 'Hello from 1\n');
}));

// ---- silent backends: the client waits the response timeout, once ----

/** A backend that answers the first `answered` requests of each connection, then never again. */
async function silentAfter(c: Cleanup, answered: number): Promise<{ port: number; requests: () => number; connections: () => number }> {
  let requests = 0;
  const backend = c.add(await startRaw({
    onConnection: (socket) => onRequests(socket, (req) => {
      requests++;
      if (req.index <= answered) socket.write(okResponse('answered'));
    }),
  }));
  return { port: backend.port, requests: () => requests, connections: () => backend.connections() };
}

const RESPONSE_TIMEOUT_MS = 800;
/** The clock's tick for these options (a quarter of the shortest timeout). */
const TICK_MS = RESPONSE_TIMEOUT_MS / 4;
/** Room for a busy machine. */
const SLACK_MS = 600;

test('a silent backend on a fresh socket: 504 within the response timeout plus a tick, tried once', () => withCleanup(async (c) => {
  const silent = await silentAfter(c, 0);
  const { port } = await startProxy(c, [silent], { responseTimeoutMs: RESPONSE_TIMEOUT_MS });
  const { res, ms } = await timed(c, port, GET('/silent'));
  assertErrorResponse(res, 504, 'silent backend');
  assert.ok(ms >= RESPONSE_TIMEOUT_MS - 50 && ms < RESPONSE_TIMEOUT_MS + TICK_MS + SLACK_MS, `504 after ${ms.toFixed(0)} ms`);
  assert.is(silent.requests(), 1, 'a timeout is not retried on the same backend');
}));

test('a silent backend on a reused pooled socket: 504 within the response timeout plus a tick, not tried again on a fresh socket', () => withCleanup(async (c) => {
  const silent = await silentAfter(c, 1);
  const { port } = await startProxy(c, [silent], { responseTimeoutMs: RESPONSE_TIMEOUT_MS });
  const client = await connect(c, port);
  await client.write(GET('/first'));
  assert.is((await client.readResponse()).status, 200);
  const started = performance.now();
  await client.write(GET('/second'));
  const res = await client.readResponse({ timeoutMs: 5_000 });
  const ms = performance.now() - started;
  assertErrorResponse(res, 504, 'silent on the reused socket');
  assert.ok(ms < RESPONSE_TIMEOUT_MS + TICK_MS + SLACK_MS, `504 after ${ms.toFixed(0)} ms (it was about twice the timeout)`);
  assert.is(silent.requests(), 2);
  assert.is(silent.connections(), 1, 'no fresh socket for the timed-out request');
}));

test('retry_on timeout: a GET to a silent backend is answered by another after one timeout', () => withCleanup(async (c) => {
  const silent = await silentAfter(c, 0);
  const [good] = await helloBackends(c, 1);
  assert.ok(good !== undefined);
  const { proxy, port } = await startProxy(c, [silent, good], {
    responseTimeoutMs: RESPONSE_TIMEOUT_MS, retryOn: ['connect-failure', 'reset', 'timeout'],
  });
  const { res, ms } = await timed(c, port, GET('/slow-then-fine'));
  assert.is(res.status, 200);
  assert.is(res.body.toString(), 'Hello from 1\n');
  assert.ok(ms < RESPONSE_TIMEOUT_MS + TICK_MS + SLACK_MS, `answered after ${ms.toFixed(0)} ms`);
  assert.is(silent.requests(), 1);
  assert.is(retries(proxy).started, 1);
  // Without the opt-in a POST is not retried after a timeout: what it did is unknown.
  const post = await timed(c, port, POST('/write', 'x'));
  assert.ok(post.res.status === 200 || post.res.status === 504, `POST: ${post.res.status}`);
  assert.is(retries(proxy).started, 1, 'the POST was not retried');
}));

// ---- saturation ----

test('a backend at its connection cap with a full queue is skipped for the next one; 503 only when all are full', () => withCleanup(async (c) => {
  const [heavy, light] = await helloBackends(c, 2, 400);
  assert.ok(heavy !== undefined && light !== undefined);
  // One socket and one queued request per backend: two requests each fit.
  const { proxy, port } = await startProxy(c, [{ port: heavy.port, weight: 10 }, { port: light.port, weight: 1 }], {
    maxConnectionsPerBackend: 1, maxBackendQueue: 1,
  });
  const fits = await Promise.all([1, 2, 3, 4].map(async (i) => {
    const client = await connect(c, port);
    await client.write(GET(`/fits${i}`));
    return client;
  }));
  await waitFor('four requests dispatched', () => proxy.stats().workers.reduce((n, w) => n + w.pending, 0) === 4, 3_000);
  const { res } = await timed(c, port, GET('/one-too-many'));
  assertErrorResponse(res, 503, 'every backend full');
  const answers = await Promise.all(fits.map((client) => client.readResponse()));
  assert.equal(answers.map((a) => a.status), [200, 200, 200, 200]);
  assert.is(workerOf(proxy, light.port).served, 2, 'the light backend took what the heavy one had no room for');
  assert.is(workerOf(proxy, heavy.port).served, 2);
}));

// ---- retry budget ----

test('retry budget: with every backend shedding (503, retry_on 503), retries in flight stay within max(min, 20% of requests in flight) and the rest fail fast', () => withCleanup(async (c) => {
  let answered = 0;
  const shedding = await Promise.all([1, 2, 3, 4].map(async () => c.add(await startRaw({
    onConnection: (socket) => onRequests(socket, () => {
      answered++;
      socket.write('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n\r\nbusy\n');
    }),
  }))));
  const CLIENTS = 32;
  const { proxy, port } = await startProxy(c, shedding, { retries: 3, retryOn: ['connect-failure', 'reset', '503'], failuresToEject: 1_000_000 });
  const load = new LoadLoop(port, { clients: CLIENTS, request: (i, n) => GET(`/c${i}/${n}`) }).start();
  await waitFor('600 requests answered and over budget', () => retries(proxy).overBudget >= 100 && answered >= 600, 20_000);
  const result = await load.stop();
  assert.is(result.ok, 0);
  const other = result.failures.find((f) => !f.includes('status 503'));
  assert.is(other, undefined, 'every client got the backends\' 503');
  const stats = retries(proxy);
  const cap = Math.max(3, Math.floor(0.2 * CLIENTS));
  assert.ok(stats.peakInFlight <= cap, `at most ${cap} retries in flight, saw ${stats.peakInFlight}`);
  assert.ok(stats.peakInFlight >= 3, `the budget was used: ${stats.peakInFlight}`);
  // Fail fast: far fewer backend attempts than the four per request retries: 3 would allow.
  assert.ok(answered < 2 * result.sent, `${answered} backend answers for ${result.sent} requests`);
  await waitForIdle(proxy);
  assert.is(retries(proxy).inFlight, 0);
}));

test('a status the pool retries on counts against the backend when passed to the client too (retries spent): it is ejected', () => withCleanup(async (c) => {
  const shedding = c.add(await startRaw({
    onConnection: (socket) => onRequests(socket, () => socket.write('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n\r\nbusy\n')),
  }));
  const { proxy, port } = await startProxy(c, [shedding], { retryOn: ['connect-failure', 'reset', '503'], failuresToEject: 2 });
  for (let i = 0; i < 2; i++) {
    const { res } = await timed(c, port, GET(`/s${i}`));
    assert.is(res.status, 503);
    assert.is(res.body.toString(), 'busy\n', 'the backend\'s own 503: no other backend to retry on');
  }
  assert.ok(workerOf(proxy, shedding.port).ejected, 'two 503s in a row eject it, as two refusals would');
}));

test('a reset storm (every backend cuts every request) is bounded by `retries`: each request tries at most retries + 1 backends', () => withCleanup(async (c) => {
  let seen = 0;
  const failing = await Promise.all([1, 2, 3, 4].map(async () => c.add(await startRaw({
    onConnection: (socket) => onRequests(socket, () => { seen++; socket.resetAndDestroy(); }),
  }))));
  const { proxy, port } = await startProxy(c, failing, { retries: 2, failuresToEject: 1_000_000 });
  for (let i = 0; i < 10; i++) assertErrorResponse((await timed(c, port, GET(`/r${i}`))).res, 502, `request ${i}`);
  assert.is(seen, 30, 'three attempts per request');
  assert.is(retries(proxy).started, 20);
}));

// ---- active health checks ----

interface CheckedBackend {
  port: number;
  /** What the health endpoint answers: 200 or 503. */
  healthy: boolean;
  /** Every check seen, with whether the proxy had the backend down when it arrived. */
  checks: { method: string; url: string; host: string; downWhenSeen: boolean }[];
  served: number;
  /** Reset the next request that is not a check. */
  failNext: boolean;
}

/** A backend whose /healthz answers 200 or 503 as told, and whose other paths say its name. */
async function checkedBackend(c: Cleanup, name: string, isDown: () => boolean): Promise<CheckedBackend> {
  const state: CheckedBackend = { port: 0, healthy: true, checks: [], served: 0, failNext: false };
  const server = http.createServer((req, res) => {
    if (req.headers['user-agent'] === 'chanlb-health-check') {
      state.checks.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host ?? '', downWhenSeen: isDown() });
      res.writeHead(state.healthy ? 200 : 503, { 'Content-Length': '0' }).end();
      return;
    }
    if (state.failNext) {
      state.failNext = false;
      req.socket.resetAndDestroy();
      return;
    }
    state.served++;
    res.end(`${name}\n`);
  });
  server.keepAliveTimeout = 5_000;
  const handle = c.add(await serve(server, {}));
  state.port = handle.port;
  return state;
}

test('HTTP health checks: down after `fall` failures, back after `rise` passes, with the configured method, path and Host; no requests while down', () => withCleanup(async (c) => {
  let proxy: Server | null = null;
  const flipDown = (): boolean => proxy !== null && workerOf(proxy, flip.port).down;
  const flip = await checkedBackend(c, 'flip', flipDown);
  const steady = await checkedBackend(c, 'steady', () => false);
  const started = await startProxy(c, [flip, steady], {
    healthCheck: 'http', healthCheckPath: '/healthz?deep=1', healthCheckHost: 'health.internal', healthCheckMethod: 'HEAD',
    healthCheckIntervalMs: 60, healthCheckTimeoutMs: 500, healthCheckRise: 2, healthCheckFall: 3, healthCheckJitter: 0,
  });
  proxy = started.proxy;
  const port = started.port;
  await waitFor('a first check', () => flip.checks.length > 0 && steady.checks.length > 0, 3_000);
  assert.equal(flip.checks[0], { method: 'HEAD', url: '/healthz?deep=1', host: 'health.internal', downWhenSeen: false });

  flip.healthy = false;
  const failingFrom = flip.checks.length;
  await waitFor('the backend down', flipDown, 5_000);
  const failing = flip.checks.slice(failingFrom);
  assert.ok(failing.length >= 3, `down after ${failing.length} failed checks`);
  assert.equal(failing.slice(0, 3).map((k) => k.downWhenSeen), [false, false, false], 'not down before the third failure');

  const servedBefore = flip.served;
  for (let i = 0; i < 10; i++) assert.is((await timed(c, port, GET(`/while-down${i}`))).res.body.toString(), 'steady\n');
  assert.is(flip.served, servedBefore, 'a backend marked down gets no requests');

  flip.healthy = true;
  const passingFrom = flip.checks.length;
  await waitFor('the backend back', () => !flipDown(), 5_000);
  const passing = flip.checks.slice(passingFrom);
  assert.ok(passing.length >= 2, `up after ${passing.length} passed checks`);
  assert.equal(passing.slice(0, 2).map((k) => k.downWhenSeen), [true, true], 'still down until the second pass');
  const bodies = new Set<string>();
  for (let i = 0; i < 6; i++) bodies.add((await timed(c, port, GET(`/back${i}`))).res.body.toString());
  assert.ok(bodies.has('flip\n'), 'back in rotation');
  assert.ok(steady.checks.every((k) => !k.downWhenSeen));
}));

test('TCP health checks: a port that refuses goes down and is never dialled for requests; a listening one stays up', () => withCleanup(async (c) => {
  const [alive] = await helloBackends(c, 1);
  assert.ok(alive !== undefined);
  const dead = await closedPort();
  const { proxy, port } = await startProxy(c, [{ port: dead }, alive], {
    healthCheck: 'tcp', healthCheckIntervalMs: 40, healthCheckFall: 2, healthCheckJitter: 0,
  });
  await waitFor('the refusing backend down', () => workerOf(proxy, dead).down, 5_000);
  const startedBefore = retries(proxy).started;
  for (let i = 0; i < 10; i++) assert.is((await timed(c, port, GET(`/r${i}`))).res.status, 200);
  assert.is(workerOf(proxy, dead).dialled, 0, 'the down backend is not dialled for requests');
  assert.is(retries(proxy).started, startedBefore, 'no request needed a retry');
  assert.not.ok(workerOf(proxy, alive.port).down);
}));

test('a check no answer arrives for fails at its timeout', () => withCleanup(async (c) => {
  const mute = await silentAfter(c, 0);
  const [alive] = await helloBackends(c, 1);
  assert.ok(alive !== undefined);
  const { proxy } = await startProxy(c, [mute, alive], {
    healthCheck: 'http', healthCheckIntervalMs: 50, healthCheckTimeoutMs: 100, healthCheckFall: 2, healthCheckJitter: 0, connectTimeoutMs: 200,
  });
  await waitFor('the mute backend down', () => workerOf(proxy, mute.port).down, 5_000);
  assert.ok(mute.requests() >= 2, `${mute.requests()} checks`);
  assert.not.ok(workerOf(proxy, alive.port).down);
}));

test('two pools with the same backend and check share one check (not one per pool), and both take it out when it fails', () => withCleanup(async (c) => {
  const shared = await checkedBackend(c, 'shared', () => false);
  const [other] = await helloBackends(c, 1);
  assert.ok(other !== undefined);
  const INTERVAL_MS = 50;
  const backends = [{ host: HOST, port: shared.port }, { host: HOST, port: other.port }];
  const { proxy } = await startProxy(c, [], {
    pools: [{ name: 'a', backends, policy: 'least-pending' }, { name: 'b', backends, policy: 'round-robin' }],
    routes: [
      { host: null, pathPrefix: '/a', port: null, pool: 'a', rateLimit: null },
      { host: null, pathPrefix: '/b', port: null, pool: 'b', rateLimit: null },
    ],
    healthCheck: 'http', healthCheckIntervalMs: INTERVAL_MS, healthCheckFall: 1, healthCheckJitter: 0,
  });
  await waitFor('a first check', () => shared.checks.length > 0, 3_000);
  const from = shared.checks.length;
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, 20 * INTERVAL_MS));
  const count = shared.checks.length - from;
  const elapsed = performance.now() - started;
  // One check per interval at most (a busy machine only makes it fewer); one per pool would double it.
  assert.ok(count <= elapsed / INTERVAL_MS + 2, `${count} checks in ${elapsed.toFixed(0)} ms at one per ${INTERVAL_MS} ms`);
  shared.healthy = false;
  await waitFor('down in both pools', () => proxy.stats().pools.every((p) => p.workers.some((w) => w.name === `${HOST}:${shared.port}` && w.down)), 5_000);
}));

// ---- slow start ----

test('slow start: a backend a reload adds gets a share that grows linearly with its ramping weight', () => withCleanup(async (c) => {
  const [old, added] = await helloBackends(c, 2, 2);
  assert.ok(old !== undefined && added !== undefined);
  const RAMP_MS = 3_000;
  // A short connect timeout makes the clock tick every 100 ms, so the ramp moves in small steps.
  const settings: Partial<ProxyOptions> = { slowStartMs: RAMP_MS, connectTimeoutMs: 400 };
  const { proxy, port } = await startProxy(c, [old], settings);
  const load = new LoadLoop(port, { clients: 32, request: (i, n) => GET(`/c${i}/${n}`) }).start();
  await load.waitForMore(200, 10_000);
  await proxy.reload(withDefaults({ ...proxy.options, ...settings, backends: [{ host: HOST, port: old.port }, { host: HOST, port: added.port }] }));
  const reloadedAt = performance.now();

  // The added backend's share in four windows of the ramp and one after it.
  const WINDOW_MS = RAMP_MS / 4;
  const windows: { midMs: number; share: number; n: number }[] = [];
  let last = { at: reloadedAt, old: load.bodies.get('Hello from 1\n') ?? 0, added: load.bodies.get('Hello from 2\n') ?? 0 };
  for (let i = 1; i <= 5; i++) {
    await new Promise((resolve) => setTimeout(resolve, reloadedAt + i * WINDOW_MS - performance.now()));
    const now = { at: performance.now(), old: load.bodies.get('Hello from 1\n') ?? 0, added: load.bodies.get('Hello from 2\n') ?? 0 };
    const n = now.old - last.old + now.added - last.added;
    windows.push({ midMs: (last.at + now.at) / 2 - reloadedAt, share: (now.added - last.added) / n, n });
    last = now;
  }
  const result = await load.stop();
  assert.equal(result.failures, []);
  // share = w / (1 + w) against the old backend's weight 1: the weight it implies, against the ramp's.
  const implied = windows.map((w) => w.share / (1 - w.share));
  const expected = windows.map((w) => Math.min(1, w.midMs / RAMP_MS));
  const detail = windows.map((w, i) => `${w.midMs.toFixed(0)} ms: share ${(w.share * 100).toFixed(1)}% of ${w.n}, weight ${implied[i]?.toFixed(2)} (ramp ${expected[i]?.toFixed(2)})`).join('; ');
  for (let i = 0; i < windows.length; i++) {
    assert.ok(Math.abs((implied[i] as number) - (expected[i] as number)) < 0.2, `window ${i}: ${detail}`);
    if (i > 0 && i < 4) assert.ok((implied[i] as number) > (implied[i - 1] as number), `grows: ${detail}`);
  }
  assert.is(workerOf(proxy, added.port).weight, 1, 'the full weight at the end of the ramp');
}));

test('slow start begins at every return: the end of an ejection and a health check passing again (never at start-up)', () => withCleanup(async (c) => {
  const flip = await checkedBackend(c, 'flip', () => false);
  const [steady] = await helloBackends(c, 1);
  assert.ok(steady !== undefined);
  const started = await startProxy(c, [flip, steady], {
    slowStartMs: 60_000, failuresToEject: 1, ejectCooldownMs: 200, connectTimeoutMs: 400,
    healthCheck: 'http', healthCheckIntervalMs: 50, healthCheckRise: 1, healthCheckFall: 1, healthCheckJitter: 0,
  });
  const proxy = started.proxy;
  const flipWorker = () => workerOf(proxy, flip.port);
  assert.is(flipWorker().weight, 1, 'no slow start when the proxy starts');

  flip.healthy = false;
  await waitFor('down', () => flipWorker().down, 5_000);
  flip.healthy = true;
  await waitFor('back', () => !flipWorker().down, 5_000);
  await waitFor('the ramp applied', () => flipWorker().weight < 1, 2_000);
  assert.ok(flipWorker().weight <= 0.05, `a minute's ramp starts near 1%: ${flipWorker().weight}`);

  // A shorter ramp (a reload keeping the same backends: none ramps), then an ejection and its end.
  await proxy.reload(withDefaults({ ...proxy.options, slowStartMs: 1_000 }));
  assert.is(flipWorker().weight, 1);
  flip.failNext = true;
  for (let i = 0; i < 10 && !flipWorker().ejected; i++) await timed(c, started.port, GET(`/e${i}`));
  assert.ok(flipWorker().ejected, 'ejected after its failure');
  await waitFor('the cool-down over', () => !flipWorker().ejected, 5_000);
  await waitFor('the ramp applied', () => flipWorker().weight < 1, 2_000);
}));

test.run();
