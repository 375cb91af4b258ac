/**
 * Balancing policies behind one small interface. The least-pending heap (`WorkerHeap`, Pike's
 * balancer) is the default and the one the project is known for; round robin and power of two
 * choices are there to compare it against (bench/policies) and for users who want them.
 *
 * Every policy keeps `pending` on its members (the balancer reports each dispatch and completion),
 * so stats and health read the same numbers whatever the policy.
 */
import { leastLoadedExcept, lessLoaded, WorkerHeap, type PoolMember } from './worker-heap.js';
import type { PolicyName } from '../options/vocabulary.js';

export interface Policy<W extends PoolMember> {
  readonly size: number;
  /** The worker for the next job, or undefined when none is in rotation. Changes nothing. */
  pick(): W | undefined;
  /**
   * The least loaded worker in rotation other than `except` (backends a job already failed on, or
   * whose queue is full), or undefined. Changes nothing. Whatever the policy, a second choice is the
   * least loaded one left.
   */
  pickExcept(except: readonly W[]): W | undefined;
  dispatched(w: W): void;
  completed(w: W): void;
  add(w: W): boolean;
  remove(w: W): boolean;
  /** w's effective weight changed (slow start). */
  reweigh(w: W, weight: number): void;
  /** The members in rotation (in no particular order); do not change the policy while iterating. */
  [Symbol.iterator](): Iterator<W>;
}

/** The heap: the least pending/weight on top, ties taking turns. */
class LeastPending<W extends PoolMember> extends WorkerHeap<W> implements Policy<W> {
  pick(): W | undefined {
    return this.min();
  }

  pickExcept(except: readonly W[]): W | undefined {
    return leastLoadedExcept(this, except);
  }
}

/** Members in a list; `pending` is counted but not consulted. */
abstract class ListPolicy<W extends PoolMember> implements Policy<W> {
  protected readonly members: W[] = [];

  get size(): number {
    return this.members.length;
  }

  abstract pick(): W | undefined;

  [Symbol.iterator](): Iterator<W> {
    return this.members[Symbol.iterator]();
  }

  pickExcept(except: readonly W[]): W | undefined {
    return leastLoadedExcept(this.members, except);
  }

  dispatched(w: W): void {
    w.pending++;
  }

  reweigh(w: W, weight: number): void {
    w.weight = weight;
  }

  completed(w: W): void {
    if (w.pending <= 0) throw new RangeError(`completed: pending is ${w.pending}; a completion without a dispatch`);
    w.pending--;
  }

  add(w: W): boolean {
    if (this.members.includes(w)) return false;
    this.members.push(w);
    return true;
  }

  remove(w: W): boolean {
    const i = this.members.indexOf(w);
    if (i < 0) return false;
    this.members.splice(i, 1);
    return true;
  }
}

/** Each member in turn, blind to load. */
class RoundRobin<W extends PoolMember> extends ListPolicy<W> {
  private next = 0;

  pick(): W | undefined {
    const n = this.members.length;
    if (n === 0) return undefined;
    const w = this.members[this.next % n];
    this.next = (this.next + 1) % n;
    return w;
  }
}

/** Two members at random, the less loaded of them (Mitzenmacher's power of two choices). */
class PowerOfTwoChoices<W extends PoolMember> extends ListPolicy<W> {
  pick(): W | undefined {
    const n = this.members.length;
    if (n <= 1) return this.members[0];
    const i = Math.floor(Math.random() * n);
    const j = (i + 1 + Math.floor(Math.random() * (n - 1))) % n; // a different member
    const a = this.members[i] as W;
    const b = this.members[j] as W;
    return lessLoaded(b, a) ? b : a;
  }
}

export function createPolicy<W extends PoolMember>(name: PolicyName, members: Iterable<W>): Policy<W> {
  const policy: Policy<W> = name === 'round-robin' ? new RoundRobin<W>()
    : name === 'p2c' ? new PowerOfTwoChoices<W>()
    : new LeastPending<W>();
  for (const w of members) policy.add(w);
  return policy;
}
