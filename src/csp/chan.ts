/*
 * Chan<T>: a bounded channel with Go semantics (runtime/chan.go), for one event loop.
 *
 * State: a ring of buffered values (at most `capacity`), a FIFO queue of parked receivers and a FIFO
 * queue of parked senders (each holding its value).
 *
 * Invariants (checked by addReceiver/addSender, kept by every other method):
 *  - recvq non-empty  =>  buffer empty and sendq empty (a value or a parked sender would have been taken).
 *  - sendq non-empty  =>  buffer full (size === capacity; for capacity 0, always) and recvq empty.
 *  - closed           =>  recvq and sendq empty (close wakes them all); the buffer may still hold values,
 *                         and they drain before recv reports CLOSED.
 *  - Buffered and parked values leave in the order they were sent: tryRecv takes from the buffer and
 *    moves the oldest parked sender's value into the freed slot.
 *
 * Waking: a waiter is removed from its queue before its callback runs, and the callback runs
 * synchronously inside the call that woke it (trySend, tryRecv, close). If a callback throws, the
 * channel state is already consistent and the error reaches that caller; close still wakes every waiter
 * and rethrows the first error afterwards.
 *
 * Fast paths (trySend, tryRecv) allocate nothing; only send/recv that must wait create a promise.
 */
import { Ring } from './ring.js';
import { PRX_ERR_CHAN_CLOSED } from '../errors.js';

/** tryRecv: nothing available right now. */
export const EMPTY = Symbol('chan.empty');
/** recv on a closed and drained channel. */
export const CLOSED = Symbol('chan.closed');

export class ChanClosedError extends Error {
  readonly code = PRX_ERR_CHAN_CLOSED;
  constructor(message = 'send on closed channel') {
    super(message);
    this.name = 'ChanClosedError';
  }
}

/** A parked receiver; `receive` is called exactly once, synchronously inside the sender's call (direct hand-off) or inside close(). */
export interface Receiver<T> {
  receive(value: T | typeof CLOSED): void;
}

/** A parked sender holding its value; `sent(true)` once the value was taken (into the buffer or by a receiver), `sent(false)` if the channel was closed first. Called exactly once. */
export interface Sender<T> {
  readonly value: T;
  sent(ok: boolean): void;
}

const RESOLVED: Promise<void> = Promise.resolve();

class PendingSend<T> implements Sender<T> {
  constructor(
    readonly value: T,
    private readonly resolve: () => void,
    private readonly reject: (error: ChanClosedError) => void,
  ) {}

  sent(ok: boolean): void {
    if (ok) this.resolve();
    else this.reject(new ChanClosedError());
  }
}

export class Chan<T> {
  readonly capacity: number;
  readonly #buf: Ring<T>;
  // Rings start small and grow on demand: a channel is made per request (output slots), and most
  // never hold more than one or two values or waiters.
  readonly #recvq = new Ring<Receiver<T>>(1);
  readonly #sendq = new Ring<Sender<T>>(1);
  #closed = false;

  /** `capacity` 0 (the default) is an unbuffered rendezvous channel. */
  constructor(capacity = 0) {
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new RangeError(`Chan capacity must be a non-negative integer, got ${capacity}`);
    }
    this.capacity = capacity;
    this.#buf = new Ring<T>(Math.min(capacity, 2));
  }

  /** Buffered values. */
  get size(): number {
    return this.#buf.length;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get waitingReceivers(): number {
    return this.#recvq.length;
  }

  get waitingSenders(): number {
    return this.#sendq.length;
  }

  /** Whether trySend would succeed now: open, and a receiver is parked or the buffer has room. */
  canSend(): boolean {
    return !this.#closed && (this.#recvq.length > 0 || this.#buf.length < this.capacity);
  }

  /** Hands `value` to a parked receiver, else buffers it if there is room, else returns false. */
  trySend(value: T): boolean {
    if (this.#closed) throw new ChanClosedError();
    const receiver = this.#recvq.shift();
    if (receiver !== undefined) {
      receiver.receive(value);
      return true;
    }
    if (this.#buf.length < this.capacity) {
      this.#buf.push(value);
      return true;
    }
    return false;
  }

  /** Resolves once the value is taken; rejects with ChanClosedError if the channel is or gets closed first. */
  send(value: T): Promise<void> {
    if (this.#closed) return Promise.reject(new ChanClosedError());
    if (this.trySend(value)) return RESOLVED;
    return new Promise<void>((resolve, reject) => {
      this.#sendq.push(new PendingSend(value, resolve, reject));
    });
  }

  tryRecv(): T | typeof EMPTY | typeof CLOSED {
    if (this.#buf.length > 0) {
      // Length checked, so the slot holds a T (which may itself be undefined).
      const value = this.#buf.shift() as T;
      const sender = this.#sendq.shift();
      if (sender !== undefined) {
        this.#buf.push(sender.value);
        sender.sent(true);
      }
      return value;
    }
    const sender = this.#sendq.shift();
    if (sender !== undefined) {
      const value = sender.value;
      sender.sent(true);
      return value;
    }
    return this.#closed ? CLOSED : EMPTY;
  }

  recv(): Promise<T | typeof CLOSED> {
    const value = this.tryRecv();
    if (value !== EMPTY) return Promise.resolve(value);
    return new Promise<T | typeof CLOSED>((resolve) => {
      this.#recvq.push({ receive: resolve });
    });
  }

  /** Go panics on a second close; this throws. */
  close(): void {
    if (this.#closed) throw new ChanClosedError('close of closed channel');
    this.#closed = true;
    let failed = false;
    let failure: unknown;
    for (let r = this.#recvq.shift(); r !== undefined; r = this.#recvq.shift()) {
      try {
        r.receive(CLOSED);
      } catch (error) {
        if (!failed) {
          failed = true;
          failure = error;
        }
      }
    }
    for (let s = this.#sendq.shift(); s !== undefined; s = this.#sendq.shift()) {
      try {
        s.sent(false);
      } catch (error) {
        if (!failed) {
          failed = true;
          failure = error;
        }
      }
    }
    if (failed) throw failure;
  }

  /** Parks a receiver (the caller has seen tryRecv() === EMPTY). FIFO. */
  addReceiver(r: Receiver<T>): void {
    if (this.#closed || this.#buf.length > 0 || this.#sendq.length > 0) {
      throw new Error('Chan.addReceiver: a value or close is ready; tryRecv first');
    }
    this.#recvq.push(r);
  }

  removeReceiver(r: Receiver<T>): boolean {
    return this.#recvq.remove(r);
  }

  /** Parks a sender (the caller has seen trySend() === false). FIFO. */
  addSender(s: Sender<T>): void {
    if (this.#closed) throw new ChanClosedError();
    if (this.#recvq.length > 0 || this.#buf.length < this.capacity) {
      throw new Error('Chan.addSender: a receiver or buffer room is ready; trySend first');
    }
    this.#sendq.push(s);
  }

  removeSender(s: Sender<T>): boolean {
    return this.#sendq.remove(s);
  }
}
