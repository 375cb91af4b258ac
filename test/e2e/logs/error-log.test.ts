import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedPort, connect, helloBackends, startProxy, withCleanup, type Cleanup } from '../../kit/harness.js';
import { GET } from '../../kit/raw-client.js';

function logFile(c: Cleanup): string {
  const dir = mkdtempSync(join(tmpdir(), 'chanlb-error-log-'));
  c.add({ close: () => rmSync(dir, { recursive: true, force: true }) });
  return join(dir, 'error.log');
}

const lines = (file: string): Record<string, unknown>[] =>
  readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);

test('error log: backend failures (warn), ejections (error), refused requests (info), as JSON lines', () => withCleanup(async (c) => {
  const file = logFile(c);
  const dead = await closedPort();
  const { proxy, port } = await startProxy(c, [{ port: dead }], { logLevel: 'info', logTo: file, failuresToEject: 2, ejectCooldownMs: 60_000 });
  for (const path of ['/1', '/2']) {
    const client = await connect(c, port);
    await client.write(GET(path));
    assert.is((await client.readResponse()).status, 502);
  }
  const bad = await connect(c, port);
  await bad.write('GET /no-host HTTP/1.1\r\n\r\n');
  assert.is((await bad.readResponse()).status, 400);
  await proxy.close(); // flushes the log

  const got = lines(file);
  const failed = got.filter((l) => l.event === 'backend_failed');
  assert.is(failed.length, 2, JSON.stringify(got));
  assert.is(failed[0]?.level, 'warn');
  assert.is(failed[0]?.backend, `127.0.0.1:${dead}`);
  assert.is(failed[0]?.code, 'PRX_ERR_BACKEND_CONNECT');
  assert.is(failed[0]?.status, 502);
  assert.match(String(failed[0]?.msg), `cannot connect to backend 127.0.0.1:${dead}`);
  const ejected = got.find((l) => l.event === 'backend_ejected');
  assert.is(ejected?.level, 'error');
  assert.is(ejected?.failures, 2);
  assert.is(ejected?.cooldown_ms, 60_000);
  const down = got.find((l) => l.event === 'pool_down');
  assert.equal({ level: down?.level, pool: down?.pool }, { level: 'error', pool: 'default' }, 'its only backend out: the pool is down');
  const refused = got.find((l) => l.event === 'request_refused');
  assert.equal({ level: refused?.level, client: refused?.client, status: refused?.status, reason: refused?.reason },
    { level: 'info', client: '127.0.0.1', status: 400, reason: 'no Host header' });
  for (const line of got) assert.ok(!Number.isNaN(Date.parse(String(line.time))), `an ISO time: ${String(line.time)}`);
}));

test('error log: the level filters (warn drops refused requests); silent writes nothing', () => withCleanup(async (c) => {
  const file = logFile(c);
  const backends = await helloBackends(c, 1);
  const { proxy, port } = await startProxy(c, backends, { logLevel: 'warn', logTo: file, rateLimit: 1, rateBurst: 1 });
  const client = await connect(c, port);
  await client.write(GET('/1'));
  assert.is((await client.readResponse()).status, 200);
  await client.write(GET('/2'));
  assert.is((await client.readResponse()).status, 429);
  await proxy.close();
  assert.equal(lines(file), []);
}));

test.run();
