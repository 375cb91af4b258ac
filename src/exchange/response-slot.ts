/**
 * A job's response slot: the chunks a backend exchange has produced and the client connection has
 * not written yet. Its memory is bounded per client connection (OutputBudget), however many
 * responses the client pipelined, by credit: a backend socket reads only while its slot holds a
 * read credit, one read's worth of room in the connection's budget. A piece that was read is then
 * always accepted, so no exchange ever sits on bytes it could not hand over.
 *
 * One producer (the backend exchange) and one consumer (the client connection) per slot.
 *
 * Invariants:
 * - Queued bytes plus the credits held by reading slots stay within the limit, except that the
 *   front slot (the response being written) may read whenever its own slot is empty: the front
 *   always makes progress, whatever the responses behind it hold. So a connection holds at most
 *   about limit + one read (+ the head rewritten into the first piece).
 * - A producer without credit has paused its socket and waits (awaitCredit); the budget grants
 *   credit as bytes leave or credits are returned, the front slot first, then in the order they asked.
 * - A parked consumer means the slot is empty and the client socket can take more: a chunk then goes
 *   straight to it, unqueued.
 * - After close() nothing is accepted and the credit is returned; queued chunks still drain before
 *   tryRecv reports CLOSED.
 */
import { Ring } from '../csp/ring.js';
import { CLOSED, EMPTY, ChanClosedError, type Receiver } from '../csp/chan.js';

/** A producer that paused its source until its slot is granted a read credit. */
export interface CreditWaiter {
  creditGranted(): void;
}

/** One client connection's bound on the response bytes its jobs may hold. */
export class OutputBudget {
  readonly limit: number;
  /** The most one read can add to a slot: what a credit is worth. */
  readonly readSize: number;
  queued = 0;
  /** Slots holding a read credit. */
  readers = 0;
  /** The slot being written to the client. */
  front: ResponseSlot | null = null;
  /** Slots waiting for credit, in the order they asked; made when the first has to wait. */
  private waiting: Ring<ResponseSlot> | null = null;

  constructor(limit: number, readSize: number) {
    this.limit = limit;
    this.readSize = readSize;
  }

  /** Whether `slot` may hold a read credit now (keeping one it holds, or taking one). */
  allows(slot: ResponseSlot): boolean {
    const front = this.front;
    if (slot === front && slot.bytes === 0) return true;
    let others = this.readers - (slot.reading ? 1 : 0);
    if (front !== null && front !== slot && front.reading) others--; // the front's credit is its own affair
    return this.queued + (others + 1) * this.readSize <= this.limit;
  }

  wait(slot: ResponseSlot): void {
    (this.waiting ??= new Ring<ResponseSlot>(2)).push(slot);
  }

  forget(slot: ResponseSlot): void {
    this.waiting?.remove(slot);
  }

  /** Room was made, a credit returned, or the front changed: grant credit, the front first, then in order. */
  grant(): void {
    const waiting = this.waiting;
    if (waiting === null || waiting.length === 0) return;
    const front = this.front;
    if (front !== null && this.allows(front) && waiting.remove(front)) front.granted();
    // Taken off the ring before it is granted: the producer runs, and may ask again.
    for (let slot = waiting.peek(); slot !== undefined && this.allows(slot); slot = waiting.peek()) {
      waiting.shift();
      slot.granted();
    }
  }
}

export class ResponseSlot {
  /** The connection's budget; null until the job joins a connection's pipeline (no bound). */
  budget: OutputBudget | null = null;
  /** Bytes queued in this slot. */
  bytes = 0;
  /** Holds a read credit. */
  reading = false;
  /**
   * Chunks waiting for the consumer; made at the first that has to wait. Most responses never queue:
   * the consumer is parked on the slot and each chunk goes straight to it.
   */
  #queue: Ring<Buffer> | null = null;
  #closed = false;
  #receiver: Receiver<Buffer> | null = null;
  #waiter: CreditWaiter | null = null;

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The producer is about to read (or read on): true if it holds a read credit now. False: it
   * must pause its source and awaitCredit.
   */
  takeCredit(): boolean {
    const budget = this.budget;
    if (budget === null) return true;
    if (!budget.allows(this)) {
      this.returnCredit();
      return false;
    }
    if (!this.reading) {
      this.reading = true;
      budget.readers++;
    }
    return true;
  }

  /** Parks a producer that paused its source (takeCredit() was false): creditGranted() later. */
  awaitCredit(w: CreditWaiter): void {
    if (this.#closed) throw new ChanClosedError();
    if (this.budget === null) throw new Error('ResponseSlot.awaitCredit: no budget to wait on');
    this.#waiter = w;
    this.budget.wait(this);
  }

  /** The budget's call: the credit is this slot's now; the producer resumes. */
  granted(): void {
    const waiter = this.#waiter;
    if (waiter === null) return;
    this.#waiter = null;
    this.takeCredit();
    waiter.creditGranted();
  }

  /** Takes a chunk: hands it to the parked consumer, else queues it (a producer reads only with credit). */
  push(chunk: Buffer): void {
    if (this.#closed) throw new ChanClosedError();
    const receiver = this.#receiver;
    if (receiver !== null) {
      this.#receiver = null;
      receiver.receive(chunk);
      return;
    }
    (this.#queue ??= new Ring<Buffer>(2)).push(chunk);
    this.bytes += chunk.length;
    if (this.budget !== null) this.budget.queued += chunk.length;
  }

  tryRecv(): Buffer | typeof EMPTY | typeof CLOSED {
    const chunk = this.#queue === null ? undefined : this.#queue.shift();
    if (chunk === undefined) return this.#closed ? CLOSED : EMPTY;
    this.bytes -= chunk.length;
    if (this.budget !== null) this.budget.queued -= chunk.length;
    return chunk;
  }

  /** Parks the consumer (tryRecv() was EMPTY). */
  addReceiver(r: Receiver<Buffer>): void {
    if (this.#closed || this.bytes > 0 || (this.#queue !== null && this.#queue.length > 0)) throw new Error('ResponseSlot.addReceiver: a chunk or close is ready; tryRecv first');
    this.#receiver = r;
  }

  /**
   * No more chunks: the credit is returned, a producer waiting for one is forgotten (it is the one
   * closing, or it is being cancelled), and a parked consumer gets CLOSED (once drained).
   */
  close(): void {
    if (this.#closed) throw new ChanClosedError('close of closed slot');
    this.#closed = true;
    if (this.#waiter !== null) {
      this.#waiter = null;
      this.budget?.forget(this);
    }
    this.returnCredit();
    const receiver = this.#receiver;
    if (receiver !== null) {
      this.#receiver = null;
      receiver.receive(CLOSED);
    }
  }

  private returnCredit(): void {
    if (!this.reading) return;
    this.reading = false;
    const budget = this.budget as OutputBudget;
    budget.readers--;
    budget.grant();
  }
}
