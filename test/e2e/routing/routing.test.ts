import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, startUrlEcho, withCleanup, HOST, type Cleanup } from '../../kit/harness.js';
import { Server } from '../../../src/server.js';
import { withDefaults, type RouteOptions } from '../../../src/options/options.js';
import { headerValue, RawClient } from '../../kit/raw-client.js';

const route = (pool: string, match: Partial<Omit<RouteOptions, 'pool'>> = {}): RouteOptions =>
  ({ host: null, pathPrefix: null, port: null, rateLimit: null, ...match, pool });

/** A proxy on two ports in front of one url-echo backend per pool (each answers `<pool> GET <url>`). */
async function routedProxy(c: Cleanup, routes: RouteOptions[], withDefault: boolean, extra: Partial<Parameters<typeof withDefaults>[0]> = {}) {
  const names = ['api', 'static', 'admin', 'default'];
  const ports = new Map<string, number>();
  for (const name of names) ports.set(name, (await startUrlEcho(c, name)).port);
  const pool = (name: string) => ({ name, policy: 'least-pending' as const, backends: [{ host: HOST, port: ports.get(name) as number }] });
  const proxy = c.add(new Server(withDefaults({
    listen: [{ host: HOST, port: 0 }, { host: HOST, port: 0 }],
    logLevel: 'silent',
    backends: withDefault ? [{ host: HOST, port: ports.get('default') as number }] : [],
    pools: [pool('api'), pool('static'), pool('admin')],
    routes,
    ...extra,
  })));
  await proxy.listen();
  const [first, second] = proxy.addresses().map((a) => a.port) as [number, number];
  return { proxy, first, second };
}

async function ask(c: Cleanup, port: number, host: string, target: string): Promise<{ status: number; body: string; client: RawClient; retryAfter?: string }> {
  const client = await connect(c, port);
  await client.write(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  const res = await client.readResponse({ label: `${host} ${target}` });
  const retryAfter = headerValue(res, 'retry-after');
  return { status: res.status, body: res.body.toString(), client, ...(retryAfter === undefined ? {} : { retryAfter }) };
}

test('routes: host (exact, wildcard), path prefix, listening port, first match wins, then the default pool', () => withCleanup(async (c) => {
  const { first, second } = await routedProxy(c, [
    route('api', { host: 'api.example.com', pathPrefix: '/v1' }),
    route('static', { host: '*.cdn.example.com' }),
    route('static', { pathPrefix: '/static/' }),
  ], true);
  const cases: [number, string, string, string][] = [
    [first, 'api.example.com', '/v1/users?id=1', 'api GET /v1/users?id=1'],
    [first, 'API.Example.COM:8080', '/v1', 'api GET /v1'],
    [first, 'api.example.com', '/v10', 'default GET /v10'], // segment-aware: /v1 is not a prefix of /v10
    [first, 'api.example.com', '/v2', 'default GET /v2'],
    [first, 'img.cdn.example.com', '/a.png', 'static GET /a.png'],
    [first, 'a.b.cdn.example.com', '/', 'static GET /'],
    [first, 'cdn.example.com', '/', 'default GET /'], // a wildcard needs a label before the domain
    [first, 'www.example.com', '/static/site.css', 'static GET /static/site.css'],
    [first, 'www.example.com', '/staticx', 'default GET /staticx'],
    [first, 'other.example.com', 'http://api.example.com/v1/x', 'api GET /v1/x'], // absolute form: its authority wins; forwarded in origin form
    [second, 'www.example.com', '/anything', 'default GET /anything'],
  ];
  for (const [port, host, target, body] of cases) {
    const res = await ask(c, port, host, target);
    assert.is(res.status, 200, `${host} ${target}`);
    assert.is(res.body, body, `${host} ${target} on ${port === first ? 'the first' : 'the second'} listener`);
  }
}));

test('routes: a port rule sends one listener to its own pool; no default pool means 404 for what matches nothing', () => withCleanup(async (c) => {
  const probe = await routedProxy(c, [], true);
  const adminPort = probe.second;
  await probe.proxy.close();
  // Reuse the probed port for the admin listener so a port rule can name it.
  const { proxy } = await routedProxy(c, [route('api', { host: 'api.example.com' }), route('admin', { port: adminPort })], false, {
    listen: [{ host: HOST, port: 0 }, { host: HOST, port: adminPort }],
  });
  const [first] = proxy.addresses().map((a) => a.port) as [number];
  assert.is((await ask(c, adminPort, 'www.example.com', '/x')).body, 'admin GET /x');
  assert.is((await ask(c, adminPort, 'api.example.com', '/x')).body, 'api GET /x', 'first match wins: the host rule comes first');
  assert.is((await ask(c, first, 'api.example.com', '/y')).body, 'api GET /y');
  const missing = await ask(c, first, 'www.example.com', '/x');
  assert.is(missing.status, 404);
  assert.is(missing.body, '404 Not Found\n');
  await missing.client.waitForEnd(1_000);
}));

test('rate limits per route: a route with its own bucket, one with none, and the proxy-wide one for the rest', () => withCleanup(async (c) => {
  const { proxy, first } = await routedProxy(c, [
    route('api', { host: 'api.example.com', rateLimit: { rate: 1, burst: 2 } }),
    route('static', { host: 'static.example.com', rateLimit: { rate: 0, burst: 0 } }),
  ], true, { rateLimit: 1, rateBurst: 3 });
  const statuses = async (host: string, n: number): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push((await ask(c, first, host, `/${i}`)).status);
    return out;
  };
  assert.equal(await statuses('api.example.com', 3), [200, 200, 429], 'the api route: burst 2');
  assert.equal(await statuses('static.example.com', 10), Array(10).fill(200), 'the static route: no limit');
  assert.equal(await statuses('www.example.com', 4), [200, 200, 200, 429], 'the default route: the proxy-wide burst of 3');
  const refused = await ask(c, first, 'api.example.com', '/again');
  assert.is(refused.status, 429);
  assert.is(refused.retryAfter, '1');
  const served = new Map(proxy.stats().pools.map((p) => [p.name, p.workers[0]?.served]));
  assert.equal(Object.fromEntries(served), { api: 2, static: 10, admin: 0, default: 3 }, 'refused requests never reach a backend');
}));

test.run();
