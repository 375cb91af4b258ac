// Question: what does picking the least-loaded worker cost, through the heap versus a linear scan?
// Each task function runs BATCH operations and reports the mean per operation (overriddenDuration), so
// ops/s in the table are single operations, not timer reads. Random choices come from a fixed table so
// every task sees the same sequence and no generator runs inside the timed loop. Every heap here holds
// one item shape ordered by lessLoaded, as in the proxy: mixing shapes or comparators in one process
// makes the sift loops polymorphic and measured them up to twice as slow.
import { Bench } from 'tinybench';
import { perOperation } from './batch.js';
import { Heap } from '../../src/heap/heap.js';
import { WorkerHeap, lessLoaded, type PoolMember } from '../../src/balancer/worker-heap.js';

const SIZES = [4, 16, 256] as const;
const BATCH = 1024;
const RANDOM_MASK = 4095;
/** Jobs in flight per worker in the dispatch tasks: enough that completions reorder the heap. */
const IN_FLIGHT_PER_WORKER = 2;

interface Worker extends PoolMember {
  id: number;
}

const random = (() => {
  const r = new Float64Array(RANDOM_MASK + 1);
  let s = 0x9e3779b9;
  for (let i = 0; i < r.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    r[i] = s / 4294967296;
  }
  return r;
})();

function makeWorkers(n: number): Worker[] {
  // Mixed weights so the cross-multiplied comparison does real work.
  return Array.from({ length: n }, (_, id) => ({ id, weight: 1 + (id % 3), pending: 0, turn: 0, seq: 0, heapIndex: -1 }));
}

/** The baseline: the same order as WorkerHeap by scanning every worker. */
function leastLoaded(ws: Worker[]): Worker {
  let best = ws[0]!;
  for (let i = 1; i < ws.length; i++) {
    const w = ws[i]!;
    if (lessLoaded(w, best)) best = w;
  }
  return best;
}

/** A raw heap of n workers with random pending counts, in the pool's order. */
function makeHeap(n: number): Heap<Worker> {
  const heap = new Heap<Worker>(lessLoaded);
  for (const w of makeWorkers(n)) {
    w.pending = (random[w.id & RANDOM_MASK]! * 4 * n) | 0;
    heap.push(w);
  }
  return heap;
}

function poolTask(bench: Bench, n: number): () => unknown {
  const pool = new WorkerHeap(makeWorkers(n));
  const inflight: Worker[] = [];
  for (let i = 0; i < n * IN_FLIGHT_PER_WORKER; i++) {
    const w = pool.min()!;
    pool.dispatched(w);
    inflight.push(w);
  }
  const k = inflight.length;
  let r = 0;
  return () => {
    const t0 = bench.now();
    for (let i = 0; i < BATCH; i++) {
      const w = pool.min()!;
      pool.dispatched(w);
      const j = (random[r++ & RANDOM_MASK]! * k) | 0;
      pool.completed(inflight[j]!);
      inflight[j] = w;
    }
    return perOperation(bench, t0, BATCH);
  };
}

function scanTask(bench: Bench, n: number): () => unknown {
  const ws = makeWorkers(n);
  const inflight: Worker[] = [];
  let counter = 0;
  for (let i = 0; i < n * IN_FLIGHT_PER_WORKER; i++) {
    const w = leastLoaded(ws);
    w.pending++;
    w.turn = ++counter;
    inflight.push(w);
  }
  const k = inflight.length;
  let r = 0;
  return () => {
    const t0 = bench.now();
    for (let i = 0; i < BATCH; i++) {
      const w = leastLoaded(ws);
      w.pending++;
      w.turn = ++counter;
      const j = (random[r++ & RANDOM_MASK]! * k) | 0;
      inflight[j]!.pending--;
      inflight[j] = w;
    }
    return perOperation(bench, t0, BATCH);
  };
}

function fixTask(bench: Bench, n: number): () => unknown {
  const heap = makeHeap(n);
  let r = 0;
  return () => {
    const t0 = bench.now();
    for (let i = 0; i < BATCH; i++) {
      const w = heap.at((random[r++ & RANDOM_MASK]! * n) | 0);
      w.pending = (random[r++ & RANDOM_MASK]! * 4 * n) | 0;
      heap.fix(w);
    }
    return perOperation(bench, t0, BATCH);
  };
}

function pushPopTask(bench: Bench, n: number): () => unknown {
  const heap = makeHeap(n);
  let r = 0;
  return () => {
    const t0 = bench.now();
    for (let i = 0; i < BATCH; i++) {
      const w = heap.pop()!;
      w.pending = (random[r++ & RANDOM_MASK]! * 4 * n) | 0;
      heap.push(w);
    }
    return perOperation(bench, t0, BATCH);
  };
}

export default async function heapBench(): Promise<Bench> {
  const bench = new Bench({ name: 'heap', time: 500 });
  for (const n of SIZES) {
    bench
      .add(`pool dispatch+complete n=${n}`, poolTask(bench, n))
      .add(`linear scan dispatch+complete n=${n}`, scanTask(bench, n))
      .add(`heap fix n=${n}`, fixTask(bench, n))
      .add(`heap push+pop n=${n}`, pushPopTask(bench, n));
  }
  await bench.run();
  return bench;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const bench = await heapBench();
  console.log(`${bench.name}: ops/s are single operations (each sample is the mean of ${BATCH})`);
  console.table(bench.table());
}
