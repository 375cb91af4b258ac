import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as net from 'node:net';
import { connect, startProxy, startUrlEcho, waitFor, withCleanup, HOST } from '../../kit/harness.js';
import { LoadLoop } from '../../kit/load-loop.js';
import { GET } from '../../kit/raw-client.js';
import type { Server } from '../../../src/server.js';
import type { ProxyOptions, RouteOptions } from '../../../src/options/options.js';

const local = (port: number) => ({ host: HOST, port });
const bodyOf = async (port: number, c: Parameters<typeof connect>[0], path = '/'): Promise<string> => {
  const client = await connect(c, port);
  await client.write(GET(path));
  return (await client.readResponse({ label: path })).body.toString();
};
const withOptions = (proxy: Server, changes: Partial<ProxyOptions>): ProxyOptions => ({ ...proxy.options, ...changes });

test('reload under load: new requests go to the new pool, requests in flight finish on the old one, none fails; the old pool closes once idle', () => withCleanup(async (c) => {
  const before = await startUrlEcho(c, 'before');
  const after = await startUrlEcho(c, 'after');
  const { proxy, port } = await startProxy(c, [before]);
  const load = new LoadLoop(port, { clients: 16, request: (i, n) => GET(`/c${i}/${n}?delay=${n % 4}`) }).start();
  await load.waitForMore(300);
  await proxy.reload(withOptions(proxy, { backends: [local(after.port)] }));
  const retiredWhileBusy = proxy.stats().retiring;
  await load.waitForMore(300);
  const result = await load.stop();

  assert.equal(result.failures, [], 'no request failed');
  const by = (name: string): number => [...result.bodies].filter(([body]) => body.startsWith(`${name} `)).reduce((n, [, k]) => n + k, 0);
  assert.ok(by('before') >= 300 && by('after') >= 300, `before ${by('before')}, after ${by('after')}`);
  assert.is(by('before') + by('after'), result.ok);
  assert.is(retiredWhileBusy, 1, 'the old pool is retired (closed by the sweep once idle), not closed at once');
  await waitFor('the retired pool to close', () => proxy.stats().retiring === 0, 3_000);
  assert.equal(proxy.stats().pools.map((p) => [p.name, p.workers.map((w) => w.name)]), [['default', [`${HOST}:${after.port}`]]]);
  assert.match(await bodyOf(port, c), /^after GET \//);
}));

test('reload keeps an unchanged pool (its connections and counts go on) and swaps routes', () => withCleanup(async (c) => {
  const main = await startUrlEcho(c, 'main');
  const api = await startUrlEcho(c, 'api');
  const { proxy, port } = await startProxy(c, [main], {
    pools: [{ name: 'api', policy: 'least-pending', backends: [local(api.port)] }],
    routes: [],
  });
  for (let i = 0; i < 5; i++) assert.match(await bodyOf(port, c, '/api/x'), /^main /);
  const servedBefore = proxy.stats().pools.find((p) => p.name === 'default')?.workers[0]?.served;
  const route: RouteOptions = { host: null, pathPrefix: '/api', port: null, pool: 'api', rateLimit: null };
  await proxy.reload(withOptions(proxy, { routes: [route] }));
  assert.is(proxy.stats().retiring, 0, 'both pools are unchanged, so both are kept');
  assert.match(await bodyOf(port, c, '/api/x'), /^api GET \/api\/x$/);
  assert.match(await bodyOf(port, c, '/other'), /^main /);
  assert.is(proxy.stats().pools.find((p) => p.name === 'default')?.workers[0]?.served, (servedBefore ?? 0) + 1, 'the default pool kept its count');
}));

test('reload adds and removes listeners; a connection accepted by a removed listener goes on being served', () => withCleanup(async (c) => {
  const echo = await startUrlEcho(c, 'e');
  const { proxy, port } = await startProxy(c, [echo]);
  const early = await connect(c, port);
  await proxy.reload(withOptions(proxy, { listen: [local(port), local(0)] }));
  const [first, second] = proxy.addresses().map((a) => a.port) as [number, number];
  assert.is(first, port, 'the listener that stays is the same one');
  assert.match(await bodyOf(second, c, '/on-the-new-one'), /^e GET \/on-the-new-one$/);

  await proxy.reload(withOptions(proxy, { listen: [local(second)] }));
  assert.equal(proxy.addresses().map((a) => a.port), [second]);
  const refused = await new Promise<boolean>((resolve) => {
    const s = net.connect(port, HOST).once('connect', () => { s.destroy(); resolve(false); }).once('error', () => resolve(true));
  });
  assert.ok(refused, 'the removed listener accepts nothing new');
  await early.write(GET('/still-here'));
  assert.is((await early.readResponse()).body.toString(), 'e GET /still-here');
}));

test('reload changes trusted proxies and rate limits for connections already open', () => withCleanup(async (c) => {
  const echo = await startUrlEcho(c, 'e');
  const { proxy, port } = await startProxy(c, [echo], { trustedProxies: ['127.0.0.0/8'], rateLimit: 1, rateBurst: 1 });
  const client = await connect(c, port);
  const ask = async (forwardedFor: string): Promise<number> => {
    await client.write(`GET / HTTP/1.1\r\nHost: lb.test\r\nX-Forwarded-For: ${forwardedFor}\r\n\r\n`);
    return (await client.readResponse()).status;
  };
  assert.is(await ask('203.0.113.1'), 200);
  assert.is(await ask('203.0.113.2'), 200, 'trusted peer: each forwarded client has its own bucket');
  await proxy.reload(withOptions(proxy, { trustedProxies: [], rateBurst: 2 }));
  assert.is(await ask('203.0.113.3'), 200, 'fresh buckets after the reload');
  assert.is(await ask('203.0.113.4'), 200);
  assert.is(await ask('203.0.113.5'), 429, 'no proxy is trusted any more: the peer\'s one bucket of 2 is spent');
}));

test('a reload that cannot apply (an address in use) is rejected whole: the old configuration goes on serving', () => withCleanup(async (c) => {
  const old = await startUrlEcho(c, 'old');
  const other = await startUrlEcho(c, 'new');
  const { proxy, port } = await startProxy(c, [old]);
  const squatter = c.add(net.createServer());
  await new Promise<void>((resolve) => squatter.listen(0, HOST, resolve));
  const taken = (squatter.address() as net.AddressInfo).port;
  const next = withOptions(proxy, { listen: [local(port), local(0), local(taken)], backends: [local(other.port)] });
  let error: unknown;
  await proxy.reload(next).catch((err: unknown) => { error = err; });
  assert.match(String(error), /EADDRINUSE/);
  assert.equal(proxy.addresses().map((a) => a.port), [port], 'the listener opened before the failure was closed again');
  assert.equal(proxy.stats().pools[0]?.workers.map((w) => w.name), [`${HOST}:${old.port}`]);
  assert.is(proxy.stats().retiring, 0);
  assert.match(await bodyOf(port, c), /^old /);
}));

test('a reload retunes the clock: a shorter header timeout is kept within its own length, not the first tick', () => withCleanup(async (c) => {
  const echo = await startUrlEcho(c, 'echo');
  const { proxy, port } = await startProxy(c, [echo]); // header timeout 10 s: the clock ticks once a second
  await proxy.reload(withOptions(proxy, { headerTimeoutMs: 200 }));
  const client = await connect(c, port);
  const started = Date.now();
  await client.write('GET /stalled HTTP/1.1\r\nHost: lb.test\r\n');
  const res = await client.readResponse({ timeoutMs: 5_000 });
  const elapsed = Date.now() - started;
  assert.is(res.status, 408);
  // 200 ms and a tick of 50 ms; with the old tick of 1 s it came after 1-2 s. Generous for a busy host.
  assert.ok(elapsed < 900, `408 after ${elapsed} ms`);
}));

test.run();
