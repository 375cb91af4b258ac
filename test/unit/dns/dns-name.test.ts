/**
 * A DNS name's schedule and memory, with a lookup the test answers by hand: never two lookups at
 * once, the next one after the TTL within the bounds, and a failed or empty answer keeps the set.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DnsName } from '../../../src/dns/dns-name.js';
import type { Answer, Lookup } from '../../../src/dns/lookup.js';

const TIMING = { minIntervalMs: 1_000, maxIntervalMs: 60_000 };

/** A lookup whose answers the test gives, one per call, in order. */
function manual(): { lookup: Lookup; calls: number; answer(a: Answer): Promise<void> } {
  const waiting: ((a: Answer) => void)[] = [];
  const state = {
    calls: 0,
    lookup: (): Promise<Answer> => {
      state.calls++;
      return new Promise((resolve) => waiting.push(resolve));
    },
    answer: async (a: Answer): Promise<void> => {
      waiting.shift()?.(a);
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
  return state;
}

test('one lookup at a time; the next after the TTL, but not before min_interval nor after max_interval', async () => {
  const name = new DnsName('api.internal', null);
  const dns = manual();
  name.sweep(0, dns.lookup, TIMING);
  name.sweep(0, dns.lookup, TIMING);
  assert.is(dns.calls, 1, 'a lookup in flight is not doubled');
  const t0 = performance.now();
  await dns.answer({ kind: 'addresses', addresses: ['10.0.0.1'], ttlSeconds: 5 });
  assert.equal(name.addresses, ['10.0.0.1']);
  name.sweep(t0 + 4_000, dns.lookup, TIMING);
  assert.is(dns.calls, 1, 'not before the TTL');
  name.sweep(t0 + 5_100, dns.lookup, TIMING);
  assert.is(dns.calls, 2, 'after it');
  const t1 = performance.now();
  await dns.answer({ kind: 'addresses', addresses: ['10.0.0.1'], ttlSeconds: 0 });
  name.sweep(t1 + 900, dns.lookup, TIMING);
  assert.is(dns.calls, 2, 'TTL 0: not before min_interval');
  name.sweep(t1 + 1_100, dns.lookup, TIMING);
  assert.is(dns.calls, 3);
  const t2 = performance.now();
  await dns.answer({ kind: 'addresses', addresses: ['10.0.0.1'], ttlSeconds: 86_400 });
  name.sweep(t2 + 60_100, dns.lookup, TIMING);
  assert.is(dns.calls, 4, 'a day-long TTL: after max_interval');
});

test('a failed or empty answer keeps the last set and tells nobody; a new set tells the subscribers once', async () => {
  const name = new DnsName('api.internal', null);
  const told: string[][] = [];
  name.subscribe({ addressesChanged: (n) => told.push([...n.addresses]) });
  const dns = manual();
  const next = async (a: Answer): Promise<void> => {
    name.sweep(performance.now() + 100_000, dns.lookup, TIMING); // past any interval
    await dns.answer(a);
  };
  await next({ kind: 'addresses', addresses: ['10.0.0.1', '10.0.0.2'], ttlSeconds: 1 });
  await next({ kind: 'failed', why: 'ETIMEOUT' });
  await next({ kind: 'empty', why: 'NXDOMAIN' });
  assert.equal(name.addresses, ['10.0.0.1', '10.0.0.2']);
  await next({ kind: 'addresses', addresses: ['10.0.0.1', '10.0.0.2'], ttlSeconds: 1 });
  await next({ kind: 'addresses', addresses: ['10.0.0.2'], ttlSeconds: 1 });
  assert.equal(told, [['10.0.0.1', '10.0.0.2'], ['10.0.0.2']]);
});

test.run();
