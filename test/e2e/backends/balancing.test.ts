/**
 * End-to-end: balancing under load, backend connection reuse, and pending counts returning to zero.
 * Real sockets on 127.0.0.1, ephemeral ports; everything is closed at the end of each test.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GET, type RawClient } from '../../kit/raw-client.js';
import { connect, echoBackends, helloBackends, startProxy, waitFor, waitForIdle, withCleanup, type Cleanup } from '../../kit/harness.js';

/** Runs `clients` connections at once, each sending `perClient` keep-alive requests one after another. */
async function load(
  c: Cleanup, port: number, clients: number, perClient: number,
  check: (body: string, client: number, i: number) => void,
): Promise<void> {
  const sockets: RawClient[] = [];
  for (let k = 0; k < clients; k++) sockets.push(await connect(c, port));
  await Promise.all(sockets.map(async (client, k) => {
    for (let i = 0; i < perClient; i++) {
      await client.write(GET(`/c${k}/r${i}`));
      const res = await client.readResponse();
      assert.is(res.status, 200, `client ${k} request ${i}: status`);
      assert.ok(res.keepAlive, `client ${k} request ${i}: keep-alive`);
      check(res.body.toString('latin1'), k, i);
    }
  }));
  for (const client of sockets) assert.not.ok(client.peerEnded, 'a keep-alive connection was closed by the proxy');
}

test('balances 200 clients x 50 keep-alive requests over 3 backends, every body checked, roughly evenly', () => withCleanup(async (c) => {
  const backends = await helloBackends(c, 3);
  const { proxy, port } = await startProxy(c, backends);
  const CLIENTS = 200;
  const PER_CLIENT = 50;
  const TOTAL = CLIENTS * PER_CLIENT;
  const seen = new Map<string, number>();
  await load(c, port, CLIENTS, PER_CLIENT, (body, k, i) => {
    const m = /^Hello from ([123])\n$/.exec(body);
    assert.ok(m !== null, `client ${k} request ${i}: unexpected body ${JSON.stringify(body)}`);
    const name = m?.[1] ?? '';
    seen.set(name, (seen.get(name) ?? 0) + 1);
  });
  assert.equal([...seen.keys()].sort(), ['1', '2', '3'], 'all three backends answered');
  const counts = [...seen.values()];
  assert.is(counts.reduce((a, b) => a + b, 0), TOTAL);
  // Even is 3,333 each; least-pending with equal backends must not starve or favour one.
  for (const [name, n] of seen) {
    assert.ok(n >= TOTAL * 0.25 && n <= TOTAL * 0.42, `backend ${name} served ${n} of ${TOTAL}: ${JSON.stringify([...seen])}`);
  }
  await waitForIdle(proxy);
  const workers = proxy.stats().workers;
  assert.is(workers.reduce((a, w) => a + w.served, 0), TOTAL, 'served counts add up');
  assert.is(workers.reduce((a, w) => a + w.failed, 0), 0, 'no failures');
}));

test('backends see few connections: at most maxConnectionsPerBackend each, far fewer than requests', () => withCleanup(async (c) => {
  const CAP = 8;
  const echoes = await echoBackends(c, 3);
  const { proxy, port } = await startProxy(c, echoes, { maxConnectionsPerBackend: CAP });
  const CLIENTS = 100;
  const PER_CLIENT = 30;
  const TOTAL = CLIENTS * PER_CLIENT;
  await load(c, port, CLIENTS, PER_CLIENT, (body, k, i) => {
    const report = JSON.parse(body) as { url: string };
    assert.is(report.url, `/c${k}/r${i}`);
  });
  await waitForIdle(proxy);
  const requests = echoes.reduce((a, e) => a + e.stats().requests, 0);
  assert.is(requests, TOTAL, 'every request reached a backend exactly once');
  const stats = proxy.stats();
  for (const [i, echo] of echoes.entries()) {
    const { connections } = echo.stats();
    const worker = stats.workers[i];
    assert.ok(worker !== undefined);
    assert.ok(connections >= 1 && connections <= CAP, `backend ${i + 1} accepted ${connections} connections (cap ${CAP})`);
    assert.is(worker?.dialled, connections, `worker ${worker?.name}: dialled matches the backend's count`);
    assert.ok((worker?.open ?? Infinity) <= CAP, `worker ${worker?.name}: ${worker?.open} open`);
  }
  const connections = echoes.reduce((a, e) => a + e.stats().connections, 0);
  assert.ok(connections * 50 <= TOTAL, `${connections} backend connections for ${TOTAL} requests`);
}));

test('pending counts return to zero when clients abort with requests in flight', () => withCleanup(async (c) => {
  const backends = await helloBackends(c, 3, 100);
  const { proxy, port } = await startProxy(c, backends);
  const clients: RawClient[] = [];
  for (let k = 0; k < 30; k++) {
    const client = await connect(c, port);
    await client.write(GET(`/a${k}`) + GET(`/b${k}`) + GET(`/c${k}`));
    clients.push(client);
  }
  await waitFor('requests to be dispatched', () => proxy.stats().workers.reduce((a, w) => a + w.pending, 0) > 0, 2_000);
  for (const client of clients) client.close();
  await waitForIdle(proxy);
  await waitFor('the proxy to drop the closed clients', () => proxy.stats().clients === 0, 2_000);
  // The proxy still works afterwards.
  const client = await connect(c, port);
  await client.write(GET('/after'));
  const res = await client.readResponse();
  assert.is(res.status, 200);
  assert.match(res.body.toString(), /^Hello from [123]\n$/);
  await waitForIdle(proxy);
}));

test.run();
