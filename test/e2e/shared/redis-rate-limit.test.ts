/**
 * Issue #16, rate limits shared through Redis: a real redis-server, two proxy instances (real CLI
 * processes) drawing on one budget; Redis killed, then back. Skipped, saying so, without
 * redis-server (.ci/run installs it).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnProxy, type ChildProxy } from '../../kit/child-proxy.js';
import { GET } from '../../kit/raw-client.js';
import { connect, helloBackends, HOST, waitFor, withCleanup, type Cleanup } from '../../kit/harness.js';
import { hasRedis, RedisServer } from '../../kit/redis-server.js';

const skip = (): boolean => {
  if (hasRedis) return false;
  console.log('  skipped: redis-server is not installed (apt-get install -y redis-server)');
  return true;
};

/** One request on a new connection: its status. */
async function status(c: Cleanup, port: number, path: string): Promise<number> {
  const client = await connect(c, port);
  await client.write(GET(path));
  const res = await client.readResponse();
  client.close();
  return res.status;
}

/** A proxy limiting 5/s, burst 6, through `redis`; resolves once it has connected to it. */
async function instance(c: Cleanup, redis: RedisServer, backend: number, extra: string[] = []): Promise<ChildProxy> {
  const proxy = c.add(await spawnProxy(['--backend', `${HOST}:${backend}`, '--rate-limit', '5', '--rate-burst', '6', '--rate-limit-store', redis.url, ...extra]));
  await waitFor('the proxy connected to Redis', () => /rate_limit_store_up/.test(proxy.output()), 5_000);
  return proxy;
}

test('two instances share one budget per client through Redis: together they admit the burst and the rate, not twice', () => withCleanup(async (c) => {
  if (skip()) return;
  const redis = c.add(await RedisServer.start());
  const [backend] = await helloBackends(c, 1);
  assert.ok(backend !== undefined);
  const one = await instance(c, redis, backend.port);
  const two = await instance(c, redis, backend.port);
  const startedAt = Date.now();
  const statuses: number[] = [];
  for (let i = 0; i < 24; i++) statuses.push(await status(c, (i % 2 === 0 ? one : two).port, `/shared/${i}`));
  const seconds = (Date.now() - startedAt) / 1000;
  const ok = statuses.filter((s) => s === 200).length;
  assert.ok(ok >= 6 && ok <= 6 + Math.floor(5 * seconds) + 1, `${ok} admitted in ${seconds.toFixed(2)} s: ${statuses.join(' ')}`);
  assert.is(statuses.filter((s) => s !== 200 && s !== 429).length, 0);
}));

test('Redis killed: requests go through (store_failure open), logged once; Redis back: the shared limit holds again', () => withCleanup(async (c) => {
  if (skip()) return;
  const redis = c.add(await RedisServer.start());
  const [backend] = await helloBackends(c, 1);
  assert.ok(backend !== undefined);
  const proxy = await instance(c, redis, backend.port);
  await redis.stop();
  await waitFor('the store logged down', () => /"event":"rate_limit_store_down"/.test(proxy.output()), 5_000);
  const down: number[] = [];
  for (let i = 0; i < 20; i++) down.push(await status(c, proxy.port, `/down/${i}`));
  assert.equal(down.filter((s) => s !== 200), [], 'failing open: every request through');
  assert.is((proxy.output().match(/"event":"rate_limit_store_down"/g) ?? []).length, 1, 'logged once, not per request');
  await redis.start();
  await waitFor('the store logged up again', () => (proxy.output().match(/"event":"rate_limit_store_up"/g) ?? []).length === 2, 10_000);
  const back: number[] = [];
  for (let i = 0; i < 20; i++) back.push(await status(c, proxy.port, `/back/${i}`));
  assert.ok(back.filter((s) => s === 429).length >= 8, `the limit holds again: ${back.join(' ')}`);
}));

test('store_failure closed: while Redis is unreachable, requests are refused with 429', () => withCleanup(async (c) => {
  if (skip()) return;
  const redis = c.add(await RedisServer.start());
  const [backend] = await helloBackends(c, 1);
  assert.ok(backend !== undefined);
  const proxy = await instance(c, redis, backend.port, ['--rate-limit-store-failure', 'closed']);
  await redis.stop();
  await waitFor('the store logged down', () => /"event":"rate_limit_store_down"/.test(proxy.output()), 5_000);
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) statuses.push(await status(c, proxy.port, `/closed/${i}`));
  assert.equal(statuses, [429, 429, 429, 429, 429]);
}));

test('store_failure closed: while Redis hangs (stopped, its connection open), requests are refused, not let through by the limiter\'s own wait', () => withCleanup(async (c) => {
  if (skip()) return;
  const redis = c.add(await RedisServer.start());
  const [backend] = await helloBackends(c, 1);
  assert.ok(backend !== undefined);
  const proxy = await instance(c, redis, backend.port, ['--rate-limit-store-failure', 'closed']);
  redis.freeze(true);
  c.add({ close: async () => redis.freeze(false) });
  const statuses = await Promise.all(Array.from({ length: 8 }, (_, i) => status(c, proxy.port, `/hung/${i}`)));
  assert.equal(statuses, Array.from({ length: 8 }, () => 429), statuses.join(' '));
}));

test.run();
