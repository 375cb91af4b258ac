/**
 * Issue #14, reloads with worker processes: SIGHUP to the primary validates the config once and
 * applies it to every worker or to none.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnProxy } from '../../kit/child-proxy.js';
import { GET } from '../../kit/raw-client.js';
import { closedPort, connect, HOST, refused, startUrlEcho, waitFor, withCleanup, type Cleanup } from '../../kit/harness.js';

/** The bodies of `n` requests, one connection each (so every worker answers some). */
async function bodies(c: Cleanup, port: number, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const client = await connect(c, port);
    await client.write(GET(`/r${i}`));
    out.push((await client.readResponse()).body.toString().split(' ')[0] ?? '');
    client.close();
  }
  return out;
}

test('SIGHUP with two workers: every worker takes the new config; a broken one and one that cannot listen change none', () => withCleanup(async (c) => {
  const dir = mkdtempSync(join(tmpdir(), 'chanlb-workers-reload-'));
  c.add({ close: () => rmSync(dir, { recursive: true, force: true }) });
  const file = join(dir, 'chanlb.yaml');
  const first = await startUrlEcho(c, 'first');
  const second = await startUrlEcho(c, 'second');
  const port = await closedPort();
  const listen = `listen:\n  - ${HOST}:${port}\n`;
  writeFileSync(file, `${listen}backends:\n  - ${HOST}:${first.port}\n`);
  const proxy = c.add(await spawnProxy(['--config', file, '--workers', '2'], 10_000, false));
  assert.equal(new Set(await bodies(c, proxy.port, 10)), new Set(['first']));

  writeFileSync(file, `${listen}backends:\n  - ${HOST}:${second.port}\n`);
  proxy.child.kill('SIGHUP');
  await waitFor('the reload logged', () => /"event":"reloaded"/.test(proxy.output()), 10_000);
  assert.equal(new Set(await bodies(c, proxy.port, 10)), new Set(['second']), 'both workers serve from the new backend');

  writeFileSync(file, `${listen}backends:\n  - ${HOST}:${first.port}\ntimeouts:\n  conect: 5s\n`);
  proxy.child.kill('SIGHUP');
  await waitFor('the broken config rejected', () => (proxy.output().match(/"event":"reload_rejected"/g) ?? []).length === 1, 10_000);
  assert.equal(new Set(await bodies(c, proxy.port, 10)), new Set(['second']));

  // A second listener on a port someone else holds: no worker can open it, so none changes.
  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen(0, HOST, () => resolve()));
  c.add({ close: () => new Promise<void>((resolve) => squatter.close(() => resolve())) });
  const taken = (squatter.address() as net.AddressInfo).port;
  writeFileSync(file, `listen:\n  - ${HOST}:${proxy.port}\n  - ${HOST}:${taken}\nbackends:\n  - ${HOST}:${first.port}\n`);
  proxy.child.kill('SIGHUP');
  await waitFor('the unlistenable config rejected', () => (proxy.output().match(/"event":"reload_rejected"/g) ?? []).length === 2, 10_000, () => proxy.output());
  assert.match(proxy.output(), new RegExp(`reload rejected.*${taken}`));
  assert.equal(new Set(await bodies(c, proxy.port, 10)), new Set(['second']), 'every worker kept the config before');
  assert.ok(!(await refused(proxy.port)));
}));

test('a scrape after a reload closed a listener whose clients are still connected: every worker answers, the listener still counted', () => withCleanup(async (c) => {
  const dir = mkdtempSync(join(tmpdir(), 'chanlb-workers-scrape-'));
  c.add({ close: () => rmSync(dir, { recursive: true, force: true }) });
  const file = join(dir, 'chanlb.yaml');
  const backend = await startUrlEcho(c, 'b');
  const [first, second, admin] = [await closedPort(), await closedPort(), await closedPort()];
  const config = (ports: number[]): string => `listen:\n${ports.map((p) => `  - ${HOST}:${p}\n`).join('')}backends:\n  - ${HOST}:${backend.port}\nadmin:\n  listen: ${HOST}:${admin}\n`;
  writeFileSync(file, config([first, second]));
  const proxy = c.add(await spawnProxy(['--config', file, '--workers', '2'], 10_000, false));
  // A keep-alive client on each worker (connections are handed out in turn), on the listener that goes.
  const clients = [await connect(c, second), await connect(c, second)];
  for (const client of clients) {
    await client.write(GET('/kept'));
    assert.is((await client.readResponse()).status, 200);
  }
  writeFileSync(file, config([first]));
  proxy.child.kill('SIGHUP');
  await waitFor('the reload logged', () => /"event":"reloaded"/.test(proxy.output()), 10_000);
  const res = await fetch(`http://${HOST}:${admin}/metrics`);
  assert.is(res.status, 200);
  const text = await res.text();
  assert.match(text, new RegExp(`chanlb_client_connections\\{listener="${HOST}:${second}"\\} 2`), 'the closed listener\'s two clients');
  assert.not.match(proxy.output(), /exited with code/, 'no worker died');
  for (const client of clients) {
    await client.write(GET('/still'));
    assert.is((await client.readResponse()).status, 200, 'the clients of the closed listener are still served');
  }
}));

test.run();
