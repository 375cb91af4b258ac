/**
 * Issue #16, backends found through DNS (`dns:NAME:PORT`), against the test kit's DNS server on
 * 127.0.0.1: addresses that appear join and those that disappear drain and leave under load with no
 * failed request, and leave the metrics; a failing or empty answer keeps the last set (logged once
 * per change of state); the TTL is followed within dns.min_interval and dns.max_interval; a reload
 * keeps an unchanged pool's backends; with --workers 2 the primary looks the name up for both.
 *
 * The backends listen on one port of 127.0.0.1, 127.0.0.2 and 127.0.0.3 (all loopback on Linux),
 * so that the addresses the name resolves to are the backends.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHello } from '../../../backends/hello.js';
import type { BackendHandle } from '../../../backends/serve.js';
import type { Server } from '../../../src/server.js';
import { withDefaults, type ProxyOptions } from '../../../src/options/options.js';
import { spawnProxy } from '../../kit/child-proxy.js';
import { DnsServer } from '../../kit/dns-server.js';
import { closedPort, connect, helloBackends, HOST, sleep, startProxy, waitFor, withCleanup, type Cleanup } from '../../kit/harness.js';
import { LoadLoop } from '../../kit/load-loop.js';
import { GET } from '../../kit/raw-client.js';

const NAME = 'api.chanlb.test';
const ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];

/** Hello backends named 1, 2, 3 on one port of each address. */
async function backends(c: Cleanup, delayMs = 0): Promise<number> {
  const first: BackendHandle = c.add(await startHello({ name: '1', host: ADDRESSES[0], delayMs }));
  for (const [i, host] of ADDRESSES.entries()) if (i > 0) c.add(await startHello({ name: String(i + 1), host, port: first.port, delayMs }));
  return first.port;
}

async function dnsServer(c: Cleanup, addresses: string[], ttl = 0): Promise<DnsServer> {
  const dns = c.add(await DnsServer.start());
  dns.set(NAME, { a: addresses, ttl });
  return dns;
}

function dnsOptions(dns: DnsServer, port: number, extra: Partial<ProxyOptions> = {}): Partial<ProxyOptions> {
  return { backends: [{ host: NAME, port, dns: true }], dnsServers: [dns.address], dnsMinIntervalMs: 50, dnsMaxIntervalMs: 200, dnsTimeoutMs: 100, ...extra };
}

/** The backends of the default pool now, by name. */
const members = (proxy: Server): string[] => (proxy.stats().pools[0]?.workers ?? []).map((w) => w.name).sort();
const hello = (n: number): string => `Hello from ${n}\n`;
const at = (port: number, ...n: number[]): string[] => n.map((i) => `127.0.0.${i}:${port}`);

test('dns: addresses that appear join the pool, those that disappear drain and leave, under load with no failed request; a backend that left leaves the metrics', () => withCleanup(async (c) => {
  const port = await backends(c, 5);
  const dns = await dnsServer(c, ['127.0.0.1']);
  const { proxy, port: proxyPort } = await startProxy(c, [], { ...dnsOptions(dns, port), admin: { host: HOST, port: 0 } });
  assert.equal(members(proxy), at(port, 1), 'the first answer is there before the first request');
  const load = new LoadLoop(proxyPort, { clients: 8, request: (i, n) => GET(`/${i}/${n}`) }).start();
  c.add({ close: () => load.stop() }); // stopped even if the test fails first
  await load.waitForMore(50);
  dns.set(NAME, { a: ADDRESSES, ttl: 0 });
  await waitFor('backends 2 and 3 to serve', () => (load.bodies.get(hello(2)) ?? 0) > 20 && (load.bodies.get(hello(3)) ?? 0) > 20);
  dns.set(NAME, { a: ['127.0.0.3'], ttl: 0 });
  await waitFor('backends 1 and 2 to leave', () => members(proxy).join() === at(port, 3).join(), 5_000, () => members(proxy).join());
  const before = new Map(load.bodies);
  await load.waitForMore(100);
  const result = await load.stop();
  assert.equal(result.failures, [], 'no request failed');
  assert.is(result.bodies.get(hello(1)), before.get(hello(1)), 'nothing went to backend 1 once it had left');
  const admin = proxy.adminAddress();
  const metrics = await (await fetch(`http://${HOST}:${admin?.port}/metrics`)).text();
  assert.ok(metrics.includes(`backend="127.0.0.3:${port}"`));
  assert.not.ok(metrics.includes(`backend="127.0.0.1:${port}"`), 'a backend that left is dropped from the metrics');
  const status = await (await fetch(`http://${HOST}:${admin?.port}/status.json`)).text();
  assert.not.ok(status.includes(`127.0.0.2:${port}`), 'and from the status');
}));

test('dns: a failing, silent or empty answer keeps the last set, logged once per change of state, not per attempt', () => withCleanup(async (c) => {
  const port = await backends(c);
  const dns = await dnsServer(c, ['127.0.0.1', '127.0.0.2']);
  const logFile = join(mkdtempSync(join(tmpdir(), 'chanlb-dns-')), 'error.log');
  const { proxy, port: proxyPort } = await startProxy(c, [], { ...dnsOptions(dns, port), logLevel: 'info', logTo: logFile });
  const events = (): string[] => readFileSync(logFile, 'utf8').split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { event: string }).event);
  const client = await connect(c, proxyPort);
  const lookupsAfter = async (n: number): Promise<void> => {
    const target = dns.lookups(NAME).length + n;
    await waitFor(`${n} more lookups`, () => dns.lookups(NAME).length >= target);
  };
  for (const mode of ['servfail', 'silent'] as const) {
    dns.mode = mode;
    await lookupsAfter(4);
    assert.equal(members(proxy), at(port, 1, 2), `${mode}: the last set is kept`);
    await client.write(GET('/'));
    assert.is((await client.readResponse()).status, 200);
  }
  dns.mode = 'answer';
  dns.set(NAME, undefined); // NXDOMAIN
  await lookupsAfter(4);
  assert.equal(members(proxy), at(port, 1, 2), 'NXDOMAIN: the last set is kept');
  dns.set(NAME, { a: ['127.0.0.2'], ttl: 0 });
  await waitFor('backend 1 to leave', () => members(proxy).join() === at(port, 2).join());
  const dnsEvents = (): string[] => events().filter((e) => e.startsWith('dns_'));
  await waitFor('the last change in the log', () => dnsEvents().length >= 5, 2_000, () => dnsEvents().join());
  assert.equal(dnsEvents(), ['dns_changed', 'dns_failed', 'dns_empty', 'dns_answering', 'dns_changed'],
    'the first set; failed once (SERVFAIL, then timeouts); empty once; answering again, with a change');
}));

test('dns: the next lookup comes after the TTL, but not sooner than dns.min_interval nor later than dns.max_interval', () => withCleanup(async (c) => {
  const port = await backends(c);
  const dns = await dnsServer(c, ['127.0.0.1'], 0);
  await startProxy(c, [], dnsOptions(dns, port, { dnsMinIntervalMs: 200, dnsMaxIntervalMs: 1_500 }));
  /** The gap between the next two lookups, once one with the TTL now set has been answered. */
  const gapWith = async (ttl: number): Promise<number> => {
    dns.set(NAME, { a: ['127.0.0.1'], ttl });
    const seen = dns.lookups(NAME).length;
    await waitFor('three more lookups', () => dns.lookups(NAME).length >= seen + 3, 6_000);
    const times = dns.lookups(NAME);
    return (times[seen + 2] as number) - (times[seen + 1] as number);
  };
  const tick = 50; // a quarter of the shortest interval
  const short = await gapWith(0);
  assert.ok(short >= 190 && short <= 200 + 2 * tick + 50, `TTL 0: ${short} ms, dns.min_interval is 200`);
  const ttl = await gapWith(1);
  assert.ok(ttl >= 990 && ttl <= 1_000 + 2 * tick + 50, `TTL 1 s: ${ttl} ms`);
  const long = await gapWith(3_600);
  assert.ok(long >= 1_490 && long <= 1_500 + 2 * tick + 50, `TTL 1 h: ${long} ms, dns.max_interval is 1.5 s`);
}));

test('dns: a reload keeps an unchanged pool with its backends, even with DNS silent; a changed pool starts with the set known', () => withCleanup(async (c) => {
  const port = await backends(c);
  const dns = await dnsServer(c, ['127.0.0.1', '127.0.0.3']);
  const options = { listen: [{ host: HOST, port: 0 }], logLevel: 'silent' as const, ...dnsOptions(dns, port) };
  const { proxy, port: proxyPort } = await startProxy(c, [], options);
  dns.mode = 'silent';
  // Requests served so far, summed over the pool's backends: a kept pool keeps its counts, a rebuilt one starts at 0.
  const served = (): number => (proxy.stats().pools[0]?.workers ?? []).reduce((n, w) => n + w.served, 0);
  const client = await connect(c, proxyPort);
  for (let i = 0; i < 4; i++) {
    await client.write(GET(`/${i}`));
    assert.is((await client.readResponse()).status, 200);
  }
  assert.is(served(), 4);
  await proxy.reload(withDefaults({ ...options, backends: options.backends ?? [], maxPipeline: 8 }));
  assert.equal(members(proxy), at(port, 1, 3), 'unchanged: kept');
  assert.is(served(), 4, 'the same pool, its counts with it');
  await proxy.reload(withDefaults({ ...options, backends: options.backends ?? [], policy: 'round-robin' }));
  assert.is(served(), 0, 'rebuilt');
  assert.equal(members(proxy), at(port, 1, 3), 'rebuilt: the set the name has');
  await client.write(GET('/'));
  assert.is((await client.readResponse()).status, 200);
}));

test('dns: a reload that adds a name has its backends when it returns, as at start-up (no 503 until the first answer)', () => withCleanup(async (c) => {
  const port = await backends(c);
  const dns = await dnsServer(c, ['127.0.0.2']);
  const [fixed] = await helloBackends(c, 1);
  assert.ok(fixed !== undefined);
  const options = { listen: [{ host: HOST, port: 0 }], logLevel: 'silent' as const, ...dnsOptions(dns, port) };
  const { proxy } = await startProxy(c, [fixed], { ...options, backends: [{ host: HOST, port: fixed.port }] });
  await proxy.reload(withDefaults({ ...options, backends: options.backends ?? [] }));
  assert.equal(members(proxy), at(port, 2));
}));

test('dns: with --workers 2 the primary looks the name up once for both, and a change reaches them', () => withCleanup(async (c) => {
  const port = await backends(c);
  const dns = await dnsServer(c, ['127.0.0.1']);
  const admin = await closedPort();
  const proxy = c.add(await spawnProxy(['--workers', '2', '--admin', `${HOST}:${admin}`, '--backend', `dns:${NAME}:${port}`,
    '--dns-server', dns.address, '--dns-min-interval', '200ms', '--dns-max-interval', '200ms']));
  const seen = dns.lookups(NAME).length;
  await sleep(1_000);
  const lookups = dns.lookups(NAME).length - seen;
  // At most one lookup every 200 ms: one process asks (a busy machine may ask fewer).
  assert.ok(lookups >= 1 && lookups <= 6, `${lookups} lookups in 1 s at one every 200 ms: one process asks`);
  dns.set(NAME, { a: ['127.0.0.2'], ttl: 0 });
  const moved = (text: string): boolean => text.includes(`127.0.0.2:${port}`) && !text.includes(`127.0.0.1:${port}`);
  let text = '';
  for (const deadline = Date.now() + 5_000; !moved(text) && Date.now() < deadline; await sleep(50)) {
    text = await (await fetch(`http://${HOST}:${admin}/status.json`)).text();
  }
  assert.ok(moved(text), `the workers moved to backend 2 alone: ${text.slice(0, 300)}`);
  const bodies = new Set<string>();
  for (let i = 0; i < 10; i++) {
    const client = await connect(c, proxy.port);
    await client.write(GET('/'));
    bodies.add((await client.readResponse()).body.toString());
    client.close();
  }
  assert.equal([...bodies], [hello(2)], 'both workers send to the new address alone');
}));

test.run();
