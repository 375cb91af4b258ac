// Question: what does a rate limit kept in Redis cost each request? The proxy asks Redis for
// leases of up to 4 tokens (one EVALSHA each) and spends them locally, so a busy client's requests
// cost a quarter of an ask each. This measures an ask against a real redis-server on this machine:
// its latency one at a time and 64 at once, and the proxy process's CPU per ask.
// Run: `node dist/bench/load/redis-store.js` (needs redis-server: apt-get install -y redis-server).
import { RedisLeaseSource } from '../../src/routing/redis-lease-source.js';
import { hasRedis, RedisServer } from '../../test/kit/redis-server.js';

const ASKS = 20_000;
const WANT = 4;

function ask(source: RedisLeaseSource, client: string): Promise<number> {
  return new Promise((resolve) => source.lease('*', client, WANT, (granted) => resolve(granted)));
}

async function measure(source: RedisLeaseSource, concurrency: number): Promise<{ usPerAsk: number; cpuUsPerAsk: number }> {
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < ASKS) {
      const i = next++;
      await ask(source, `10.0.${(i >> 8) & 255}.${i & 255}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const wall = performance.now() - t0;
  const used = process.cpuUsage(cpu);
  return { usPerAsk: (wall * 1000) / ASKS, cpuUsPerAsk: (used.user + used.system) / ASKS };
}

async function main(): Promise<void> {
  if (!hasRedis) {
    console.log('redis-store bench: redis-server is not installed (apt-get install -y redis-server)');
    return;
  }
  const redis = await RedisServer.start();
  const source = new RedisLeaseSource(redis.url, 'closed', new Map([['*', { rate: 1e9, burst: 1e9 }]]), null);
  while (!source.stats.up) await new Promise((resolve) => setTimeout(resolve, 20));
  await measure(source, 16); // warm-up: the script loaded, the JIT warm
  const rows = [];
  for (const concurrency of [1, 64]) {
    const r = await measure(source, concurrency);
    rows.push(`| ${concurrency} | ${r.usPerAsk.toFixed(1)} | ${r.cpuUsPerAsk.toFixed(1)} | ${(r.cpuUsPerAsk / WANT).toFixed(1)} |`);
  }
  console.log(`| asks at once | wall µs per ask | proxy CPU µs per ask | proxy CPU µs per request (${WANT} per ask) |`);
  console.log('| ---: | ---: | ---: | ---: |');
  for (const row of rows) console.log(row);
  if (source.stats.failures > 0) console.log(`(${source.stats.failures} asks failed)`);
  await source.close();
  await redis.stop();
}

await main();
