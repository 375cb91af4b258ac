/**
 * One worker per backend (Pike's `Worker`): it receives jobs on its own channel, runs each on a
 * socket from its connection pool, and reports every finished job on the balancer's `done` channel.
 *
 * Invariants:
 * - The worker takes a job from `requests` only when its pool can run it now (an idle socket or room
 *   to dial); otherwise jobs wait in `requests`, in order. So the channel is the backend's queue.
 * - Every job the balancer dispatched here is reported done exactly once (via Job.settle), so
 *   `pending` (kept by the balancer's heap) returns to zero when the load ends.
 * - Passive health (passive-health.ts) decides ejections and returns; the worker tells the balancer
 *   of each change on `health`, which takes it out of the heap or puts it back, and logs it.
 */
import { Chan, CLOSED, EMPTY, type Receiver } from '../csp/chan.js';
import { SocketPool, type SocketPoolOptions } from '../backend/socket-pool.js';
import type { PoolMember } from './worker-heap.js';
import { PassiveHealth, type HealthOptions } from './passive-health.js';
import type { Job, JobOwner } from '../exchange/job.js';
import type { EventLog } from '../log/event-log.js';

/** Jobs queued per backend before the balancer answers 503 rather than queue more. */
export const WORKER_QUEUE = 4096;

export class Worker implements PoolMember, JobOwner, Receiver<Job> {
  heapIndex = -1;
  pending = 0;
  turn = 0;
  seq = 0;
  /** The effective weight (slow start ramps it up to the configured one). */
  weight: number;
  readonly name: string;
  readonly requests = new Chan<Job>(WORKER_QUEUE);
  readonly pool: SocketPool;
  /** Responses completed, and jobs that ended in an error. */
  served = 0;
  failed = 0;

  private readonly done: Chan<Worker>;
  private readonly health: Chan<Worker>;
  private readonly passive: PassiveHealth;
  /** Where backend failures, ejections and returns are reported (null: nowhere). */
  private readonly log: EventLog | null;
  private parked = false;

  constructor(name: string, options: SocketPoolOptions, weight: number, done: Chan<Worker>, health: Chan<Worker>, healthOptions: HealthOptions, log: EventLog | null) {
    this.name = name;
    this.weight = weight;
    this.done = done;
    this.health = health;
    this.passive = new PassiveHealth(healthOptions);
    this.log = log;
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
      this.passive.succeeded();
    } else {
      this.failed++;
      if (job.error.source === 'backend') {
        this.log?.backendFailed(this.name, job.error);
        if (this.passive.failed(this.pool.clock.now)) {
          this.log?.backendEjected(this.name, this.passive.failuresInARow, this.passive.options.cooldownMs);
          this.tellHealth();
        }
      }
    }
    if (!this.done.trySend(this)) void this.done.send(this);
  }

  /** Out of rotation (passive health); the balancer learns of each change on `health`. */
  get ejected(): boolean {
    return this.passive.ejected;
  }

  /** The clock's sweep: the socket pool's timeouts, and the end of an ejection. */
  sweep(now: number): void {
    this.pool.sweep(now);
    if (this.passive.sweep(now)) {
      this.log?.backendReturned(this.name);
      this.tellHealth();
    }
  }

  private tellHealth(): void {
    if (!this.health.trySend(this)) void this.health.send(this);
  }

  /** Resolves once every socket to the backend has closed (see SocketPool.close). */
  close(): Promise<void> {
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
