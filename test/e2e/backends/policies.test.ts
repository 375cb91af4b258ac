/**
 * Each balancing policy's distribution, through real sockets: an even split when the backends are
 * alike, and what each does when one backend is slow.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, startProxy, startUrlEcho, withCleanup, type Cleanup } from '../../kit/harness.js';
import { startHello } from '../../../backends/hello.js';
import { LoadLoop } from '../../kit/load-loop.js';
import { GET } from '../../kit/raw-client.js';
import { POLICIES, type PolicyName } from '../../../src/options/vocabulary.js';

async function threeBackends(c: Cleanup) {
  return [await startUrlEcho(c, 'a'), await startUrlEcho(c, 'b'), await startUrlEcho(c, 'c')];
}

/** Responses per backend name from `n` requests one after another on one connection. */
async function sequential(c: Cleanup, port: number, n: number, path = '/'): Promise<Record<string, number>> {
  const client = await connect(c, port);
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    await client.write(GET(path));
    const name = (await client.readResponse()).body.toString().split(' ')[0] ?? '?';
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

test('one request at a time: round robin and least-pending take turns exactly; p2c reaches every backend', () => withCleanup(async (c) => {
  const backends = await threeBackends(c);
  for (const policy of POLICIES) {
    const { port } = await startProxy(c, backends, { policy });
    const counts = await sequential(c, port, 300);
    if (policy === 'p2c') {
      for (const name of ['a', 'b', 'c']) {
        assert.ok((counts[name] ?? 0) >= 50, `p2c: ${JSON.stringify(counts)}`);
      }
    } else {
      assert.equal(counts, { a: 100, b: 100, c: 100 }, policy);
    }
  }
}));

test('one slow backend under concurrent load: least-pending and p2c send it far less than round robin does', () => withCleanup(async (c) => {
  const backends = [
    c.add(await startHello({ name: 'fast1' })),
    c.add(await startHello({ name: 'fast2' })),
    c.add(await startHello({ name: 'slow', delayMs: 30 })),
  ];
  const slowShare: Partial<Record<PolicyName, number>> = {};
  for (const policy of POLICIES) {
    const { proxy, port } = await startProxy(c, backends, { policy });
    const load = new LoadLoop(port, { clients: 8, request: () => GET('/') }).start();
    await load.waitForMore(600, 15_000);
    const result = await load.stop();
    assert.equal(result.failures, [], policy);
    const served = proxy.stats().workers.map((w) => w.served);
    slowShare[policy] = (served[2] ?? 0) / served.reduce((x, y) => x + y, 0);
  }
  const shares = JSON.stringify(slowShare);
  // Round robin is blind to load: the slow backend gets its third. The others see its queue.
  assert.ok((slowShare['round-robin'] ?? 0) > 0.3, shares);
  assert.ok((slowShare['least-pending'] ?? 1) < 0.1, shares);
  assert.ok((slowShare.p2c ?? 1) < 0.15, shares);
}));

test.run();
