import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createPolicy } from '../../../src/balancer/policy.js';
import { POLICIES } from '../../../src/options/vocabulary.js';
import type { PoolMember } from '../../../src/balancer/worker-heap.js';

interface Member extends PoolMember {
  name: string;
}

const members = (n: number): Member[] =>
  Array.from({ length: n }, (_, i) => ({ name: `w${i}`, heapIndex: -1, pending: 0, weight: 1, turn: 0, seq: 0 }));

/** Dispatches `n` jobs, completing each at once: the picks of an unloaded pool. */
function picks(name: (typeof POLICIES)[number], pool: Member[], n: number): string[] {
  const policy = createPolicy(name, pool);
  const seen: string[] = [];
  for (let i = 0; i < n; i++) {
    const w = policy.pick();
    if (w === undefined) throw new Error('no pick');
    seen.push(w.name);
    policy.dispatched(w);
    policy.completed(w);
  }
  return seen;
}

test('round robin takes each member in turn, blind to load', () => {
  const pool = members(3);
  assert.equal(picks('round-robin', pool, 7), ['w0', 'w1', 'w2', 'w0', 'w1', 'w2', 'w0']);
  const policy = createPolicy('round-robin', pool);
  for (let i = 0; i < 100; i++) policy.dispatched(pool[1] as Member);
  assert.equal([1, 2, 3].map(() => policy.pick()?.name), ['w0', 'w1', 'w2']);
});

test('least-pending and p2c never pick the busier of two members', () => {
  for (const name of ['least-pending', 'p2c'] as const) {
    const pool = members(2);
    const policy = createPolicy(name, pool);
    for (let i = 0; i < 5; i++) policy.dispatched(pool[0] as Member);
    for (let i = 0; i < 200; i++) assert.is(policy.pick()?.name, 'w1', name);
  }
});

test('p2c spreads an unloaded pool over every member', () => {
  const counts = new Map<string, number>();
  for (const name of picks('p2c', members(4), 4000)) counts.set(name, (counts.get(name) ?? 0) + 1);
  assert.is(counts.size, 4);
  for (const [name, count] of counts) assert.ok(count > 700 && count < 1300, `${name}: ${count}`);
});

test('every policy: removed members are not picked, added ones are; an empty pool picks nothing', () => {
  for (const name of POLICIES) {
    const pool = members(3);
    const policy = createPolicy(name, pool);
    assert.ok(policy.remove(pool[0] as Member), name);
    assert.not.ok(policy.remove(pool[0] as Member), name);
    for (let i = 0; i < 50; i++) assert.is.not(policy.pick()?.name, 'w0', name);
    assert.ok(policy.add(pool[0] as Member), name);
    assert.not.ok(policy.add(pool[0] as Member), name);
    for (const w of pool) policy.remove(w);
    assert.is(policy.size, 0, name);
    assert.is(policy.pick(), undefined, name);
  }
});

test('every policy counts pending, and a completion without a dispatch throws', () => {
  for (const name of POLICIES) {
    const pool = members(2);
    const policy = createPolicy(name, pool);
    const w = pool[1] as Member;
    policy.dispatched(w);
    policy.dispatched(w);
    assert.is(w.pending, 2, name);
    policy.completed(w);
    policy.completed(w);
    assert.is(w.pending, 0, name);
    assert.throws(() => policy.completed(w), /pending/, name);
  }
});

test.run();
