/**
 * One worker per backend (Pike's `Worker`): it receives jobs on its own channel, runs each on a
 * socket from its connection pool, and reports every finished job on the balancer's `done` channel.
 *
 * Invariants:
 * - The worker takes a job from `requests` only when its pool can run it now (an idle socket or room
 *   to dial); otherwise jobs wait in `requests`, in order. So the channel is the backend's queue.
 * - Every job the balancer dispatched here is reported done exactly once (via Job.settle), so
 *   `pending` (kept by the balancer's heap) returns to zero when the load ends.
 * - The worker is in rotation when neither passive health (passive-health.ts: ejections and their
 *   end) nor its active check (active-health.ts, shared with other pools) takes it out. It tells the
 *   balancer on `health` of every change, and of each step of a slow start (slow-start.ts), which
 *   begins whenever it comes back; the balancer puts it in the heap, takes it out or reweighs it.
 * - A failed attempt that goes again on another backend (exchange/retry.ts, within the pool's
 *   budget) counts as this backend's failure, is reported done here, and goes back to the balancer
 *   on `retries`, which sends it to the least loaded backend the job has not tried.
 */
import { Chan, CLOSED, EMPTY, type Receiver } from '../csp/chan.js';
import { SocketPool, type SocketPoolOptions } from '../backend/socket-pool.js';
import type { PoolMember } from './worker-heap.js';
import { PassiveHealth, type HealthOptions } from './passive-health.js';
import type { Job, JobOwner } from '../exchange/job.js';
import { mayRetryOnFreshSocket, retryReason, type AttemptProgress, type RetryReason } from '../exchange/retry.js';
import { RequestMeter } from '../metrics/request-meter.js';
import { PeakWindow } from '../metrics/peak-window.js';
import { backendStatus, type ProxyError } from '../errors.js';
import type { EventLog } from '../log/event-log.js';
import type { Retries } from './retries.js';
import type { ActiveCheck, CheckSubscriber } from './active-health.js';
import { SlowStart } from './slow-start.js';

/** The balancer's channels a worker reports on. */
export interface BalancerChannels {
  /** Jobs to dispatch. */
  work: Chan<Job>;
  /** A job on a worker ended (or left it for a retry): its pending count comes down. */
  done: Chan<Worker>;
  /** A worker left rotation, came back, or its effective weight changed. */
  health: Chan<Worker>;
  /** Jobs back from a failed attempt, for another backend. */
  retries: Chan<Job>;
}

export interface WorkerInit {
  /** The backend, `host:port`. */
  name: string;
  weight: number;
  /** Jobs waiting for a socket, at most. */
  queue: number;
  sockets: SocketPoolOptions;
  health: HealthOptions;
  channels: BalancerChannels;
  retries: Retries;
  /** The backend's active health check (null: none); the worker subscribes to it until closed. */
  check: ActiveCheck | null;
  /** Slow start's length (0: off). */
  slowStartMs: number;
  /** Begin with a slow start: a backend a reload added to a pool. */
  rampUp: boolean;
  /** The latency histogram's bucket bounds, in seconds. */
  buckets: readonly number[];
  /** Whether a backend in rotation other than `except` could take a retry now (the balancer knows). */
  hasAlternative: (except: readonly Worker[]) => boolean;
  log: EventLog | null;
}

export class Worker implements PoolMember, JobOwner, Receiver<Job>, CheckSubscriber {
  heapIndex = -1;
  pending = 0;
  turn = 0;
  seq = 0;
  /** The effective weight, as the balancer's policy has it (see wantedWeight). */
  weight: number;
  /** The effective weight slow start wants now; the balancer sets `weight` to it when told. */
  wantedWeight: number;
  readonly name: string;
  /** The backend's queue: jobs dispatched here, waiting for a socket (full: the balancer looks elsewhere). */
  readonly requests: Chan<Job>;
  readonly pool: SocketPool;
  /** Responses completed, and jobs that ended in an error. */
  served = 0;
  failed = 0;
  /** Requests by status class, latency and bytes, for the metrics. */
  readonly meter: RequestMeter;
  /** The highest `pending` of the last second or so, for the status page. */
  readonly peakPending = new PeakWindow();
  /** Jobs the balancer sent here; ejections by passive health; attempts that went again, by why. */
  picks = 0;
  ejections = 0;
  readonly retriesBy: Record<RetryReason, number> = { 'connect-failure': 0, reset: 0, timeout: 0, status: 0, 'stale-socket': 0 };

  private readonly channels: BalancerChannels;
  private readonly passive: PassiveHealth;
  private readonly retries: Retries;
  private readonly check: ActiveCheck | null;
  private readonly hasAlternative: (except: readonly Worker[]) => boolean;
  private readonly slowStart: SlowStart;
  private wasInRotation: boolean;
  /** Where backend failures, ejections and returns are reported (null: nowhere). */
  private readonly log: EventLog | null;
  private parked = false;

  constructor(init: WorkerInit) {
    this.name = init.name;
    this.meter = new RequestMeter(init.buckets);
    this.requests = new Chan<Job>(init.queue);
    this.channels = init.channels;
    this.passive = new PassiveHealth(init.health);
    this.retries = init.retries;
    this.log = init.log;
    this.check = init.check;
    this.check?.subscribe(this);
    this.hasAlternative = init.hasAlternative;
    this.wasInRotation = this.inRotation;
    this.slowStart = new SlowStart(init.slowStartMs, init.weight);
    if (init.rampUp) this.slowStart.begin(init.sockets.clock.now);
    this.weight = this.wantedWeight = this.slowStart.weightAt(init.sockets.clock.now);
    this.pool = new SocketPool(init.sockets, {
      available: () => this.pump(),
      retry: (job, error, progress) => this.retry(job, error, progress),
      // The response is dropped for a retry only when another backend can take it: else the client
      // gets the backend's own answer, not the proxy's canned one (nginx relays the last server's too).
      retriesOnStatus: (job, status, progress) => this.retries.policy.onStatus.includes(status)
        && this.retries.allows(job, backendStatus(this.name, status), progress, this.pool.clock.now)
        && this.hasAlternative([...(job.tried ?? []) as Worker[], this]),
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
      // A status the pool retries on (retry_on 503, say) is a failure whether it was retried or,
      // retries spent, passed to the client (as nginx counts its proxy_next_upstream statuses).
      if (this.retries.policy.onStatus.includes(job.status)) this.backendFailed(backendStatus(this.name, job.status));
      else this.passive.succeeded();
    } else {
      this.failed++;
      if (job.error.source === 'backend') this.backendFailed(job.error);
    }
    if (!job.refused) this.meter.done(job.status, job.startedAt, job.head.length + job.bodyBytes, job.bytesOut);
    this.reportDone();
  }

  /**
   * An attempt failed: the job goes again on a fresh socket here (the keep-alive race), or on
   * another backend (policy and budget permitting), or not at all (false: it is settled with `error`).
   */
  private retry(job: Job, error: ProxyError, progress: AttemptProgress): boolean {
    if (mayRetryOnFreshSocket(job, error, progress)) {
      this.retriesBy['stale-socket']++;
      job.retried = true;
      this.pool.run(job, true);
      return true;
    }
    if (!this.retries.allows(job, error, progress, this.pool.clock.now)) return false;
    this.failed++;
    this.retriesBy[retryReason(error, progress)]++;
    this.backendFailed(error);
    (job.tried ??= []).push(this);
    job.failure = error;
    job.worker = null;
    this.retries.start(job, error);
    this.reportDone();
    const back = this.channels.retries;
    if (!back.trySend(job)) void back.send(job);
    return true;
  }

  private backendFailed(error: ProxyError): void {
    this.log?.backendFailed(this.name, error);
    if (this.passive.failed(this.pool.clock.now)) {
      this.ejections++;
      this.log?.backendEjected(this.name, this.passive.failuresInARow, this.passive.options.cooldownMs);
      this.healthChanged(this.pool.clock.now);
    }
  }

  private reportDone(): void {
    const done = this.channels.done;
    if (!done.trySend(this)) void done.send(this);
  }

  /** Ejected by passive health. */
  get ejected(): boolean {
    return this.passive.ejected;
  }

  /** Its active check's last result (null: no check, or none finished yet). */
  get lastCheck(): { ok: boolean; why: string; at: number } | null {
    const c = this.check;
    return c === null || c.lastAt < 0 ? null : { ok: c.lastOk, why: c.lastWhy, at: c.lastAt };
  }

  /** The configured weight (what slow start ramps towards). */
  get configuredWeight(): number {
    return this.slowStart.weight;
  }

  /** Down by its active check. */
  get down(): boolean {
    return this.check !== null && !this.check.up;
  }

  /** Neither ejected, down, drained nor leaving; the balancer learns of each change on `health`. */
  get inRotation(): boolean {
    return !this.passive.ejected && !this.down && !this.draining && !this.leaving;
  }

  /** Drained by an operator: no new requests; those in flight finish. */
  draining = false;
  /** Its address left the DNS answer: drained, then closed by its pool (an operator cannot return it). */
  leaving = false;

  /** A backend added to a running pool (found through DNS) asks the balancer for a place in rotation. */
  join(): void {
    this.tellHealth();
  }

  /** Its address left the DNS answer (true) or came back before it was gone (false). */
  leave(on: boolean): void {
    this.leaving = on;
    this.healthChanged(this.pool.clock.now);
  }

  /** An operator drains the backend (true) or returns it (false). */
  drain(on: boolean): void {
    this.draining = on;
    this.healthChanged(this.pool.clock.now);
  }

  /** An operator sets the backend's weight (a slow start under way goes on towards it). */
  setWeight(weight: number): void {
    this.slowStart.weight = weight;
    this.wantedWeight = this.slowStart.weightAt(this.pool.clock.now);
    this.tellHealth();
  }

  /** CheckSubscriber: the active check took the backend down or brought it back (and logged it). */
  checkChanged(): void {
    this.healthChanged(this.pool.clock.now);
  }

  /** The clock's sweep: the socket pool's timeouts, the end of an ejection, the steps of a slow start. */
  sweep(now: number): void {
    this.pool.sweep(now);
    if (this.passive.sweep(now)) {
      if (!this.down) this.log?.backendReturned(this.name);
      this.healthChanged(now);
    } else if (this.slowStart.ramping) {
      const weight = this.slowStart.weightAt(now);
      if (weight !== this.wantedWeight) {
        this.wantedWeight = weight;
        this.tellHealth();
      }
    }
  }

  /** Passive or active health changed: a return to rotation begins a slow start; the balancer is told. */
  private healthChanged(now: number): void {
    const inRotation = this.inRotation;
    if (inRotation && !this.wasInRotation) {
      this.slowStart.begin(now);
      this.wantedWeight = this.slowStart.weightAt(now);
    }
    this.wasInRotation = inRotation;
    this.tellHealth();
  }

  private tellHealth(): void {
    const health = this.channels.health;
    if (!health.trySend(this)) void health.send(this);
  }

  /** Resolves once every socket to the backend has closed (see SocketPool.close). */
  close(): Promise<void> {
    this.check?.unsubscribe(this);
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
