/**
 * One worker per backend (Pike's `Worker`): it receives jobs on its own channel, runs each on a
 * socket from its connection pool, and reports every finished job on the balancer's `done` channel.
 *
 * Invariants:
 * - The worker takes a job from `requests` only when its pool can run it now (an idle socket or room
 *   to dial); otherwise jobs wait in `requests`, in order. So the channel is the backend's queue.
 * - Every job the balancer dispatched here is reported done exactly once (via Job.settle), so
 *   `pending` (kept by the balancer's heap) returns to zero when the load ends.
 * - Passive health: `failuresToEject` backend failures in a row (refused, timed out, malformed or
 *   cut-short responses; not client aborts) eject the worker: it tells the balancer on `health`,
 *   which takes it out of the heap. After `cooldownMs` it is sent back; one more failure ejects it
 *   again at once, a success makes it healthy.
 */
import { Chan, CLOSED, EMPTY, type Receiver } from '../csp/chan.js';
import { SocketPool, type SocketPoolOptions } from '../backend/socket-pool.js';
import type { PoolMember } from './worker-heap.js';
import type { Job, JobOwner } from '../exchange/job.js';
import type { EventLog } from '../log/event-log.js';

/** Jobs queued per backend before the balancer answers 503 rather than queue more. */
export const WORKER_QUEUE = 4096;

export interface HealthOptions {
  failuresToEject: number;
  cooldownMs: number;
  /** Where backend failures, ejections and returns are reported (null: nowhere). */
  log?: EventLog | null;
}

export class Worker implements PoolMember, JobOwner, Receiver<Job> {
  heapIndex = -1;
  pending = 0;
  turn = 0;
  readonly weight: number;
  readonly name: string;
  readonly requests = new Chan<Job>(WORKER_QUEUE);
  readonly pool: SocketPool;
  /** Responses completed, and jobs that ended in an error. */
  served = 0;
  failed = 0;

  /** Out of rotation (passive health); the balancer learns of each change on `health`. */
  ejected = false;

  private readonly done: Chan<Worker>;
  private readonly health: Chan<Worker>;
  private readonly healthOptions: HealthOptions;
  private failuresInARow = 0;
  private cooldown: NodeJS.Timeout | null = null;
  private parked = false;

  constructor(name: string, options: SocketPoolOptions, weight: number, done: Chan<Worker>, health: Chan<Worker>, healthOptions: HealthOptions) {
    this.name = name;
    this.weight = weight;
    this.done = done;
    this.health = health;
    this.healthOptions = healthOptions;
    this.pool = new SocketPool(options, {
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
    if (job.cancelled) {
      // The client left: this says nothing about the backend either way.
    } else if (job.error === null) {
      this.served++;
      this.failuresInARow = 0;
    } else {
      this.failed++;
      if (job.error.source === 'backend') this.healthOptions.log?.backendFailed(this.name, job.error);
      if (job.error.source === 'backend' && ++this.failuresInARow >= this.healthOptions.failuresToEject && !this.ejected) {
        this.eject();
      }
    }
    if (!this.done.trySend(this)) void this.done.send(this);
  }

  private eject(): void {
    this.ejected = true;
    this.healthOptions.log?.backendEjected(this.name, this.failuresInARow, this.healthOptions.cooldownMs);
    this.tellHealth();
    this.cooldown = setTimeout(() => {
      this.cooldown = null;
      this.ejected = false;
      this.failuresInARow = this.healthOptions.failuresToEject - 1;
      this.healthOptions.log?.backendReturned(this.name);
      this.tellHealth();
    }, this.healthOptions.cooldownMs).unref();
  }

  private tellHealth(): void {
    if (!this.health.trySend(this)) void this.health.send(this);
  }

  /** Resolves once every socket to the backend has closed (see SocketPool.close). */
  close(): Promise<void> {
    if (this.cooldown !== null) clearTimeout(this.cooldown);
    if (this.parked) {
      this.requests.removeReceiver(this);
      this.parked = false;
    }
    return this.pool.close();
  }

  private start(job: Job): void {
    if (job.cancelled) {
      job.settle(null);
      return;
    }
    this.pool.run(job);
  }
}
