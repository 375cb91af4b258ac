/**
 * Issue #13, the admin listener's actions: drain a backend under load with no failed request and
 * return it, set a weight, and the bearer token that guards them.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Server } from '../../../src/server.js';
import type { StatusSnapshot } from '../../../src/admin/status.js';
import { GET } from '../../kit/raw-client.js';
import { LoadLoop } from '../../kit/load-loop.js';
import { connect, helloBackends, HOST, startProxy, waitFor, withCleanup } from '../../kit/harness.js';

function adminUrl(proxy: Server, path: string): string {
  const admin = proxy.adminAddress();
  assert.ok(admin !== null);
  return `http://${HOST}:${admin.port}${path}`;
}

const post = (proxy: Server, path: string, token?: string): Promise<Response> =>
  fetch(adminUrl(proxy, path), { method: 'POST', headers: token === undefined ? {} : { Authorization: `Bearer ${token}` } });

async function backendStatus(proxy: Server, name: string) {
  const s = (await (await fetch(adminUrl(proxy, '/status.json'))).json()) as StatusSnapshot;
  const b = s.pools[0]?.backends.find((x) => x.name === name);
  assert.ok(b !== undefined);
  return b;
}

test('drain under load: no failed request, no new request to the drained backend; return: it serves again', () => withCleanup(async (c) => {
  const backends = await helloBackends(c, 3, 2);
  const { proxy, port } = await startProxy(c, backends, { admin: { host: HOST, port: 0 } });
  const target = `${HOST}:${backends[1]?.port}`;
  const worker = () => proxy.stats().workers.find((w) => w.name === target);
  const load = new LoadLoop(port, { clients: 12, request: (i, n) => GET(`/c${i}/${n}`) }).start();
  await load.waitForMore(200, 10_000);
  const res = await post(proxy, `/backends/default/${target}/drain`);
  assert.is(res.status, 200);
  assert.match(await res.text(), /draining/);
  await waitFor('its requests in flight finished', () => worker()?.pending === 0, 5_000);
  const served = worker()?.served ?? -1;
  await load.waitForMore(300, 10_000);
  assert.is(worker()?.served, served, 'no new request while drained');
  assert.is((await backendStatus(proxy, target)).state, 'draining');
  assert.is((await post(proxy, `/backends/default/${target}/return`)).status, 200);
  await waitFor('it serves again', () => (worker()?.served ?? 0) > served, 5_000);
  const result = await load.stop();
  assert.equal(result.failures, []);
  assert.is((await backendStatus(proxy, target)).state, 'up');
}));

test('weight: set at run time, shown in status.json; bad values, unknown backends and GETs refused', () => withCleanup(async (c) => {
  const backends = await helloBackends(c, 2);
  const { proxy } = await startProxy(c, backends, { admin: { host: HOST, port: 0 } });
  const target = `${HOST}:${backends[0]?.port}`;
  assert.is((await post(proxy, `/backends/default/${target}/weight?value=3`)).status, 200);
  const b = await backendStatus(proxy, target);
  assert.is(b.configuredWeight, 3);
  await waitFor('the balancer reweighed it', () => proxy.stats().workers.find((w) => w.name === target)?.weight === 3, 2_000);
  for (const bad of ['0', '-1', 'abc', '']) assert.is((await post(proxy, `/backends/default/${target}/weight?value=${bad}`)).status, 400, bad);
  assert.is((await post(proxy, `/backends/default/${HOST}:1/drain`)).status, 404);
  assert.is((await post(proxy, `/backends/nopool/${target}/drain`)).status, 404);
  // A malformed %-escape is a 400, not an exception in the handler (which would end the process).
  assert.is((await post(proxy, '/backends/default/%E0%A4%A/drain')).status, 400);
  const admin = proxy.adminAddress();
  assert.ok(admin !== null);
  const raw = await connect(c, admin.port);
  await raw.write('GET //[bad/x HTTP/1.1\r\nHost: admin\r\n\r\n');
  assert.is((await raw.readResponse()).status, 400, 'a target that is no URL path');
  assert.is((await post(proxy, `/backends/default/${target}/drain`)).status, 200, 'still serving');
  assert.is((await fetch(adminUrl(proxy, `/backends/default/${target}/drain`))).status, 405);
}));

test('admin.token: a POST without it, or with another, gets 401 and changes nothing; with it, 200', () => withCleanup(async (c) => {
  const backends = await helloBackends(c, 2);
  const { proxy } = await startProxy(c, backends, { admin: { host: HOST, port: 0 }, adminToken: 's3cret-token' });
  const target = `${HOST}:${backends[0]?.port}`;
  const none = await post(proxy, `/backends/default/${target}/drain`);
  assert.is(none.status, 401);
  assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
  assert.is((await post(proxy, `/backends/default/${target}/drain`, 'wrong')).status, 401);
  assert.is((await post(proxy, `/backends/default/${target}/drain`, 's3cret-toke')).status, 401, 'a prefix of it');
  assert.is((await backendStatus(proxy, target)).state, 'up', 'nothing changed');
  const lowerScheme = await fetch(adminUrl(proxy, `/backends/default/${target}/return`), { method: 'POST', headers: { Authorization: 'bearer s3cret-token' } });
  assert.is(lowerScheme.status, 200, 'the scheme in any case');
  assert.is((await post(proxy, `/backends/default/${target}/drain`, 's3cret-token')).status, 200);
  assert.is((await backendStatus(proxy, target)).state, 'draining');
  assert.is((await fetch(adminUrl(proxy, '/metrics'))).status, 200, 'reads need no token');
}));

test('a POST a browser sends from another site gets 403, token or none; from the admin page itself, it goes through', () => withCleanup(async (c) => {
  const backends = await helloBackends(c, 2);
  const { proxy } = await startProxy(c, backends, { admin: { host: HOST, port: 0 } });
  const target = `${HOST}:${backends[0]?.port}`;
  const from = (origin: string): Promise<Response> => fetch(adminUrl(proxy, `/backends/default/${target}/drain`), { method: 'POST', headers: { Origin: origin } });
  assert.is((await from('https://evil.example')).status, 403);
  assert.is((await from('null')).status, 403);
  assert.is((await backendStatus(proxy, target)).state, 'up', 'nothing changed');
  const own = new URL(adminUrl(proxy, '/')).origin;
  assert.is((await from(own)).status, 200);
  assert.is((await backendStatus(proxy, target)).state, 'draining');
}));

test.run();
