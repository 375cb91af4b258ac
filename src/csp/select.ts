/*
 * Select: Go's select over receive and send cases, built once and reused for every round.
 *
 * Invariants:
 *  - Each case owns one waiter object (a SelectCase, both Receiver and Sender), created when the case
 *    is added and reused every time the Select parks, so parking allocates nothing.
 *  - parked  <=>  every case's waiter sits in its channel's queue and onReady is set. The first waiter
 *    woken (already removed by its channel) removes all the others before onReady runs, so exactly one
 *    case fires per round and no other channel's value is consumed.
 *  - onReady runs with the Select no longer parked, so it may call once() again (the loop pattern).
 *    When woken, it runs synchronously inside the other party's trySend/tryRecv/close.
 *  - Fairness: a round scans the cases starting just after the case chosen last, so ready cases take
 *    turns and a busy channel cannot starve another.
 *  - A send case's value thunk is evaluated only when that case is chosen: directly when ready, or by
 *    the channel reading the parked waiter's `value` when a receiver takes it. It must not throw: by then
 *    the channel has already dequeued the waiter.
 *  - A send case on a closed channel is ready and reports CLOSED (Go would panic). A channel should not
 *    appear both as a send and a receive case of one Select (it could not rendezvous with itself).
 */
import { CLOSED, type Chan, EMPTY, type Receiver, type Sender } from './chan.js';

type Wake = (index: number, value: unknown) => void;

class SelectCase implements Receiver<unknown>, Sender<unknown> {
  constructor(
    readonly index: number,
    readonly chan: Chan<unknown>,
    /** null for a receive case. */
    readonly thunk: (() => unknown) | null,
    private readonly wake: Wake,
  ) {}

  get value(): unknown {
    return (this.thunk as () => unknown)();
  }

  receive(value: unknown): void {
    this.wake(this.index, value);
  }

  sent(ok: boolean): void {
    this.wake(this.index, ok ? undefined : CLOSED);
  }
}

export class Select {
  /** The value of the case chosen last: received value or CLOSED; undefined for a completed send. */
  value: unknown = undefined;
  readonly #cases: SelectCase[] = [];
  readonly #wake: Wake = (index, value) => this.#fire(index, value);
  #onReady: ((index: number, value: unknown) => void) | null = null;
  #start = 0;

  get parked(): boolean {
    return this.#onReady !== null;
  }

  /** Adds a receive case (case index = order added). */
  recv<T>(chan: Chan<T>): this {
    this.#cases.push(new SelectCase(this.#cases.length, chan, null, this.#wake));
    return this;
  }

  /** Adds a send case; `value` is evaluated only when this case is chosen. */
  send<T>(chan: Chan<T>, value: () => T): this {
    this.#cases.push(new SelectCase(this.#cases.length, chan, value, this.#wake));
    return this;
  }

  /** Non-blocking: returns the index of a ready case and stores its value in `this.value`, or -1. */
  poll(): number {
    if (this.#onReady !== null) throw new Error('Select.poll: already parked');
    const cases = this.#cases;
    const n = cases.length;
    let i = this.#start;
    for (let k = 0; k < n; k++, i = i + 1 === n ? 0 : i + 1) {
      const c = cases[i] as SelectCase;
      if (c.thunk === null) {
        const v = c.chan.tryRecv();
        if (v === EMPTY) continue;
        this.value = v;
      } else if (c.chan.closed) {
        this.value = CLOSED;
      } else if (c.chan.canSend()) {
        c.chan.trySend(c.thunk());
        this.value = undefined;
      } else {
        continue;
      }
      this.#start = i + 1 === n ? 0 : i + 1;
      return i;
    }
    return -1;
  }

  /**
   * Callback form, no promise: if a case is ready now, runs it and calls `onReady(index, value)`
   * synchronously before returning; otherwise parks on every case and calls `onReady` exactly once when
   * the first becomes ready (all other parked waiters are removed first). value is the received value
   * or CLOSED (for send cases, undefined, or CLOSED if the channel closed).
   */
  once(onReady: (index: number, value: unknown) => void): void {
    const index = this.poll();
    if (index >= 0) {
      onReady(index, this.value);
      return;
    }
    this.park(onReady);
  }

  /**
   * once() for a caller whose poll() has just returned -1 (nothing can have become ready since, in
   * one synchronous turn): parks without polling every case again.
   */
  park(onReady: (index: number, value: unknown) => void): void {
    if (this.#onReady !== null) throw new Error('Select.park: already parked');
    this.#onReady = onReady;
    const cases = this.#cases;
    try {
      for (let i = 0; i < cases.length; i++) {
        const c = cases[i] as SelectCase;
        if (c.thunk === null) c.chan.addReceiver(c);
        else c.chan.addSender(c);
      }
    } catch (error) {
      this.cancel();
      throw error;
    }
  }

  /** Promise form for code that is not hot. */
  next(): Promise<{ index: number; value: unknown }> {
    return new Promise((resolve) => this.once((index, value) => resolve({ index, value })));
  }

  /** Un-parks without choosing a case; returns whether it was parked. */
  cancel(): boolean {
    if (this.#onReady === null) return false;
    this.#onReady = null;
    this.#unpark(-1);
    return true;
  }

  #fire(index: number, value: unknown): void {
    const onReady = this.#onReady as (index: number, value: unknown) => void;
    this.#onReady = null;
    this.#unpark(index);
    this.value = value;
    this.#start = index + 1 === this.#cases.length ? 0 : index + 1;
    onReady(index, value);
  }

  /** Removes every case's waiter except `skip`'s, which its channel already removed. */
  #unpark(skip: number): void {
    const cases = this.#cases;
    for (let i = 0; i < cases.length; i++) {
      if (i === skip) continue;
      const c = cases[i] as SelectCase;
      if (c.thunk === null) c.chan.removeReceiver(c);
      else c.chan.removeSender(c);
    }
  }
}
