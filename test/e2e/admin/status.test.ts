/**
 * Issue #13, GET /status.json: the pools as they are, backends in the order the heap would pick them
 * and the next one, a backend's state as health checks change it, counts that match the traffic.
 */
import { test } from 'uvu';
import * as http from 'node:http';
import * as assert from 'uvu/assert';
import type { Server } from '../../../src/server.js';
import type { StatusSnapshot } from '../../../src/admin/status.js';
import { startHello } from '../../../backends/hello.js';
import { GET } from '../../kit/raw-client.js';
import { closedPort, connect, helloBackends, HOST, sleep, startProxy, waitFor, withCleanup, type Cleanup } from '../../kit/harness.js';

async function status(proxy: Server): Promise<StatusSnapshot> {
  const admin = proxy.adminAddress();
  assert.ok(admin !== null);
  const res = await fetch(`http://${HOST}:${admin.port}/status.json`);
  assert.is(res.status, 200);
  assert.is(res.headers.get('content-type'), 'application/json');
  return (await res.json()) as StatusSnapshot;
}

/** GET /status/events: the snapshots as they come, the `retry:` hint, the Content-Type. */
async function events(c: Cleanup, port: number): Promise<{ snapshots: StatusSnapshot[]; retry: () => string; contentType: string }> {
  const snapshots: StatusSnapshot[] = [];
  let retry = '';
  const req = http.get(`http://${HOST}:${port}/status/events`);
  c.add({ close: async () => { req.destroy(); } });
  const res = await new Promise<http.IncomingMessage>((resolve) => req.once('response', resolve));
  let buffered = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    buffered += chunk;
    for (let end = buffered.indexOf('\n\n'); end >= 0; end = buffered.indexOf('\n\n')) {
      const event = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      if (event.startsWith('retry: ')) retry = event.slice(7);
      if (event.startsWith('data: ')) snapshots.push(JSON.parse(event.slice(6)) as StatusSnapshot);
    }
  });
  return { snapshots, retry: () => retry, contentType: res.headers['content-type'] ?? '' };
}

test('the heap order: a backend holding requests goes behind an idle one, which is next; counts match the traffic', () => withCleanup(async (c) => {
  const [slow] = await helloBackends(c, 1, 400);
  const [fast] = await helloBackends(c, 1);
  assert.ok(slow !== undefined && fast !== undefined);
  const { proxy, port } = await startProxy(c, [slow, fast], { admin: { host: HOST, port: 0 } });
  const name = (p: number): string => `${HOST}:${p}`;
  // Two requests at once: one each (equal loads take turns); the fast one answers, the slow one holds its.
  const clients = await Promise.all([connect(c, port), connect(c, port)]);
  await Promise.all(clients.map((client, i) => client.write(GET(`/hold${i}`))));
  const fastAnswer = await Promise.race(clients.map((client) => client.readResponse()));
  assert.is(fastAnswer.body.toString(), 'Hello from 1\n');
  await waitFor('the fast backend idle, the slow one busy', () => {
    const w = proxy.stats().workers;
    return w.find((x) => x.name === name(fast.port))?.pending === 0 && w.find((x) => x.name === name(slow.port))?.pending === 1;
  }, 2_000);
  const s = await status(proxy);
  const pool = s.pools[0];
  assert.ok(pool !== undefined);
  assert.is(pool.name, 'default');
  assert.is(pool.policy, 'least-pending');
  assert.equal(pool.order, [name(fast.port), name(slow.port)]);
  assert.is(pool.next, name(fast.port));
  const slowStatus = pool.backends.find((b) => b.name === name(slow.port));
  const fastStatus = pool.backends.find((b) => b.name === name(fast.port));
  assert.is(slowStatus?.pending, 1);
  assert.is(slowStatus?.state, 'up');
  assert.is(fastStatus?.requests['2xx'], 1);
  assert.is(fastStatus?.picks, 1);
  assert.is(fastStatus?.latency.counts.reduce((a, v) => a + v, 0), 1, 'its one request in the histogram');
  // The two picks explained, newest first: the second went to the backend the first left idle.
  assert.is(pool.picks.length, 2);
  assert.match(pool.picks[1]?.text ?? '', /: pending 0\/weight 1 tied with .*: pending 0\/weight 1, and it was its turn$/);
  assert.match(pool.picks[0]?.text ?? '', /: pending 0\/weight 1 beat .*: pending 1\/weight 1$/);
}));

test('peak pending: a burst that has ended by the time of the read still shows as the peak', () => withCleanup(async (c) => {
  const [slow] = await helloBackends(c, 1, 150);
  assert.ok(slow !== undefined);
  const { proxy, port } = await startProxy(c, [slow], { admin: { host: HOST, port: 0 } });
  const first = (await status(proxy)).pools[0]?.backends[0];
  assert.is(first?.peakPending, 0);
  const clients = await Promise.all([0, 1, 2, 3, 4].map(() => connect(c, port)));
  await Promise.all(clients.map((client, i) => client.write(GET(`/burst${i}`))));
  await Promise.all(clients.map((client) => client.readResponse()));
  await waitFor('the burst over', () => proxy.stats().workers[0]?.pending === 0, 2_000);
  const after = (await status(proxy)).pools[0]?.backends[0];
  assert.is(after?.pending, 0);
  assert.is(after?.peakPending, 5);
}));

test('a backend its health check takes down shows as down, leaves the order, and shows the check that failed', () => withCleanup(async (c) => {
  const [alive] = await helloBackends(c, 1);
  assert.ok(alive !== undefined);
  const dead = await closedPort();
  const { proxy } = await startProxy(c, [{ port: dead }, alive], {
    admin: { host: HOST, port: 0 }, healthCheck: 'tcp', healthCheckIntervalMs: 40, healthCheckFall: 2, healthCheckJitter: 0,
  });
  await waitFor('down', () => proxy.stats().workers.some((w) => w.down), 5_000);
  const s = await status(proxy);
  const pool = s.pools[0];
  assert.ok(pool !== undefined);
  const down = pool.backends.find((b) => b.name === `${HOST}:${dead}`);
  assert.is(down?.state, 'down');
  assert.is(down?.check?.ok, false);
  assert.match(down?.check?.why ?? '', /ECONNREFUSED/);
  assert.ok((down?.check?.ageSeconds ?? -1) >= 0);
  assert.equal(pool.order, [`${HOST}:${alive.port}`]);
  assert.is(pool.backends.find((b) => b.name === `${HOST}:${alive.port}`)?.check?.ok, true);
}));

test('/status/events: Server-Sent Events with a snapshot at once and then every second; a drain shows in a later one', () => withCleanup(async (c) => {
  const backends = await helloBackends(c, 2);
  const { proxy } = await startProxy(c, backends, { admin: { host: HOST, port: 0 } });
  const admin = proxy.adminAddress();
  assert.ok(admin !== null);
  const target = `${HOST}:${backends[0]?.port}`;
  const stream = await events(c, admin.port);
  const snapshots = stream.snapshots;
  assert.is(stream.contentType, 'text/event-stream');
  await waitFor('the first snapshot', () => snapshots.length >= 1, 2_000);
  assert.is(stream.retry(), '2000', 'browsers reconnect after 2 s');
  assert.is(snapshots[0]?.pools[0]?.backends.find((b) => b.name === target)?.state, 'up');
  const drained = await fetch(`http://${HOST}:${admin.port}/backends/default/${target}/drain`, { method: 'POST' });
  assert.is(drained.status, 200);
  const seen = snapshots.length;
  await waitFor('a later snapshot showing the drain', () => snapshots.slice(seen).some((s) => s.pools[0]?.backends.find((b) => b.name === target)?.state === 'draining'), 5_000);
}));

/** Polls status.json until `backend` of the first pool is in `state`. */
async function untilState(proxy: Server, backend: string, state: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = (await status(proxy)).pools[0]?.backends.find((b) => b.name === backend)?.state;
    if (now === state) return;
    if (Date.now() > deadline) throw new Error(`${backend} is ${String(now)} in status.json after ${timeoutMs} ms, not ${state}`);
    await sleep(20);
  }
}

test('/status.json and /status/events follow a backend its health check takes down and brings back', () => withCleanup(async (c) => {
  const [alive, flaky] = await helloBackends(c, 2);
  assert.ok(alive !== undefined && flaky !== undefined);
  const { proxy } = await startProxy(c, [alive, flaky], {
    admin: { host: HOST, port: 0 }, healthCheck: 'tcp', healthCheckIntervalMs: 40, healthCheckFall: 2, healthCheckRise: 2, healthCheckJitter: 0,
  });
  const admin = proxy.adminAddress();
  assert.ok(admin !== null);
  const target = `${HOST}:${flaky.port}`;
  const { snapshots } = await events(c, admin.port);
  /** The target's states in the stream so far, each change once. */
  const states = (): string[] => snapshots.map((s) => s.pools[0]?.backends.find((b) => b.name === target)?.state ?? '')
    .filter((state, i, all) => state !== '' && state !== all[i - 1]);
  await waitFor('up in the stream', () => states().includes('up'), 3_000);
  await flaky.close();
  await untilState(proxy, target, 'down', 5_000);
  await waitFor('down in the stream', () => states().includes('down'), 5_000);
  c.add(await startHello({ name: 'back', port: flaky.port }));
  await untilState(proxy, target, 'up', 5_000);
  await waitFor('up again in the stream', () => states().lastIndexOf('up') > states().indexOf('down'), 5_000);
  assert.equal((await status(proxy)).pools[0]?.order.length, 2);
}));

test.run();
