/**
 * Issue #14, worker processes through the real CLI (`--workers 2`): both serve, the metrics sum
 * over them exactly, a worker killed with SIGKILL is replaced with no failed request afterwards, the
 * logs carry the worker's id, SIGTERM drains them all, and a worker that dies while starting stops
 * start-up rather than hanging it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StatusSnapshot } from '../../../src/admin/status.js';
import { runCli, spawnProxy, type ChildProxy } from '../../kit/child-proxy.js';
import { LoadLoop } from '../../kit/load-loop.js';
import { GET } from '../../kit/raw-client.js';
import { closedPort, connect, helloBackends, HOST, sleep, waitFor, withCleanup, type Cleanup } from '../../kit/harness.js';
import { parseExposition, valueOf, type Exposition } from '../../kit/prometheus-text.js';

const MAIN = fileURLToPath(new URL('../../../src/main.js', import.meta.url));

async function workersProxy(c: Cleanup, backends: { port: number }[], extra: string[] = []): Promise<{ proxy: ChildProxy; admin: number }> {
  const admin = await closedPort();
  const proxy = c.add(await spawnProxy(['--workers', '2', '--admin', `${HOST}:${admin}`, ...backends.flatMap((b) => ['--backend', `${HOST}:${b.port}`]), ...extra]));
  return { proxy, admin };
}

async function scrape(admin: number, perWorker = false): Promise<Exposition> {
  const res = await fetch(`http://${HOST}:${admin}/metrics${perWorker ? '?per_worker' : ''}`);
  assert.is(res.status, 200);
  return parseExposition(await res.text());
}

interface WorkerRow { id: number; pid: number; restarts: number }
async function workerRows(admin: number): Promise<WorkerRow[]> {
  const res = await fetch(`http://${HOST}:${admin}/status.json`);
  return ((await res.json()) as { workers: WorkerRow[] }).workers;
}

/** `n` requests, one connection each (the primary hands connections out in turn). */
async function oneEach(c: Cleanup, port: number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const client = await connect(c, port);
    await client.write(GET(`/one/${i}`));
    assert.is((await client.readResponse()).status, 200);
    client.close();
  }
}

test('two worker processes both serve; /metrics sums them exactly, and ?per_worker shows each', () => withCleanup(async (c) => {
  const backends = await helloBackends(c, 2);
  const { proxy, admin } = await workersProxy(c, backends);
  assert.match(proxy.output(), /2 worker processes, connections handed out by/);
  await oneEach(c, proxy.port, 40);
  const summed = await scrape(admin);
  assert.is(valueOf(summed, 'chanlb_requests_total', { code: '2xx' }), 40, 'every request counted once');
  assert.is(valueOf(summed, 'chanlb_request_duration_seconds_count'), 40, 'the histogram counts each once');
  assert.is(valueOf(summed, 'chanlb_worker_processes'), 2);
  const each = await scrape(admin, true);
  const one = valueOf(each, 'chanlb_requests_total', { code: '2xx', worker: '1' });
  const two = valueOf(each, 'chanlb_requests_total', { code: '2xx', worker: '2' });
  assert.is(one + two, 40);
  assert.ok(one >= 10 && two >= 10, `both workers served: ${one} and ${two}`);
  const status = (await (await fetch(`http://${HOST}:${admin}/status.json`)).json()) as StatusSnapshot & { workers: { requests: number }[] };
  const backendsSum = status.pools[0]?.backends.reduce((a, b) => a + (b.requests['2xx'] ?? 0), 0);
  assert.is(backendsSum, 40, 'status.json sums the workers too');
  assert.equal(status.workers.map((w) => w.requests).sort(), [one, two].sort());
}));

test('an admin action reaches every worker: a drained backend gets no request from any of them', () => withCleanup(async (c) => {
  const backends = await helloBackends(c, 2);
  const { proxy, admin } = await workersProxy(c, backends);
  const drained = `${HOST}:${backends[0]?.port}`;
  const res = await fetch(`http://${HOST}:${admin}/backends/default/${drained}/drain`, { method: 'POST' });
  assert.is(res.status, 200);
  assert.is(await res.text(), `${drained}: draining\n`);
  await oneEach(c, proxy.port, 20);
  const each = await scrape(admin, true);
  for (const worker of ['1', '2']) {
    assert.is(valueOf(each, 'chanlb_backend_picks_total', { backend: drained, worker }), 0, `worker ${worker} sent nothing to the drained backend`);
    assert.ok(valueOf(each, 'chanlb_backend_picks_total', { worker }) > 0, `worker ${worker} served`);
  }
  const missing = await fetch(`http://${HOST}:${admin}/backends/default/${HOST}:1/drain`, { method: 'POST' });
  assert.is(missing.status, 404);
}));

test('a worker killed with SIGKILL is replaced within 2 s; a load run afterwards has no failed request', () => withCleanup(async (c) => {
  const backends = await helloBackends(c, 2);
  const { proxy, admin } = await workersProxy(c, backends);
  const before = await workerRows(admin);
  assert.is(before.length, 2);
  const victim = before[0] as WorkerRow;
  // Two keep-alive connections: the primary hands them to the two workers in turn.
  const kept = [await connect(c, proxy.port), await connect(c, proxy.port)];
  for (const client of kept) {
    await client.write(GET('/before'));
    assert.is((await client.readResponse()).status, 200);
  }
  const killedAt = Date.now();
  process.kill(victim.pid, 'SIGKILL');
  let rows: WorkerRow[] = before;
  for (;;) {
    rows = await workerRows(admin);
    const slot = rows.find((r) => r.id === victim.id);
    if (rows.length === 2 && slot !== undefined && slot.pid !== victim.pid && slot.pid !== 0) break;
    assert.ok(Date.now() - killedAt < 2_000, `not replaced within 2 s: ${JSON.stringify(rows)}`);
    await sleep(20);
  }
  assert.is(rows.find((r) => r.id === victim.id)?.restarts, 1);
  assert.is(rows.find((r) => r.id !== victim.id)?.pid, before[1]?.pid, 'the other worker was not touched');
  // The connection the other worker holds goes on; the killed worker's is gone.
  const after = await Promise.all(kept.map(async (client) => {
    try {
      await client.write(GET('/after'));
      return (await client.readResponse()).status;
    } catch {
      return 0;
    }
  }));
  assert.equal(after.sort(), [0, 200], `one connection survives: ${after.join(', ')}`);
  const load = new LoadLoop(proxy.port, { clients: 8, request: (i, n) => GET(`/c${i}/${n}`) }).start();
  c.add({ close: async () => { await load.stop(); } });
  await load.waitForMore(2_000, 20_000);
  const result = await load.stop();
  assert.equal(result.failures, []);
  assert.match(proxy.output(), new RegExp(`"event":"worker_died".*worker ${victim.id} \\(pid ${victim.pid}\\) killed by SIGKILL`));
}));

test('a worker that dies before it is ready stops start-up with a line naming it, instead of hanging', async () => {
  const child = spawn(process.execPath, [MAIN, '--workers', '2', '--listen', `${HOST}:${await closedPort()}`, '--backend', `${HOST}:${await closedPort()}`], {
    stdio: ['ignore', 'pipe', 'pipe'], timeout: 15_000,
  });
  let output = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (output += s));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const children = (): number[] => {
    try {
      return readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'latin1').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  // A forked worker loads the whole proxy before it is ready: a kill on sight lands long before that.
  await waitFor('a worker process', () => children().length > 0, 10_000);
  process.kill(children()[0] as number, 'SIGKILL');
  const code = await exited;
  assert.ok(code !== 0 && code !== null, `exit status ${code}: ${output}`);
  assert.match(output, /chanlb: worker \d killed by SIGKILL before it was ready/);
  assert.not.match(output, /chanlb listening/);
});

test('an address the workers cannot listen on: one line naming it and exit status 2, as without workers', () => withCleanup(async (c) => {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, HOST, resolve));
  c.add({ close: () => taken.close() });
  const port = (taken.address() as AddressInfo).port;
  const exit = await runCli(['--workers', '2', '--listen', `${HOST}:${port}`, '--backend', `${HOST}:${await closedPort()}`]);
  assert.is(exit.code, 2, exit.stderr);
  assert.match(exit.stderr, `chanlb: cannot listen on ${HOST}:${port}: address already in use (EADDRINUSE)`);
}));

test('health checks run once, in the primary, and their verdict reaches every worker', () => withCleanup(async (c) => {
  const [good] = await helloBackends(c, 1);
  assert.ok(good !== undefined);
  let healthy = true;
  let checks = 0;
  let served = 0;
  const sick = http.createServer((req, res) => {
    if (req.url === '/health') {
      checks++;
      res.writeHead(healthy ? 200 : 503).end();
      return;
    }
    served++;
    res.writeHead(200).end('sick\n');
  });
  await new Promise<void>((resolve) => sick.listen(0, HOST, () => resolve()));
  c.add({ close: () => new Promise<void>((resolve) => { sick.closeAllConnections(); sick.close(() => resolve()); }) });
  const sickPort = (sick.address() as AddressInfo).port;
  const { proxy, admin } = await workersProxy(c, [good, { port: sickPort }], [
    '--health-check', 'http', '--health-check-path', '/health', '--health-check-interval', '100ms', '--health-check-jitter', '0',
    '--health-check-fall', '2', '--health-check-rise', '2',
  ]);
  const from = checks;
  const startedAt = Date.now();
  await sleep(1_500);
  const expected = ((Date.now() - startedAt) / 100);
  // One checker: about 15 in 1.5 s (a busy machine makes fewer); two would make about 30.
  assert.ok(checks - from <= expected * 1.3 + 2, `${checks - from} checks in ${Date.now() - startedAt} ms at 100 ms`);
  healthy = false;
  for (const deadline = Date.now() + 5_000; valueOf(await scrape(admin), 'chanlb_backend_up', { backend: `${HOST}:${sickPort}` }) !== 0;) {
    assert.ok(Date.now() < deadline, 'the sick backend never went down in every worker');
  }
  const servedBefore = served;
  await oneEach(c, proxy.port, 20);
  assert.is(served, servedBefore, 'no worker sent a request to the backend its check took down');
}));

test('a rate limit holds across workers: one client gets its burst and rate, not one per worker', () => withCleanup(async (c) => {
  const backends = await helloBackends(c, 1);
  const { proxy, admin } = await workersProxy(c, backends, ['--rate-limit', '5', '--rate-burst', '6']);
  const startedAt = Date.now();
  const statuses: number[] = [];
  for (let i = 0; i < 24; i++) {
    const client = await connect(c, proxy.port);
    await client.write(GET(`/limited/${i}`));
    statuses.push((await client.readResponse()).status);
    client.close();
  }
  const seconds = (Date.now() - startedAt) / 1000;
  const ok = statuses.filter((s) => s === 200).length;
  // The burst, and what the rate refills meanwhile; a limit per worker would let about twice the burst through.
  assert.ok(ok >= 6 && ok <= 6 + Math.floor(5 * seconds) + 1, `${ok} admitted in ${seconds.toFixed(2)} s: ${statuses.join(' ')}`);
  assert.ok(statuses.filter((s) => s === 429).length >= 24 - ok);
  const each = await scrape(admin, true);
  for (const worker of ['1', '2']) assert.ok(valueOf(each, 'chanlb_requests_total', { code: '2xx', worker }) + valueOf(each, 'chanlb_requests_total', { code: '4xx', worker }) > 0, `worker ${worker} answered some`);
  assert.is(valueOf(await scrape(admin), 'chanlb_rate_limited_total'), 24 - ok, 'the 429s, summed over the workers');
}));

test('access and error log lines carry the worker id', () => withCleanup(async (c) => {
  const dir = mkdtempSync(join(tmpdir(), 'chanlb-workers-'));
  c.add({ close: () => rmSync(dir, { recursive: true, force: true }) });
  const access = join(dir, 'access.log');
  const [backend] = await helloBackends(c, 1);
  assert.ok(backend !== undefined);
  const dead = await closedPort();
  const { proxy } = await workersProxy(c, [backend, { port: dead }], ['--access-log', 'json', '--access-log-file', access, '--log-level', 'warn']);
  await oneEach(c, proxy.port, 10);
  const lines = (): Record<string, unknown>[] => existsSync(access) ? readFileSync(access, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>) : [];
  await waitFor('ten access lines', () => lines().length >= 10, 5_000);
  const workers = new Set(lines().map((l) => l.worker));
  assert.equal([...workers].sort(), [1, 2], 'both workers, each naming itself');
  // The refused backend's failures are in the error log (stderr) of the worker that met them.
  await waitFor('a backend failure logged', () => /"event":"backend_failed"/.test(proxy.output()), 5_000);
  const failure = proxy.output().split('\n').find((l) => l.includes('"event":"backend_failed"')) ?? '';
  assert.match(failure, /"worker":[12]/);
}));

test('SIGTERM with workers: a request in flight finishes, then the primary and every worker exit', () => withCleanup(async (c) => {
  const [slow] = await helloBackends(c, 1, 400);
  assert.ok(slow !== undefined);
  const { proxy, admin } = await workersProxy(c, [slow]);
  const pids = (await workerRows(admin)).map((r) => r.pid);
  const client = await connect(c, proxy.port);
  await client.write(GET('/slow'));
  // The backend answers after 400 ms; pending is 1 once the request is in flight in some worker.
  for (const deadline = Date.now() + 5_000; valueOf(await scrape(admin), 'chanlb_backend_pending') !== 1;) {
    assert.ok(Date.now() < deadline, 'the request never showed as pending');
  }
  proxy.child.kill('SIGTERM');
  const res = await client.readResponse();
  assert.is(res.status, 200);
  assert.is(res.body.toString(), 'Hello from 1\n');
  const exit = await proxy.exitWithin(10_000);
  assert.is(exit.code, 0);
  for (const pid of pids) {
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    assert.not.ok(alive, `worker pid ${pid} exited`);
  }
}));

test.run();
