// The workers in a min-heap ordered by load, the least loaded on top (Pike's balancer).
//
// Invariants:
//   - load(w) = w.pending / w.weight, compared by cross-multiplying; weight is finite and > 0;
//   - among equal loads the lower virtual turn wins, then the one picked (or joined) longer ago
//     (`seq`). A pick moves a worker's turn on by 1/weight, so between workers of equal load picks
//     are shared in proportion to weight, one at a time too (start-time fair queueing). With the
//     same weights this is plain taking turns. (HAProxy's key, (pending + 1) / weight, would send
//     every request to the heaviest backend when they come one at a time.)
//   - a worker that (re)joins starts at the current virtual time: it takes its share from then on,
//     not a burst to catch up; seq numbers are unique and increasing, so the first picks follow
//     insertion order;
//   - pending >= 0; completed() on a worker with pending 0 throws and changes nothing;
//   - a worker removed while it has jobs in flight still counts them down through completed(); it is
//     only re-ordered while it is in the pool.
import { Heap, type HeapItem } from '../heap/heap.js';

export interface PoolMember extends HeapItem {
  /** Jobs in flight. */
  pending: number;
  /** > 0; load is pending / weight (the effective weight, which slow start ramps up). */
  weight: number;
  /** Virtual time of its next pick: lower wins ties of load. */
  turn: number;
  /** When it was last picked or joined, in picks; lower wins ties of turn. */
  seq: number;
}

/** The pool's order: less loaded first, then the lower turn, then picked longer ago. Also for policies that compare two workers. */
export function lessLoaded(a: PoolMember, b: PoolMember): boolean {
  const la = a.pending * b.weight;
  const lb = b.pending * a.weight;
  if (la !== lb) return la < lb;
  return a.turn < b.turn || (a.turn === b.turn && a.seq < b.seq);
}

/** The least loaded of `members` that is not in `except` (a linear scan: for retries and full queues). */
export function leastLoadedExcept<W extends PoolMember>(members: Iterable<W>, except: readonly unknown[]): W | undefined {
  let best: W | undefined;
  for (const w of members) {
    if (except.includes(w)) continue;
    if (best === undefined || lessLoaded(w, best)) best = w;
  }
  return best;
}

function checkWeight(weight: number): void {
  if (!(weight > 0 && Number.isFinite(weight))) throw new RangeError(`WorkerHeap: weight must be a finite number > 0, got ${weight}`);
}

export class WorkerHeap<W extends PoolMember> {
  readonly #heap = new Heap<W>(lessLoaded);
  #seq = 0;
  /** The virtual time: the turn of the last worker picked. */
  #now = 0;

  constructor(members?: Iterable<W>) {
    if (members !== undefined) for (const w of members) this.add(w);
  }

  get size(): number {
    return this.#heap.length;
  }

  /** The least loaded worker, without changing anything. */
  min(): W | undefined {
    return this.#heap.peek();
  }

  /** A job was sent to w. */
  dispatched(w: W): void {
    w.pending++;
    this.#now = Math.max(this.#now, w.turn);
    w.turn = this.#now + 1 / w.weight;
    w.seq = ++this.#seq;
    if (this.#heap.has(w)) this.#heap.fix(w);
  }

  /** A job on w finished. */
  completed(w: W): void {
    if (w.pending <= 0) {
      throw new RangeError(`WorkerHeap.completed: pending is ${w.pending}; a completion without a dispatch`);
    }
    w.pending--;
    if (this.#heap.has(w)) this.#heap.fix(w);
  }

  /** w joins the pool at the current virtual time, behind the others in the tie order; false if it was already in. */
  add(w: W): boolean {
    checkWeight(w.weight);
    if (this.#heap.has(w)) return false;
    w.turn = Math.max(w.turn, this.#now);
    w.seq = ++this.#seq;
    this.#heap.push(w);
    return true;
  }

  /**
   * w's effective weight changed (slow start): its place in the heap follows, and the turn it was
   * given at the old weight is rescaled, so a backend picked at 1% of its weight is not held back
   * for a hundred turns once its weight has grown.
   */
  reweigh(w: W, weight: number): void {
    checkWeight(weight);
    if (w.turn > this.#now) w.turn = this.#now + ((w.turn - this.#now) * w.weight) / weight;
    w.weight = weight;
    if (this.#heap.has(w)) this.#heap.fix(w);
  }

  /** w leaves the pool; false if it was not in it. */
  remove(w: W): boolean {
    return this.#heap.remove(w);
  }

  has(w: W): boolean {
    return this.#heap.has(w);
  }

  /** The members in heap order (the first is min()); do not change the pool while iterating. */
  *[Symbol.iterator](): Iterator<W> {
    for (let i = 0; i < this.#heap.length; i++) yield this.#heap.at(i);
  }
}
