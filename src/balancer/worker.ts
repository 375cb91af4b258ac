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
 * - A failed attempt that goes again on another backend (exchange/retry.ts, within the pool's
 *   budget) counts as this backend's failure, is reported done here, and goes back to the balancer
 *   on `retries`, which sends it to the least loaded backend the job has not tried.
 */
import { Chan, CLOSED, EMPTY, type Receiver } from '../csp/chan.js';
import { SocketPool, type SocketPoolOptions } from '../backend/socket-pool.js';
import type { PoolMember } from './worker-heap.js';
import { PassiveHealth, type HealthOptions } from './passive-health.js';
import type { Job, JobOwner } from '../exchange/job.js';
import { mayRetryOnFreshSocket, type AttemptProgress } from '../exchange/retry.js';
import { backendStatus, type ProxyError } from '../errors.js';
import type { EventLog } from '../log/event-log.js';
import type { Retries } from './retries.js';

/** The balancer's channels a worker reports on. */
export interface BalancerChannels {
  /** Jobs to dispatch. */
  work: Chan<Job>;
  /** A job on a worker ended (or left it for a retry): its pending count comes down. */
  done: Chan<Worker>;
  /** A worker left rotation or came back. */
  health: Chan<Worker>;
  /** Jobs back from a failed attempt, for another backend. */
  retries: Chan<Job>;
}

export interface WorkerInit {
  /** The backend, `host:port`. */
  name: string;
  weight: number;
  sockets: SocketPoolOptions;
  health: HealthOptions;
  channels: BalancerChannels;
  retries: Retries;
  log: EventLog | null;
}

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

  private readonly channels: BalancerChannels;
  private readonly passive: PassiveHealth;
  private readonly retries: Retries;
  /** Where backend failures, ejections and returns are reported (null: nowhere). */
  private readonly log: EventLog | null;
  private parked = false;

  constructor(init: WorkerInit) {
    this.name = init.name;
    this.weight = init.weight;
    this.channels = init.channels;
    this.passive = new PassiveHealth(init.health);
    this.retries = init.retries;
    this.log = init.log;
    this.pool = new SocketPool(init.sockets, {
      available: () => this.pump(),
      retry: (job, error, progress) => this.retry(job, error, progress),
      retriesOnStatus: (job, status, progress) => this.retries.policy.onStatus.includes(status)
        && this.retries.allows(job, backendStatus(this.name, status), progress, this.pool.clock.now),
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
      if (job.error.source === 'backend') this.backendFailed(job.error);
    }
    this.reportDone();
  }

  /**
   * An attempt failed: the job goes again on a fresh socket here (the keep-alive race), or on
   * another backend (policy and budget permitting), or not at all (false: it is settled with `error`).
   */
  private retry(job: Job, error: ProxyError, progress: AttemptProgress): boolean {
    if (mayRetryOnFreshSocket(job, error, progress)) {
      job.retried = true;
      this.pool.run(job, true);
      return true;
    }
    if (!this.retries.allows(job, error, progress, this.pool.clock.now)) return false;
    this.failed++;
    this.backendFailed(error);
    (job.tried ??= []).push(this);
    job.failure = error;
    job.worker = null;
    this.retries.start(job);
    this.reportDone();
    const back = this.channels.retries;
    if (!back.trySend(job)) void back.send(job);
    return true;
  }

  private backendFailed(error: ProxyError): void {
    this.log?.backendFailed(this.name, error);
    if (this.passive.failed(this.pool.clock.now)) {
      this.log?.backendEjected(this.name, this.passive.failuresInARow, this.passive.options.cooldownMs);
      this.tellHealth();
    }
  }

  private reportDone(): void {
    const done = this.channels.done;
    if (!done.trySend(this)) void done.send(this);
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
    const health = this.channels.health;
    if (!health.trySend(this)) void health.send(this);
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
    if (job.firstTryAt < 0) job.firstTryAt = this.pool.clock.now;
    this.pool.run(job);
  }
}
