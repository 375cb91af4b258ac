/**
 * The balancer (Pike's `Balancer.balance`): one loop that selects over the work, done, health and
 * retries channels. Work goes to the least-pending worker at the top of the heap (or, when its queue
 * is full, to the least loaded one with room: 503 only when every backend is full or out); done
 * brings a worker's pending count back down; health takes a worker out of the heap, puts it back
 * or gives it the weight slow start wants;
 * a job back from a failed attempt goes to the least loaded backend it has not tried (or, with none
 * left, the client gets that attempt's error).
 *
 * The loop is callback-driven rather than async: `Select.once` runs the ready case synchronously
 * (direct hand-off from the sender), so a request crosses the balancer without a promise. Ready
 * cases are drained with `poll()` before parking again, which bounds the recursion.
 */
import { Chan } from '../csp/chan.js';
import { Select } from '../csp/select.js';
import { createPolicy, type Policy } from './policy.js';
import type { PolicyName } from '../options/vocabulary.js';
import type { BalancerChannels, Worker } from './worker.js';
import type { Job } from '../exchange/job.js';
import { backendQueueFull, noBackend, type ProxyError } from '../errors.js';
import type { EventLog } from '../log/event-log.js';
import type { RequestMeter } from '../metrics/request-meter.js';

/** One pick, as the status page explains it: the backend chosen and the best one left, as they stood. */
export interface PickRecord {
  /** Date.now() */
  at: number;
  chosen: { name: string; pending: number; weight: number };
  runnerUp: { name: string; pending: number; weight: number } | null;
  /** `pick`: the policy's choice; `spill`: its first choice had a full queue; `retry`: after a failed attempt. */
  why: 'pick' | 'spill' | 'retry';
}

/** Picks kept for the status page (only when it is on: finding the runner-up scans the pool). */
const PICKS_KEPT = 5;

/** Where a balancer reports its pool emptying and refilling (names the pool). */
export interface BalancerLog {
  log: EventLog;
  pool: string;
}

export const WORK_QUEUE = 1024;
const CASE_WORK = 0;
const CASE_DONE = 1;
const CASE_HEALTH = 2;

/** The channels of a balancer over `backends` workers (each can have all its queue's jobs done at once). */
export function balancerChannels(backends: number, workerQueue: number): BalancerChannels {
  return {
    work: new Chan<Job>(WORK_QUEUE),
    done: new Chan<Worker>(workerQueue * backends),
    health: new Chan<Worker>(backends),
    retries: new Chan<Job>(WORK_QUEUE),
  };
}

export class Balancer {
  readonly work: Chan<Job>;
  readonly workers: Policy<Worker>;
  private readonly select: Select;
  private readonly log: BalancerLog | null;
  /** Requests the pool answered itself (no backend in rotation, every queue full); null: not counted. */
  private readonly meter: RequestMeter | null;
  /** The last picks, newest last; null: not recorded. */
  readonly picks: PickRecord[] | null;
  private running = false;

  constructor(
    channels: BalancerChannels, workers: Iterable<Worker>, policy: PolicyName = 'least-pending', log: BalancerLog | null = null,
    meter: RequestMeter | null = null, recordPicks = false,
  ) {
    this.work = channels.work;
    this.log = log;
    this.meter = meter;
    this.picks = recordPicks ? [] : null;
    this.workers = createPolicy(policy, [...workers].filter((w) => w.inRotation));
    this.select = new Select().recv(channels.work).recv(channels.done).recv(channels.health).recv(channels.retries);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.drain();
  }

  stop(): void {
    this.running = false;
    this.select.cancel();
  }

  private readonly onReady = (index: number, value: unknown): void => {
    this.handle(index, value);
    if (this.running) this.drain();
  };

  private drain(): void {
    const select = this.select;
    for (let i = select.poll(); i >= 0; i = select.poll()) this.handle(i, select.value);
    select.park(this.onReady); // nothing is ready: the last poll() just said so
  }

  private handle(index: number, value: unknown): void {
    if (index === CASE_WORK) this.dispatch(value as Job);
    else if (index === CASE_DONE) this.completed(value as Worker);
    else if (index === CASE_HEALTH) this.healthChanged(value as Worker);
    else this.redispatch(value as Job);
  }

  /** Sends the job to the worker the policy picks (by default the least loaded). */
  dispatch(job: Job): void {
    const worker = this.workers.pick();
    if (worker === undefined) {
      this.answer(job, noBackend(), null);
      return;
    }
    this.assign(job, worker.requests.canSend() ? worker : this.withRoom([worker]), worker, false);
  }

  /** A job back from a failed attempt: to the least loaded backend it has not tried, or its error to the client. */
  redispatch(job: Job): void {
    const tried = (job.tried ?? []) as Worker[];
    const worker = this.workers.pickExcept(tried);
    if (job.cancelled || worker === undefined) {
      // The client gets the last attempt's error, counted against the backend it failed on.
      this.answer(job, job.cancelled ? null : job.failure ?? noBackend(), tried[tried.length - 1] ?? null);
      return;
    }
    this.assign(job, worker.requests.canSend() ? worker : this.withRoom([...tried, worker]), worker, true);
  }

  /** The least loaded worker in rotation with room in its queue, other than `full` (which grows). */
  private withRoom(full: Worker[]): Worker | undefined {
    for (;;) {
      const w = this.workers.pickExcept(full);
      if (w === undefined || w.requests.canSend()) return w;
      full.push(w);
    }
  }

  /** Sends the job to `worker` (null: every backend in rotation is full: 503, naming the first choice). */
  private assign(job: Job, worker: Worker | undefined, first: Worker, retry: boolean): void {
    if (worker === undefined) {
      this.answer(job, backendQueueFull(first.name), null);
      return;
    }
    if (this.picks !== null) this.record(worker, retry ? 'retry' : worker === first ? 'pick' : 'spill');
    this.workers.dispatched(worker);
    worker.peakPending.note(worker.pending);
    worker.picks++;
    job.worker = worker;
    worker.requests.trySend(job);
  }

  private record(chosen: Worker, why: PickRecord['why']): void {
    const picks = this.picks as PickRecord[];
    const other = this.workers.pickExcept([chosen]);
    const view = (w: Worker) => ({ name: w.name, pending: w.pending, weight: w.weight });
    picks.push({ at: Date.now(), chosen: view(chosen), runnerUp: other === undefined ? null : view(other), why });
    if (picks.length > PICKS_KEPT) picks.shift();
  }

  /** Settles a job no worker will run, and counts it against `last` (the backend it failed on) or the pool. */
  private answer(job: Job, error: ProxyError | null, last: Worker | null): void {
    job.settle(error);
    if (!job.refused) (last?.meter ?? this.meter)?.done(job.status, job.startedAt, 0, job.bytesOut);
  }

  completed(worker: Worker): void {
    this.workers.completed(worker);
  }

  healthChanged(worker: Worker): void {
    const before = this.workers.size;
    if (worker.weight !== worker.wantedWeight) this.workers.reweigh(worker, worker.wantedWeight);
    if (!worker.inRotation) this.workers.remove(worker);
    else this.workers.add(worker);
    // Said once per change, not per refused request: until one returns, every request gets 503.
    const log = this.log;
    if (log === null) return;
    if (before > 0 && this.workers.size === 0) {
      log.log.error('pool_down', `pool ${log.pool} has no backend in rotation: requests get 503`, { pool: log.pool });
    } else if (before === 0 && this.workers.size > 0) {
      log.log.info('pool_up', `pool ${log.pool} has a backend in rotation again`, { pool: log.pool });
    }
  }
}
