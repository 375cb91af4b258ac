import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, helloBackends, refused, sleep, startProxy, startUrlEcho, waitFor, withCleanup } from '../../kit/harness.js';
import { GET, headerValue } from '../../kit/raw-client.js';
import { LoadLoop } from '../../kit/load-loop.js';

test('graceful shutdown: requests in flight finish with Connection: close, idle connections close, nothing new is accepted', () => withCleanup(async (c) => {
  const backends = await helloBackends(c, 2, 200);
  const { proxy, port } = await startProxy(c, backends);
  const busy = await Promise.all(Array.from({ length: 12 }, () => connect(c, port)));
  const idle = await connect(c, port);
  await idle.write(GET('/warm'));
  assert.is((await idle.readResponse()).status, 200);
  await Promise.all(busy.map((client, i) => client.write(GET(`/in-flight/${i}`))));
  await waitFor('every request dispatched', () => proxy.stats().workers.reduce((n, w) => n + w.pending, 0) === 12, 2_000);

  const started = Date.now();
  const done = proxy.shutdown(5_000);
  await idle.waitForEnd(1_000);
  assert.ok(await refused(port), 'a new connection is refused once shutdown has begun');
  for (const [i, client] of busy.entries()) {
    const res = await client.readResponse({ label: `in flight ${i}` });
    assert.is(res.status, 200);
    assert.match(res.body.toString(), /^Hello from \d/);
    assert.is(headerValue(res, 'connection'), 'close', `in flight ${i}: the last response says the connection closes`);
    await client.waitForEnd(1_000);
  }
  await done;
  const ms = Date.now() - started;
  assert.ok(ms < 2_000, `shutdown took ${ms} ms with 200 ms requests in flight`);
  assert.equal(proxy.stats().workers.map((w) => w.pending), [0, 0]);
  assert.is(proxy.stats().clients, 0);
}));

test('graceful shutdown under load: every request written gets its response, none fails; clients are told Connection: close', () => withCleanup(async (c) => {
  const echo = await startUrlEcho(c, 'e');
  const { proxy, port } = await startProxy(c, [echo]);
  const load = new LoadLoop(port, { clients: 24, request: (i, n) => GET(`/c${i}/${n}?delay=${n % 5}`) }).start();
  await load.waitForMore(500);
  await proxy.shutdown(5_000);
  const result = await load.stop();
  assert.equal(result.failures, [], 'no request failed');
  assert.is(result.ok, result.sent, 'every request written was answered');
  assert.ok(result.ok >= 500);
  assert.is(proxy.stats().clients, 0);
}));

test('graceful shutdown: a request slower than the deadline has its connection cut at the deadline', () => withCleanup(async (c) => {
  const backends = await helloBackends(c, 1, 3_000);
  const { proxy, port } = await startProxy(c, backends);
  const client = await connect(c, port);
  await client.write(GET('/slow'));
  await sleep(50);
  const started = Date.now();
  await proxy.shutdown(300);
  const ms = Date.now() - started;
  assert.ok(ms >= 250 && ms < 1_500, `shutdown returned after ${ms} ms with a 300 ms deadline`);
  await client.waitForEnd(1_000);
  assert.is(proxy.stats().clients, 0);
}));

test('graceful shutdown of an idle proxy returns at once', () => withCleanup(async (c) => {
  const backends = await helloBackends(c, 1);
  const { proxy } = await startProxy(c, backends);
  const started = Date.now();
  await proxy.shutdown(5_000);
  assert.ok(Date.now() - started < 500);
}));

test.run();
