/**
 * Issue #14, rate limits shared by worker processes: proxies built with a LeaseSource spend tokens
 * leased from one authoritative set of buckets (an in-process FakePrimary standing in for the
 * cluster primary and its IPC), so together they admit no more than the limit; requests waiting for
 * a lease keep their order; a primary that never answers lets requests through after the timeout.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { echoBackends, helloBackends, HOST, startProxy, waitFor, withCleanup, type Cleanup } from '../../kit/harness.js';
import { RawClient, headerValue } from '../../kit/raw-client.js';
import { FakePrimary } from '../../kit/fake-primary.js';
import { parseExposition, valueOf } from '../../kit/prometheus-text.js';
import { withDefaults, type ProxyOptions } from '../../../src/options/options.js';
import { LEASE_TIMEOUT_MS } from '../../../src/routing/leased-rate-limiter.js';
import type { EchoReport } from '../../../backends/echo.js';

const get = (path: string, client: string): string => `GET ${path} HTTP/1.1\r\nHost: lb.test\r\nX-Forwarded-For: ${client}\r\n\r\n`;

/** The options the primary builds its limiters from: the rate-limit ones must be the proxies'. */
const primaryOf = (limits: Partial<ProxyOptions>, answer: ConstructorParameters<typeof FakePrimary>[1]): FakePrimary =>
  new FakePrimary(withDefaults({ backends: [{ host: HOST, port: 1 }], ...limits }), answer);

/** One request from `client` (named by X-Forwarded-For, the proxies trust 127.0.0.1) on a fresh connection: its status. */
async function status(c: Cleanup, port: number, client: string, path: string): Promise<number> {
  const conn = c.add(await RawClient.connect(port));
  await conn.write(get(path, client));
  const res = await conn.readResponse({ label: `${client} ${path}` });
  conn.close();
  return res.status;
}

test('two proxies leasing from one primary admit one client no more than its burst between them; another client keeps its own', () => withCleanup(async (c) => {
  const limits = { rateLimit: 0.1, rateBurst: 6, trustedProxies: ['127.0.0.1'] }; // a token per 10 s: none comes back during the test
  const primary = primaryOf(limits, { after: 'next-turn' });
  const backends = await helloBackends(c, 1);
  const one = await startProxy(c, backends, limits, { leases: primary });
  const two = await startProxy(c, backends, limits, { leases: primary });
  let byOne = 0;
  let byTwo = 0;
  for (let i = 0; i < 16; i++) {
    const mine = i % 2 === 0 ? one : two;
    if (await status(c, mine.port, '10.0.0.1', `/a${i}`) !== 200) continue;
    if (mine === one) byOne++;
    else byTwo++;
  }
  assert.is(byOne + byTwo, 6, `the burst, between the two proxies (${byOne} + ${byTwo}), not 6 each`);
  assert.ok(byOne > 0 && byTwo > 0, 'each proxy had a share of it');
  const other: number[] = [];
  for (let i = 0; i < 7; i++) other.push(await status(c, (i % 2 === 0 ? one : two).port, '10.0.0.2', `/b${i}`));
  assert.equal(other, [200, 200, 200, 200, 200, 200, 429], 'the second client has its own burst');
  const served = (p: typeof one): number => p.proxy.stats().workers.reduce((n, w) => n + w.served, 0);
  assert.is(served(one) + served(two), 12, 'refused requests never reached the backend');
}));

test('pipelined requests waiting for a slow lease are answered in request order, a body after the wait intact, then the 429', () => withCleanup(async (c) => {
  const limits = { rateLimit: 0.1, rateBurst: 3 }; // batches of 2: /1 asks (2), /2 spends, /3 asks (gets 1), /4 asks (gets 0)
  const primary = primaryOf(limits, { after: 'ms', ms: 150 });
  const echo = (await echoBackends(c, 1))[0];
  if (echo === undefined) throw new Error('no backend');
  const { port } = await startProxy(c, [echo], limits, { leases: primary });
  const conn = c.add(await RawClient.connect(port));
  const started = performance.now();
  await conn.write(
    'POST /1 HTTP/1.1\r\nHost: lb.test\r\nContent-Length: 5\r\n\r\nhello' +
    'GET /2 HTTP/1.1\r\nHost: lb.test\r\n\r\nGET /3 HTTP/1.1\r\nHost: lb.test\r\n\r\nGET /4 HTTP/1.1\r\nHost: lb.test\r\n\r\n');
  const seen: string[] = [];
  for (const path of ['/1', '/2', '/3']) {
    const res = await conn.readResponse({ label: path });
    assert.is(res.status, 200, path);
    const report = JSON.parse(res.body.toString()) as EchoReport;
    seen.push(`${report.method} ${report.url} ${report.bodyLength}`);
  }
  assert.equal(seen, ['POST /1 5', 'GET /2 0', 'GET /3 0']);
  const refused = await conn.readResponse({ label: '/4' });
  assert.is(refused.status, 429);
  assert.is(headerValue(refused, 'retry-after'), '10', 'the primary\'s Retry-After');
  await conn.waitForEnd(1_000);
  assert.ok(performance.now() - started >= 3 * 150 - 5, 'three asks were waited for, one after another');
  assert.is(primary.asks, 3);
  assert.is(echo.stats().requests, 3, 'the refused request never reached the backend');
}));

test(`a primary that never answers: the request goes through after ${LEASE_TIMEOUT_MS} ms, counted`, () => withCleanup(async (c) => {
  const limits = { rateLimit: 1, rateBurst: 1, admin: { host: HOST, port: 0 } };
  const primary = primaryOf(limits, { after: 'never' });
  const backends = await helloBackends(c, 1);
  const { proxy, port } = await startProxy(c, backends, limits, { leases: primary });
  const started = performance.now();
  const conn = c.add(await RawClient.connect(port));
  await conn.write('GET / HTTP/1.1\r\nHost: lb.test\r\n\r\n');
  const res = await conn.readResponse({ timeoutMs: 5_000 });
  const waited = performance.now() - started;
  assert.is(res.status, 200);
  assert.ok(waited >= LEASE_TIMEOUT_MS - 5, `it waited for the primary first (${Math.round(waited)} ms)`);
  assert.ok(waited < LEASE_TIMEOUT_MS + 1_000, `then went through (${Math.round(waited)} ms)`);
  assert.is(primary.asks, 1);
  const admin = proxy.adminAddress();
  const text = await (await fetch(`http://${HOST}:${admin?.port ?? 0}/metrics`)).text();
  assert.is(valueOf(parseExposition(text), 'chanlb_rate_limit_failed_open_total', { route: '*' }), 1);
  assert.is(valueOf(parseExposition(text), 'chanlb_rate_limited_total', { route: '*' }), 0);
}));

test('a reload while a request waits for a primary that never answers: it still goes through; the new limits lease too', () => withCleanup(async (c) => {
  const limits = { rateLimit: 1, rateBurst: 1 };
  const primary = primaryOf(limits, { after: 'never' });
  const backends = await helloBackends(c, 1);
  const { proxy, port } = await startProxy(c, backends, limits, { leases: primary });
  const conn = c.add(await RawClient.connect(port));
  await conn.write(get('/1', 'x'));
  await waitFor('the ask', () => primary.asks === 1);
  await proxy.reload({ ...proxy.options, rateLimit: 2 }); // the old limiter is no longer swept
  assert.is((await conn.readResponse({ timeoutMs: 5_000, label: '/1' })).status, 200);
  await conn.write(get('/2', 'x'));
  assert.is((await conn.readResponse({ timeoutMs: 5_000, label: '/2' })).status, 200);
  assert.is(primary.asks, 2, 'the reloaded limiter asked the primary as well');
}));

test.run();
