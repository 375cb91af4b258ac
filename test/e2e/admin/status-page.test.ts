/**
 * Issue #13, the status page in a real browser: headless Chromium (Debian's `chromium`, driven by
 * playwright-core) loads /status, finds every backend, sees the numbers change under load without a
 * reload, and saves a screenshot (.run/status-page.png; docs/status-page.png is one of these).
 * Without chromium this test alone is skipped, and says so.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { GET } from '../../kit/raw-client.js';
import { LoadLoop } from '../../kit/load-loop.js';
import { helloBackends, HOST, startProxy, withCleanup } from '../../kit/harness.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const RUN_DIR = fileURLToPath(new URL('../../../../.run/', import.meta.url));

test('the status page in headless Chromium: every backend, live numbers without a reload, a screenshot', () => withCleanup(async (c) => {
  if (CHROMIUM === undefined) {
    console.log('  skipped: chromium not installed (apt-get install -y chromium)');
    return;
  }
  const backends = await helloBackends(c, 3, 3);
  const { proxy, port } = await startProxy(c, backends, { admin: { host: HOST, port: 0 } });
  const admin = proxy.adminAddress();
  assert.ok(admin !== null);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  c.add({ close: () => browser.close() });
  const page = await browser.newPage({ viewport: { width: 1440, height: 480 } });
  await page.goto(`http://${HOST}:${admin.port}/status`);
  for (const b of backends) await page.locator(`tr[data-backend="${HOST}:${b.port}"]`).waitFor({ timeout: 10_000 });
  const served = async (): Promise<number> => {
    let sum = 0;
    for (const text of await page.locator('td.count-2xx').allTextContents()) sum += Number(text);
    return sum;
  };
  assert.is(await served(), 0);
  const load = new LoadLoop(port, { clients: 8, request: (i, n) => GET(`/c${i}/${n}`) }).start();
  c.add({ close: async () => { await load.stop(); } });
  await load.waitForMore(200, 10_000);
  // Evaluated in the page: the 2xx counts the page shows, summed.
  const shown = "[...document.querySelectorAll('td.count-2xx')].reduce((sum, td) => sum + Number(td.textContent), 0)";
  await page.waitForFunction(`${shown} >= 200`, undefined, { timeout: 10_000 });
  const first = await served();
  await page.waitForFunction(`${shown} > ${first}`, undefined, { timeout: 10_000 });
  assert.ok((await page.locator('.order span.next').count()) === 1, 'the next backend is marked');
  assert.match((await page.locator('ol.picks li').first().textContent()) ?? '', /pending \d+\/weight 1 (beat|tied with)/);
  // The backends answer after 3 ms: every p50 shown is a latency of a few ms, not '-'.
  for (const text of await page.locator('td.p50').allTextContents()) {
    const p50 = Number(text);
    assert.ok(p50 >= 2 && p50 < 100, `p50 ${text} ms`);
  }
  // Rates by status class come from two snapshots: under load some backend shows 2xx/s > 0, none 5xx/s.
  await page.waitForFunction("[...document.querySelectorAll('td.rate-2xx')].some((td) => Number(td.textContent) > 0)", undefined, { timeout: 10_000 });
  for (const text of await page.locator('td.rate-5xx').allTextContents()) assert.is(Number(text), 0);
  // Eight clients on three backends: some backend's pending peaked at 2 or more in the last minute.
  const peaks = (await page.locator('td.peak').allTextContents()).map((t) => Number(t.split(' / ')[1]));
  assert.ok(peaks.some((p) => p >= 2), `peaks ${peaks.join(', ')}`);
  assert.is(await page.locator('#conn').textContent(), 'live');
  mkdirSync(RUN_DIR, { recursive: true });
  await page.screenshot({ path: `${RUN_DIR}status-page.png` });
}));

test.run();
