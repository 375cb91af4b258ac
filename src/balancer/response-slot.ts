/**
 * A job's response slot: the chunks a backend exchange has produced and the client connection has
 * not written yet, bounded in bytes across every job of one client connection (OutputBudget), so a
 * client that stops reading holds a fixed amount of memory however many responses it pipelined.
 *
 * It keeps the channel verbs of the Chan it replaces (trySend, tryRecv, addSender, addReceiver,
 * close), with one producer (the backend exchange) and one consumer (the client connection).
 *
 * Invariants:
 * - A chunk is accepted while the connection's queued bytes stay within the budget's limit; the
 *   front job (the one being written) is also accepted whenever its own slot is empty, so the
 *   response at the front always makes progress, whatever the jobs behind it hold.
 * - A parked receiver means the slot is empty and the client socket can take more: a chunk then
 *   goes straight to it, unqueued.
 * - A refused producer parks (addSender) and the budget wakes it, front job first, as bytes leave.
 * - After close() no chunk is accepted; queued chunks still drain before tryRecv reports CLOSED.
 */
import { Ring } from '../csp/ring.js';
import { CLOSED, EMPTY, ChanClosedError, type Receiver, type Sender } from '../csp/chan.js';

/** One client connection's bound on response bytes queued in its jobs' slots. */
export class OutputBudget {
  readonly limit: number;
  queued = 0;
  /** The slot being written to the client. */
  front: ResponseSlot | null = null;
  /** Slots whose producer waits for room, in the order they parked. */
  private readonly parked = new Ring<ResponseSlot>(2);

  constructor(limit: number) {
    this.limit = limit;
  }

  fits(slot: ResponseSlot, bytes: number): boolean {
    return this.queued + bytes <= this.limit || (slot === this.front && slot.bytes === 0);
  }

  park(slot: ResponseSlot): void {
    this.parked.push(slot);
  }

  unpark(slot: ResponseSlot): void {
    this.parked.remove(slot);
  }

  /** Room was made, or the front changed: let parked producers in, the front first, then in order. */
  wake(): void {
    if (this.parked.length === 0) return;
    const front = this.front;
    if (front !== null && front.parkedFits() && this.parked.remove(front)) front.admitParked();
    // Taken off the ring before it is admitted: admitting runs the producer, which may park again.
    for (let slot = this.parked.peek(); slot !== undefined && slot.parkedFits(); slot = this.parked.peek()) {
      this.parked.shift();
      slot.admitParked();
    }
  }
}

export class ResponseSlot {
  /** The connection's budget; null until the job joins a connection's pipeline (no bound). */
  budget: OutputBudget | null = null;
  /** Bytes queued in this slot. */
  bytes = 0;
  readonly #queue = new Ring<Buffer>(2);
  #closed = false;
  #receiver: Receiver<Buffer> | null = null;
  #sender: Sender<Buffer> | null = null;

  get closed(): boolean {
    return this.#closed;
  }

  /** Hands `chunk` to the parked receiver, else queues it if the budget allows, else returns false. */
  trySend(chunk: Buffer): boolean {
    if (this.#closed) throw new ChanClosedError();
    const receiver = this.#receiver;
    if (receiver !== null) {
      this.#receiver = null;
      receiver.receive(chunk);
      return true;
    }
    if (this.budget !== null && !this.budget.fits(this, chunk.length)) return false;
    this.enqueue(chunk);
    return true;
  }

  /** Queues a response the proxy made itself (an error: small), whatever the budget. */
  push(chunk: Buffer): void {
    if (this.#closed) throw new ChanClosedError();
    const receiver = this.#receiver;
    if (receiver !== null) {
      this.#receiver = null;
      receiver.receive(chunk);
      return;
    }
    this.enqueue(chunk);
  }

  tryRecv(): Buffer | typeof EMPTY | typeof CLOSED {
    const chunk = this.#queue.shift();
    if (chunk === undefined) return this.#closed ? CLOSED : EMPTY;
    this.bytes -= chunk.length;
    if (this.budget !== null) this.budget.queued -= chunk.length;
    return chunk;
  }

  /** Parks the consumer (tryRecv() was EMPTY). */
  addReceiver(r: Receiver<Buffer>): void {
    if (this.#closed || this.bytes > 0 || this.#queue.length > 0) throw new Error('ResponseSlot.addReceiver: a chunk or close is ready; tryRecv first');
    this.#receiver = r;
  }

  /** Parks the producer (trySend() was false); `sent(true)` once its value is queued. */
  addSender(s: Sender<Buffer>): void {
    if (this.#closed) throw new ChanClosedError();
    if (this.budget === null) throw new Error('ResponseSlot.addSender: no budget refused it');
    this.#sender = s;
    this.budget.park(this);
  }

  /** Whether the parked producer's value fits now (true when none is parked any more). */
  parkedFits(): boolean {
    const sender = this.#sender;
    return sender === null || this.budget === null || this.budget.fits(this, sender.value.length);
  }

  /** The budget's call, once parkedFits(): queues the parked producer's value and tells it so. */
  admitParked(): void {
    const sender = this.#sender;
    if (sender === null) return;
    this.#sender = null;
    this.enqueue(sender.value);
    sender.sent(true);
  }

  /** No more chunks: wakes a parked consumer with CLOSED (once drained) and a parked producer with false. */
  close(): void {
    if (this.#closed) throw new ChanClosedError('close of closed slot');
    this.#closed = true;
    const sender = this.#sender;
    if (sender !== null) {
      this.#sender = null;
      this.budget?.unpark(this);
      sender.sent(false);
    }
    const receiver = this.#receiver;
    if (receiver !== null) {
      this.#receiver = null;
      receiver.receive(CLOSED);
    }
  }

  private enqueue(chunk: Buffer): void {
    this.#queue.push(chunk);
    this.bytes += chunk.length;
    if (this.budget !== null) this.budget.queued += chunk.length;
  }
}
