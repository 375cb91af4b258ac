// The workers in a min-heap ordered by load, the least loaded on top (Pike's balancer).
//
// Invariants:
//   - load(w) = w.pending / w.weight, compared by cross-multiplying; weight is finite and > 0;
//   - among equal loads the lower turn wins, so equal workers take turns in least-recently-picked order;
//   - turns are unique and increasing: add() and dispatched() both take the next counter value, so a
//     worker that (re)joins goes to the back of the tie order and the first picks follow insertion order;
//   - pending >= 0; completed() on a worker with pending 0 throws and changes nothing;
//   - a worker removed while it has jobs in flight still counts them down through completed(); it is
//     only re-ordered while it is in the pool.
import { Heap, type HeapItem } from '../heap/heap.js';

export interface PoolMember extends HeapItem {
  /** Jobs in flight. */
  pending: number;
  /** > 0; load is pending / weight. */
  weight: number;
  /** Sequence number of the last time it was picked (or joined); lower wins ties. */
  turn: number;
}

/** The pool's order: less loaded first, then picked longer ago. Also for policies that compare two workers. */
export function lessLoaded(a: PoolMember, b: PoolMember): boolean {
  const la = a.pending * b.weight;
  const lb = b.pending * a.weight;
  return la < lb || (la === lb && a.turn < b.turn);
}

export class WorkerHeap<W extends PoolMember> {
  readonly #heap = new Heap<W>(lessLoaded);
  #counter = 0;

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
    w.turn = ++this.#counter;
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

  /** w joins the pool at the back of the tie order; false if it was already in. */
  add(w: W): boolean {
    if (!(w.weight > 0 && Number.isFinite(w.weight))) {
      throw new RangeError(`WorkerHeap.add: weight must be a finite number > 0, got ${w.weight}`);
    }
    if (this.#heap.has(w)) return false;
    w.turn = ++this.#counter;
    this.#heap.push(w);
    return true;
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
