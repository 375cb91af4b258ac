/**
 * Issue #13, GET /metrics on the admin listener: exact counts after requests through real sockets,
 * the histogram's count, the text's syntax (and promtool's verdict where it is installed), and label
 * sets that stay bounded however many paths clients ask for.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Server } from '../../../src/server.js';
import { GET } from '../../kit/raw-client.js';
import { closedPort, connect, helloBackends, HOST, startProxy, withCleanup, type Cleanup } from '../../kit/harness.js';
import { parseExposition, valueOf, type Exposition } from '../../kit/prometheus-text.js';

async function scrape(proxy: Server): Promise<{ text: string; e: Exposition; contentType: string }> {
  const admin = proxy.adminAddress();
  assert.ok(admin !== null, 'the admin listener is open');
  const res = await fetch(`http://${HOST}:${admin.port}/metrics`);
  assert.is(res.status, 200);
  const text = await res.text();
  return { text, e: parseExposition(text), contentType: res.headers.get('content-type') ?? '' };
}

async function requests(c: Cleanup, port: number, paths: string[]): Promise<number[]> {
  const client = await connect(c, port);
  const statuses: number[] = [];
  for (const p of paths) {
    await client.write(GET(p));
    const res = await client.readResponse();
    statuses.push(res.status);
    if (!res.keepAlive) break;
  }
  return statuses;
}

test('after N requests the counters and the histogram count are exactly N, per backend and status class', () => withCleanup(async (c) => {
  const backends = await helloBackends(c, 2);
  const { proxy, port } = await startProxy(c, backends, { admin: { host: HOST, port: 0 } });
  const N = 37;
  const statuses = await requests(c, port, Array.from({ length: N }, (_, i) => `/r${i}`));
  assert.equal(statuses, Array(N).fill(200));
  const { e, contentType } = await scrape(proxy);
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  assert.is(valueOf(e, 'chanlb_requests_total', { code: '2xx' }), N);
  assert.is(valueOf(e, 'chanlb_requests_total'), N, 'nothing else counted');
  assert.is(valueOf(e, 'chanlb_request_duration_seconds_count'), N);
  assert.is(valueOf(e, 'chanlb_request_duration_seconds_bucket', { le: '+Inf' }), N);
  assert.is(valueOf(e, 'chanlb_backend_picks_total'), N);
  for (const b of backends) {
    const labels = { pool: 'default', backend: `${HOST}:${b.port}` };
    const served = proxy.stats().workers.find((w) => w.name === labels.backend)?.served ?? -1;
    assert.is(valueOf(e, 'chanlb_requests_total', { ...labels, code: '2xx' }), served);
    assert.is(valueOf(e, 'chanlb_backend_up', labels), 1);
    assert.is(valueOf(e, 'chanlb_backend_pending', labels), 0);
    assert.is(valueOf(e, 'chanlb_backend_weight', labels), 1);
  }
  assert.ok(valueOf(e, 'chanlb_response_bytes_total') > N * 'Hello from 1\n'.length);
  assert.is(valueOf(e, 'chanlb_client_connections'), 1, 'the one client connection, still open');
  assert.is(valueOf(e, 'chanlb_build_info'), 1);
  assert.ok(e.types.get('chanlb_process_cpu_seconds_total') === 'counter', 'Node process metrics');
}));

test('the proxy\'s own answers are counted under backend "": 404 refusals, and 502s after a refused backend counted against it', () => withCleanup(async (c) => {
  const dead = await closedPort();
  const { proxy, port } = await startProxy(c, [{ port: dead }], { admin: { host: HOST, port: 0 }, failuresToEject: 100 });
  const bad = await requests(c, port, ['/x']);
  assert.equal(bad, [502]);
  const client = await connect(c, port);
  await client.write('GET /y HTTP/1.1\r\n\r\n'); // no Host: 400
  assert.is((await client.readResponse()).status, 400);
  const { e } = await scrape(proxy);
  assert.is(valueOf(e, 'chanlb_requests_total', { pool: '', backend: '', code: '4xx' }), 1);
  assert.is(valueOf(e, 'chanlb_requests_total', { pool: 'default', backend: `${HOST}:${dead}`, code: '5xx' }), 1);
  assert.is(valueOf(e, 'chanlb_requests_total'), 2);
}));

test('requests over a rate limit: chanlb_rate_limited_total by limit, and 4xx under backend ""', () => withCleanup(async (c) => {
  const backends = await helloBackends(c, 1);
  const { proxy, port } = await startProxy(c, backends, { admin: { host: HOST, port: 0 }, rateLimit: 1, rateBurst: 1 });
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) statuses.push(...(await requests(c, port, [`/r${i}`])));
  assert.equal(statuses, [200, 429, 429]);
  const { e } = await scrape(proxy);
  assert.is(valueOf(e, 'chanlb_rate_limited_total', { route: '*' }), 2);
  assert.is(valueOf(e, 'chanlb_requests_total', { backend: '', code: '4xx' }), 2);
  assert.is(valueOf(e, 'chanlb_requests_total', { code: '2xx' }), 1);
}));

test('label sets stay bounded: a thousand different paths add no series', () => withCleanup(async (c) => {
  const backends = await helloBackends(c, 1);
  const { proxy, port } = await startProxy(c, backends, { admin: { host: HOST, port: 0 } });
  await requests(c, port, ['/warm']);
  const before = (await scrape(proxy)).e.samples.filter((s) => s.name.startsWith('chanlb_') && !s.name.startsWith('chanlb_process') && !s.name.startsWith('chanlb_nodejs')).length;
  await requests(c, port, Array.from({ length: 1000 }, (_, i) => `/random/${i}/${Math.random().toString(36).slice(2)}`));
  const { e, text } = await scrape(proxy);
  const after = e.samples.filter((s) => s.name.startsWith('chanlb_') && !s.name.startsWith('chanlb_process') && !s.name.startsWith('chanlb_nodejs')).length;
  assert.is(after, before);
  assert.not.match(text, /random/);
}));

test('promtool check metrics accepts the text (skipped, saying so, when promtool is not installed)', () => withCleanup(async (c) => {
  if (spawnSync('promtool', ['--version']).error !== undefined) {
    console.log('  skipped: promtool not installed (apt-get install -y prometheus)');
    return;
  }
  const backends = await helloBackends(c, 1);
  const { proxy, port } = await startProxy(c, backends, { admin: { host: HOST, port: 0 } });
  await requests(c, port, ['/a', '/b']);
  const { text } = await scrape(proxy);
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'chanlb-metrics-')), 'metrics.txt');
  writeFileSync(file, text);
  execFileSync('sh', ['-c', `promtool check metrics < ${file}`]);
}));

test('the admin listener answers only GET /metrics: 404 elsewhere, 405 for other methods', () => withCleanup(async (c) => {
  const backends = await helloBackends(c, 1);
  const { proxy } = await startProxy(c, backends, { admin: { host: HOST, port: 0 } });
  const admin = proxy.adminAddress();
  assert.ok(admin !== null);
  assert.is((await fetch(`http://${HOST}:${admin.port}/nope`)).status, 404);
  assert.is((await fetch(`http://${HOST}:${admin.port}/metrics`, { method: 'POST' })).status, 405);
}));

test.run();
