/**
 * The balancer (Pike's `Balancer.balance`): one loop that selects over the work, done and health
 * channels. Work goes to the least-pending worker at the top of the heap; done brings a worker's
 * pending count back down; health takes an ejected worker out of the heap and puts it back.
 *
 * The loop is callback-driven rather than async: `Select.once` runs the ready case synchronously
 * (direct hand-off from the sender), so a request crosses the balancer without a promise. Ready
 * cases are drained with `poll()` before parking again, which bounds the recursion.
 */
import { Chan } from '../csp/chan.js';
import { Select } from '../csp/select.js';
import { createPolicy, type Policy } from './policy.js';
import type { PolicyName } from '../options/vocabulary.js';
import type { Worker } from './worker.js';
import type { Job } from '../exchange/job.js';
import { backendQueueFull, noBackend } from '../errors.js';
import type { EventLog } from '../log/event-log.js';

/** Where a balancer reports its pool emptying and refilling (names the pool). */
export interface BalancerLog {
  log: EventLog;
  pool: string;
}

export const WORK_QUEUE = 1024;
const CASE_WORK = 0;
const CASE_DONE = 1;

export class Balancer {
  readonly work = new Chan<Job>(WORK_QUEUE);
  readonly done: Chan<Worker>;
  readonly health: Chan<Worker>;
  readonly workers: Policy<Worker>;
  private readonly select: Select;
  private readonly log: BalancerLog | null;
  private running = false;

  constructor(done: Chan<Worker>, health: Chan<Worker>, workers: Iterable<Worker>, policy: PolicyName = 'least-pending', log: BalancerLog | null = null) {
    this.done = done;
    this.health = health;
    this.log = log;
    this.workers = createPolicy(policy, workers);
    this.select = new Select().recv(this.work).recv(this.done).recv(this.health);
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
    select.once(this.onReady);
  }

  private handle(index: number, value: unknown): void {
    if (index === CASE_WORK) this.dispatch(value as Job);
    else if (index === CASE_DONE) this.completed(value as Worker);
    else this.healthChanged(value as Worker);
  }

  /** Sends the job to the worker the policy picks (by default the least loaded). */
  dispatch(job: Job): void {
    const worker = this.workers.pick();
    if (worker === undefined) {
      job.settle(noBackend());
      return;
    }
    this.workers.dispatched(worker);
    job.worker = worker;
    if (!worker.requests.trySend(job)) {
      job.settle(backendQueueFull(worker.name));
    }
  }

  completed(worker: Worker): void {
    this.workers.completed(worker);
  }

  healthChanged(worker: Worker): void {
    const before = this.workers.size;
    if (worker.ejected) this.workers.remove(worker);
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
