/**
 * One worker per backend (Pike's `Worker`): it receives jobs on its own channel, runs each on a
 * socket from its connection pool, and reports every finished job on the balancer's `done` channel.
 *
 * Invariants:
 * - The worker takes a job from `requests` only when its pool can run it now (an idle socket or room
 *   to dial); otherwise jobs wait in `requests`, in order. So the channel is the backend's queue.
 * - Every job the balancer dispatched here is reported done exactly once (via Job.settle), so
 *   `pending` (kept by the balancer's heap) returns to zero when the load ends.
 */
import { Chan, CLOSED, EMPTY, type Receiver } from '../csp/chan.js';
import { ConnPool, type ConnPoolOptions } from '../backend/conn-pool.js';
import type { PoolMember } from './pool.js';
import type { Job, JobOwner } from './job.js';

/** Jobs queued per backend before the balancer answers 503 rather than queue more. */
export const WORKER_QUEUE = 4096;

export class Worker implements PoolMember, JobOwner, Receiver<Job> {
  heapIndex = -1;
  pending = 0;
  turn = 0;
  readonly weight: number;
  readonly name: string;
  readonly requests = new Chan<Job>(WORKER_QUEUE);
  readonly pool: ConnPool;
  /** Responses completed, and jobs that ended in an error. */
  served = 0;
  failed = 0;

  private readonly done: Chan<Worker>;
  private parked = false;

  constructor(name: string, options: ConnPoolOptions, weight: number, done: Chan<Worker>) {
    this.name = name;
    this.weight = weight;
    this.done = done;
    this.pool = new ConnPool(options, {
      available: () => this.pump(),
      retry: (job) => this.pool.run(job, true),
    });
    this.pump();
  }

  /** Starts queued jobs while the pool has room; parks on `requests` when the queue is empty. */
  pump(): void {
    while (!this.parked && this.pool.canTake()) {
      const job = this.requests.tryRecv();
      if (job === EMPTY) {
        this.parked = true;
        this.requests.addReceiver(this);
        return;
      }
      if (job === CLOSED) return;
      this.start(job);
    }
  }

  /** Receiver<Job>: a job was handed over while parked (the pool had room when it parked). */
  receive(job: Job | typeof CLOSED): void {
    this.parked = false;
    if (job === CLOSED) return;
    this.start(job);
    this.pump();
  }

  /** JobOwner: the job ended (response, error or abort). */
  settled(job: Job): void {
    if (job.error !== null) this.failed++;
    else this.served++;
    if (!this.done.trySend(this)) void this.done.send(this);
  }

  close(): void {
    if (this.parked) {
      this.requests.removeReceiver(this);
      this.parked = false;
    }
    this.pool.close();
  }

  private start(job: Job): void {
    if (job.cancelled) {
      job.settle(null);
      return;
    }
    this.pool.run(job);
  }
}
