/**
 * The ordered response writer of one client connection: its jobs in request order, and the front
 * job's slot drained onto the socket. Pipelined responses go out in order even when later ones
 * finish first: they wait in their slots, within the connection's output budget.
 *
 * Invariants:
 * - Only the front job is written. Writing stops while the socket needs to drain, so a client that
 *   reads slowly fills the slots, and the budget then stops the backends' reads (response-slot.ts).
 * - When a front job's slot closes, its owner's `frontDone(job)` is told and decides whether writing goes on.
 * - The owner passes on the socket's 'drain' (`drained()`): the queue adds no listener of its own.
 */
import type * as net from 'node:net';
import { CLOSED, EMPTY, type Receiver } from '../csp/chan.js';
import { Ring } from '../csp/ring.js';
import { OutputBudget } from '../exchange/response-slot.js';
import type { Job } from '../exchange/job.js';

/** Who is told when the front job is done. */
export interface FrontOwner {
  /** Return false to stop writing (the connection is closing or switching). */
  frontDone(job: Job): boolean;
}

export class ResponseQueue implements Receiver<Buffer> {
  private readonly socket: net.Socket;
  private readonly jobs = new Ring<Job>(4);
  private readonly budget: OutputBudget;
  private readonly owner: FrontOwner;
  /** Parked on the front job's empty slot. */
  private parked = false;
  /** The socket asked us to wait for 'drain'. */
  private blocked = false;
  private stopped = false;

  constructor(socket: net.Socket, budget: OutputBudget, owner: FrontOwner) {
    this.socket = socket;
    this.budget = budget;
    this.owner = owner;
  }

  get length(): number {
    return this.jobs.length;
  }

  /** Response bytes held for the client: queued in slots, and in the socket. */
  get buffered(): number {
    return this.budget.queued + this.socket.writableLength;
  }

  /** Queues `job` behind the others; its slot is bound by the connection's budget. */
  push(job: Job): void {
    job.output.budget = this.budget;
    this.jobs.push(job);
    if (this.jobs.length === 1) this.writeFront();
  }

  /** The connection is gone: no more writing; every job not yet settled is cancelled. */
  cancelAll(): void {
    this.stopped = true;
    for (let job = this.jobs.shift(); job !== undefined; job = this.jobs.shift()) job.cancel();
  }

  /** Writes the front job's buffered output; parks on its slot when it is empty. */
  private writeFront(): void {
    for (;;) {
      const job = this.jobs.peek();
      if (job === undefined || this.blocked || this.parked || this.stopped) return;
      if (this.budget.front !== job.output) {
        this.budget.front = job.output;
        this.budget.grant();
      }
      const chunk = job.output.tryRecv();
      if (chunk === EMPTY) {
        this.parked = true;
        job.output.addReceiver(this);
        return;
      }
      if (chunk === CLOSED) {
        this.frontDone(job);
        continue;
      }
      this.write(chunk);
      this.budget.grant();
    }
  }

  /** Receiver<Buffer>: the front job's slot produced a chunk, or closed. */
  receive(chunk: Buffer | typeof CLOSED): void {
    this.parked = false;
    const job = this.jobs.peek();
    if (job === undefined) return;
    if (chunk === CLOSED) this.frontDone(job);
    else this.write(chunk);
    this.writeFront();
  }

  private frontDone(job: Job): void {
    this.jobs.shift();
    if (this.jobs.length === 0) this.budget.front = null; // an idle connection holds no finished slot
    if (!this.owner.frontDone(job)) this.stopped = true;
  }

  private write(chunk: Buffer): void {
    if (!this.socket.write(chunk)) this.blocked = true;
  }

  /** The socket's 'drain': it can take more. */
  drained(): void {
    this.blocked = false;
    this.writeFront();
  }
}
