import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, helloBackends, sleep, startProxy, withCleanup } from '../../kit/harness.js';
import { GET, headerValue } from '../../kit/raw-client.js';

test('rate limit: a burst per client address, then 429 with Retry-After; the backend never sees the refused request; tokens come back', () => withCleanup(async (c) => {
  const backends = await helloBackends(c, 1);
  const { proxy, port } = await startProxy(c, backends, { rateLimit: 2, rateBurst: 2 });
  const client = await connect(c, port);
  for (const path of ['/1', '/2']) {
    await client.write(GET(path));
    assert.is((await client.readResponse({ label: path })).status, 200, path);
  }
  await client.write(GET('/3'));
  const refused = await client.readResponse({ label: '/3' });
  assert.is(refused.status, 429);
  assert.is(headerValue(refused, 'retry-after'), '1');
  await client.waitForEnd(1_000);
  assert.is(proxy.stats().workers[0]?.served, 2, 'the refused request never reached the backend');
  await sleep(600); // 2 per second: a token is back after half a second
  const again = await connect(c, port);
  await again.write(GET('/4'));
  assert.is((await again.readResponse({ label: '/4' })).status, 200);
}));

test.run();
