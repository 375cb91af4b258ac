/**
 * SIGHUP through the real CLI: the config file is re-read under load; a broken file is refused,
 * logged, and changes nothing.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startUrlEcho, waitFor, withCleanup } from '../../kit/harness.js';
import { spawnProxy } from '../../kit/child-proxy.js';
import { LoadLoop } from '../../kit/load-loop.js';
import { GET } from '../../kit/raw-client.js';

const config = (backendPort: number): string => `# written by sighup.test\nbackends:\n  - 127.0.0.1:${backendPort}\n`;

const logLines = (file: string): Record<string, unknown>[] =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>) : [];

test('SIGHUP under load: the new config serves new requests, none fails; a broken config is logged and the old one goes on', () => withCleanup(async (c) => {
  const dir = mkdtempSync(join(tmpdir(), 'chanlb-sighup-'));
  c.add({ close: () => rmSync(dir, { recursive: true, force: true }) });
  const file = join(dir, 'chanlb.yaml');
  const log = join(dir, 'error.log');
  const first = await startUrlEcho(c, 'first');
  const second = await startUrlEcho(c, 'second');
  writeFileSync(file, config(first.port));
  const proxy = c.add(await spawnProxy(['--config', file, '--log-file', log]));
  const load = new LoadLoop(proxy.port, { clients: 8, request: (i, n) => GET(`/c${i}/${n}?delay=${n % 3}`) }).start();
  c.add({ close: () => load.stop() });
  await load.waitForMore(200, 10_000);

  writeFileSync(file, config(second.port));
  proxy.child.kill('SIGHUP');
  await waitFor('responses from the second backend', () => [...load.bodies.keys()].some((b) => b.startsWith('second ')), 10_000);
  await load.waitForMore(200, 10_000);

  writeFileSync(file, `backends:\n  - 127.0.0.1:${second.port}\ntimeouts:\n  conect: 5s\n`);
  proxy.child.kill('SIGHUP');
  await waitFor('the rejected reload in the log', () => logLines(log).some((l) => l.event === 'reload_rejected'), 10_000);
  const secondBefore = [...load.bodies].filter(([b]) => b.startsWith('second ')).reduce((n, [, k]) => n + k, 0);
  await load.waitForMore(200, 10_000);
  const result = await load.stop();

  assert.equal(result.failures, [], 'no request failed across both reloads');
  const count = (name: string): number => [...result.bodies].filter(([b]) => b.startsWith(`${name} `)).reduce((n, [, k]) => n + k, 0);
  assert.ok(count('second') >= secondBefore + 200, 'the second backend went on serving after the broken reload');
  assert.ok(count('first') >= 200);
  const lines = logLines(log);
  const reloaded = lines.find((l) => l.event === 'reloaded');
  assert.ok(reloaded !== undefined && reloaded.level === 'info', JSON.stringify(lines));
  assert.match(String(reloaded.msg), /reloaded: listening on 127\.0\.0\.1:\d+/);
  const rejected = lines.find((l) => l.event === 'reload_rejected');
  assert.is(rejected?.level, 'error');
  assert.match(String(rejected?.msg), `${file}:4: timeouts.conect: expected one of the keys`);
}));

test('SIGHUP with the error log on stderr: one line about the reload, the JSON one', () => withCleanup(async (c) => {
  const dir = mkdtempSync(join(tmpdir(), 'chanlb-sighup-'));
  c.add({ close: () => rmSync(dir, { recursive: true, force: true }) });
  const file = join(dir, 'chanlb.yaml');
  const backend = await startUrlEcho(c, 'only');
  writeFileSync(file, config(backend.port));
  const proxy = c.add(await spawnProxy(['--config', file]));
  proxy.child.kill('SIGHUP');
  await waitFor('the reload in the error log', () => proxy.output().includes('"event":"reloaded"'), 10_000, () => proxy.output());
  proxy.child.kill('SIGTERM'); // everything the reload printed is out once the process has exited
  const { stdout, stderr } = await proxy.exitWithin(10_000);
  const about = (stdout + stderr).split('\n').filter((l) => /reload/i.test(l));
  assert.is(about.length, 1, JSON.stringify(about));
  assert.is((JSON.parse(about[0] ?? '') as Record<string, unknown>).event, 'reloaded');
}));

test.run();
