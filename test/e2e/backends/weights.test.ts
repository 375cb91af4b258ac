import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, helloBackends, startProxy, withCleanup } from '../../kit/harness.js';
import { GET } from '../../kit/raw-client.js';

test('backend weights: under concurrent load a weight-3 backend carries about three times the requests of a weight-1 one', () => withCleanup(async (c) => {
  const backends = await helloBackends(c, 2, 20);
  const [light, heavy] = backends;
  assert.ok(light !== undefined && heavy !== undefined);
  const { proxy, port } = await startProxy(c, [{ port: light.port, weight: 1 }, { port: heavy.port, weight: 3 }]);
  const clients = await Promise.all(Array.from({ length: 16 }, () => connect(c, port)));
  await Promise.all(clients.map(async (client, i) => {
    for (let n = 0; n < 15; n++) {
      await client.write(GET(`/c${i}/${n}`));
      assert.is((await client.readResponse()).status, 200);
    }
  }));
  const [a, b] = proxy.stats().workers.map((w) => w.served) as [number, number];
  assert.is(a + b, 240);
  const ratio = b / a;
  assert.ok(ratio > 2 && ratio < 4.5, `served ${a} and ${b}: ratio ${ratio.toFixed(2)}, expected about 3`);
}));

test.run();
