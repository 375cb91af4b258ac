import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { WorkerHeap, type PoolMember } from '../../../src/balancer/worker-heap.js';
import { prng } from '../../kit/prng.js';

interface W extends PoolMember {
  id: number;
}

function worker(id: number, weight = 1): W {
  return { id, weight, pending: 0, turn: 0, seq: 0, heapIndex: -1 };
}

function workers(weights: number[]): W[] {
  return weights.map((weight, id) => worker(id, weight));
}

/** Throws unless min() has the least pending/weight and, among equals, the lowest turn, then seq. */
function checkMin(pool: WorkerHeap<W>): void {
  const m = pool.min();
  const members = [...pool];
  if (m === undefined) {
    if (members.length !== 0) throw new Error('min() is undefined in a non-empty pool');
    return;
  }
  if (members[0] !== m) throw new Error('iteration does not start at min()');
  for (const w of members) {
    const lw = w.pending / w.weight;
    const lm = m.pending / m.weight;
    if (lw < lm || (lw === lm && (w.turn < m.turn || (w.turn === m.turn && w.seq < m.seq)))) {
      throw new Error(`min() is #${m.id} (load ${lm}, turn ${m.turn}) but #${w.id} has load ${lw}, turn ${w.turn}`);
    }
  }
}

test('empty pool', () => {
  const pool = new WorkerHeap<W>();
  assert.is(pool.size, 0);
  assert.is(pool.min(), undefined);
  assert.equal([...pool], []);
});

test('min is the least pending', () => {
  const [a, b, c] = workers([1, 1, 1]) as [W, W, W];
  const pool = new WorkerHeap([a, b, c]);
  pool.dispatched(a);
  pool.dispatched(a);
  pool.dispatched(b);
  pool.dispatched(c);
  pool.dispatched(c);
  assert.is(pool.min(), b);
  pool.dispatched(b);
  pool.dispatched(b);
  // b has 3; a and c have 2 each, and a was picked longer ago, so it wins the tie.
  assert.is(pool.min(), a);
  pool.completed(b);
  pool.completed(b);
  assert.is(pool.min(), b);
  assert.is(b.pending, 1);
  checkMin(pool);
});

test('equal workers take turns: 0,1,2,0,1,2,...', () => {
  const pool = new WorkerHeap(workers([1, 1, 1]));
  const picks: number[] = [];
  for (let i = 0; i < 9; i++) {
    const w = pool.min()!;
    pool.dispatched(w);
    picks.push(w.id);
    pool.completed(w);
  }
  assert.equal(picks, [0, 1, 2, 0, 1, 2, 0, 1, 2]);
});

test('equal workers take turns for larger pools too', () => {
  const n = 7;
  const pool = new WorkerHeap(workers(Array<number>(n).fill(1)));
  const picks: number[] = [];
  for (let i = 0; i < 3 * n; i++) {
    const w = pool.min()!;
    pool.dispatched(w);
    picks.push(w.id);
    pool.completed(w);
  }
  assert.equal(picks, Array.from({ length: 3 * n }, (_, i) => i % n));
});

test('one job at a time (nothing in flight at each pick), weights still share the picks: 1:3', () => {
  const pool = new WorkerHeap(workers([1, 3]));
  const counts = [0, 0];
  const order: number[] = [];
  for (let i = 0; i < 400; i++) {
    const w = pool.min()!;
    pool.dispatched(w);
    counts[w.id]!++;
    if (i < 8) order.push(w.id);
    pool.completed(w);
  }
  assert.equal(counts, [100, 300]);
  assert.equal(order, [0, 1, 1, 1, 0, 1, 1, 1], 'interleaved, not in bursts');
});

test('a worker that rejoins starts at the current virtual time: its share from then on, no burst to catch up', () => {
  const [a, b] = workers([1, 1]) as [W, W];
  const pool = new WorkerHeap([a, b]);
  pool.remove(a);
  for (let i = 0; i < 50; i++) {
    pool.dispatched(b);
    pool.completed(b);
  }
  pool.add(a);
  const picks: number[] = [];
  for (let i = 0; i < 6; i++) {
    const w = pool.min()!;
    pool.dispatched(w);
    picks.push(w.id);
    pool.completed(w);
  }
  assert.equal(picks, [0, 1, 0, 1, 0, 1]);
});

test('weights are respected: weight 2 gets about twice the jobs', () => {
  const pool = new WorkerHeap(workers([1, 2]));
  const random = prng(42); // seeded, so the statistical tests never flake
  const counts = [0, 0];
  const inflight: W[] = [];
  for (let i = 0; i < 30_000; i++) {
    const w = pool.min()!;
    pool.dispatched(w);
    counts[w.id]!++;
    inflight.push(w);
    // Enough jobs in flight that integer pending counts can sit near 1:2.
    if (inflight.length > 60) {
      // Complete a random job in flight: a busier worker finishes more jobs, as real backends do.
      const j = Math.floor(random() * inflight.length);
      const done = inflight[j]!;
      inflight[j] = inflight[inflight.length - 1]!;
      inflight.pop();
      pool.completed(done);
    }
  }
  const ratio = counts[1]! / counts[0]!;
  assert.ok(ratio > 1.8 && ratio < 2.2, `weight 2 / weight 1 dispatches = ${ratio}`);
});

test('weights are respected when nothing completes: pending stays proportional', () => {
  const [a, b, c] = workers([1, 2, 3]) as [W, W, W];
  const pool = new WorkerHeap([a, b, c]);
  for (let i = 0; i < 600; i++) pool.dispatched(pool.min()!);
  assert.equal([a.pending, b.pending, c.pending], [100, 200, 300]);
});

test('remove and add', () => {
  const [a, b, c] = workers([1, 1, 1]) as [W, W, W];
  const pool = new WorkerHeap([a, b, c]);
  assert.is(pool.size, 3);
  assert.ok(pool.remove(a));
  assert.is(pool.has(a), false);
  assert.is(pool.remove(a), false);
  assert.is(pool.size, 2);
  assert.is(pool.min(), b);
  pool.dispatched(b);
  assert.is(pool.min(), c);
  pool.dispatched(c);
  // Only b and c are picked while a is out.
  assert.ok(pool.min() === b || pool.min() === c);
  assert.ok(pool.add(a));
  assert.is(pool.add(a), false, 'adding a member twice is a no-op');
  assert.is(pool.size, 3);
  assert.ok(pool.has(a));
  assert.is(pool.min(), a);
  assert.equal(new Set(pool), new Set([a, b, c]));
  checkMin(pool);
});

test('a removed worker counts down its jobs in flight and rejoins with them', () => {
  const [a, b] = workers([1, 1]) as [W, W];
  const pool = new WorkerHeap([a, b]);
  pool.dispatched(a);
  pool.dispatched(a);
  pool.remove(a);
  pool.completed(a);
  assert.is(a.pending, 1);
  assert.is(a.heapIndex, -1);
  pool.add(a);
  assert.is(pool.min(), b);
  pool.dispatched(b);
  pool.dispatched(b);
  assert.is(pool.min(), a);
  checkMin(pool);
});

test('completed below zero throws and changes nothing', () => {
  const [a, b] = workers([1, 1]) as [W, W];
  const pool = new WorkerHeap([a, b]);
  assert.throws(() => pool.completed(a), RangeError);
  assert.is(a.pending, 0);
  pool.dispatched(a);
  pool.completed(a);
  assert.throws(() => pool.completed(a), /completion without a dispatch/);
  assert.is(a.pending, 0);
  checkMin(pool);
});

test('add rejects a weight that is not a finite number > 0', () => {
  const pool = new WorkerHeap<W>();
  for (const weight of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => pool.add(worker(0, weight)), RangeError, `weight ${weight}`);
  }
  assert.is(pool.size, 0);
});

test('property: after random dispatch/complete/remove/add, min() has the least pending/weight', () => {
  type Op = { op: 'dispatch' } | { op: 'complete' | 'remove' | 'add'; pick: number };
  const pick = fc.nat();
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ op: fc.constant('dispatch' as const) }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('complete' as const), pick }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('remove' as const), pick }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('add' as const), pick }) },
  );
  const weights = fc.array(fc.constantFrom(0.5, 1, 2, 3), { minLength: 1, maxLength: 12 });
  fc.assert(
    fc.property(weights, fc.array(op, { maxLength: 300 }), (ws, ops) => {
      const all = workers(ws);
      const pool = new WorkerHeap(all);
      const members = new Set(all);
      const inflight: W[] = [];
      for (const o of ops) {
        switch (o.op) {
          case 'dispatch': {
            const w = pool.min();
            if (w === undefined) break;
            pool.dispatched(w);
            inflight.push(w);
            break;
          }
          case 'complete': {
            if (inflight.length === 0) break;
            const [w] = inflight.splice(o.pick % inflight.length, 1) as [W];
            pool.completed(w);
            break;
          }
          case 'remove': {
            const w = all[o.pick % all.length]!;
            if (pool.remove(w) !== members.delete(w)) throw new Error('remove() disagrees with the model');
            break;
          }
          case 'add': {
            const w = all[o.pick % all.length]!;
            if (pool.add(w) === members.has(w)) throw new Error('add() disagrees with the model');
            members.add(w);
            break;
          }
        }
        checkMin(pool);
        if (pool.size !== members.size) throw new Error(`size ${pool.size}, model ${members.size}`);
        for (const w of all) {
          if (pool.has(w) !== members.has(w)) throw new Error(`has(#${w.id}) disagrees with the model`);
          const expected = inflight.filter((x) => x === w).length;
          if (w.pending !== expected) throw new Error(`#${w.id} pending ${w.pending}, jobs in flight ${expected}`);
        }
      }
    }),
    { numRuns: 300 },
  );
});

test.run();
