/**
 * Issue #15, TCP mode with a real protocol client: redis-benchmark through the proxy to two
 * redis-server backends; every request answered, both backends used. Skipped, saying so, without
 * redis-server and redis-benchmark (.ci/run installs redis-server, which brings redis-tools).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { spawnProxy } from '../../kit/child-proxy.js';
import { HOST, withCleanup } from '../../kit/harness.js';
import { hasRedis, RedisServer } from '../../kit/redis-server.js';
import { run } from '../../kit/command.js';

const BENCHMARK = ['/usr/bin/redis-benchmark', '/usr/local/bin/redis-benchmark'].find((p) => existsSync(p));
const CLI = ['/usr/bin/redis-cli', '/usr/local/bin/redis-cli'].find((p) => existsSync(p));

/** A redis-server's count of connections it has accepted. */
async function connectionsReceived(port: number): Promise<number> {
  const r = await run(CLI as string, ['-p', String(port), 'INFO', 'stats']);
  return Number(/total_connections_received:(\d+)/.exec(r.stdout)?.[1] ?? NaN);
}

test('redis-benchmark through TCP mode to two redis-servers: every request answered, both backends used', () => withCleanup(async (c) => {
  if (!hasRedis || BENCHMARK === undefined || CLI === undefined) {
    console.log('  skipped: redis-server, redis-cli and redis-benchmark are needed (apt-get install -y redis-server)');
    return;
  }
  const one = c.add(await RedisServer.start());
  const two = c.add(await RedisServer.start());
  const before = [await connectionsReceived(one.port), await connectionsReceived(two.port)];
  const proxy = c.add(await spawnProxy(['--mode', 'tcp', '--backend', `${HOST}:${one.port}`, '--backend', `${HOST}:${two.port}`]));
  const r = await run(BENCHMARK, ['-h', HOST, '-p', String(proxy.port), '-n', '2000', '-c', '8', '-t', 'set,get', '-q']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /SET: [\d.]+ requests per second/);
  assert.match(r.stdout, /GET: [\d.]+ requests per second/);
  assert.not.match(r.stdout + r.stderr, /error|ERR/i);
  const after = [await connectionsReceived(one.port), await connectionsReceived(two.port)];
  // Each INFO above is a connection too: more than the one INFO each means the benchmark's came through.
  assert.ok(after.every((n, i) => n - (before[i] as number) > 1), `connections per backend: ${before} -> ${after}`);
}));

test.run();
