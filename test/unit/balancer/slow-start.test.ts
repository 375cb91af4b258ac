import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SlowStart } from '../../../src/balancer/slow-start.js';
import { WorkerHeap, type PoolMember } from '../../../src/balancer/worker-heap.js';

test('off (0 ms): the configured weight, whatever happens', () => {
  const s = new SlowStart(0, 3);
  s.begin(1_000);
  assert.not.ok(s.ramping);
  assert.is(s.weightAt(1_000), 3);
});

test('a ramp: 1% at first, then linear in whole percents, the configured weight at the end and after', () => {
  const s = new SlowStart(10_000, 2);
  s.begin(5_000);
  assert.ok(s.ramping);
  assert.is(s.weightAt(5_000), 0.02);
  assert.is(s.weightAt(5_050), 0.02, 'still the first percent');
  assert.is(s.weightAt(7_500), 0.5);
  assert.is(s.weightAt(7_549), 0.5, 'steps of 1%');
  assert.is(s.weightAt(14_900), 1.98);
  assert.is(s.weightAt(15_000), 2);
  assert.not.ok(s.ramping, 'over');
  assert.is(s.weightAt(15_001), 2);
});

test('a new return restarts the ramp', () => {
  const s = new SlowStart(1_000, 1);
  s.begin(0);
  assert.is(s.weightAt(500), 0.5);
  s.begin(600);
  assert.is(s.weightAt(700), 0.1);
});

interface W extends PoolMember { id: number }
const member = (id: number, weight: number): W => ({ id, weight, pending: 0, turn: 0, seq: 0, heapIndex: -1 });

test('reweigh: a worker picked at a small weight is not held back for its old long turn once its weight grows', () => {
  const heap = new WorkerHeap<W>();
  const full = member(0, 1);
  const cold = member(1, 0.01);
  heap.add(full);
  heap.add(cold);
  // One at a time: the cold one gets one pick, then waits 100 of the full one's turns.
  const picks: number[] = [];
  for (let i = 0; i < 10; i++) {
    const w = heap.min() as W;
    heap.dispatched(w);
    heap.completed(w);
    picks.push(w.id);
  }
  assert.is(picks.filter((id) => id === 1).length, 1);
  heap.reweigh(cold, 1);
  picks.length = 0;
  for (let i = 0; i < 10; i++) {
    const w = heap.min() as W;
    heap.dispatched(w);
    heap.completed(w);
    picks.push(w.id);
  }
  assert.ok(picks.filter((id) => id === 1).length >= 4, `at equal weights it takes turns again at once: ${picks.join(',')}`);
});

test.run();
