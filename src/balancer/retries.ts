/**
 * A pool's retries: its policy (exchange/retry.ts decides per attempt) and its retry budget, as
 * Envoy has and HAProxy and nginx lack: at most max(`minRetries`, `budgetPercent`% of the pool's
 * requests in flight) retries in flight at once. Past it a failure goes to the client and is
 * counted, so retries cannot multiply the load on a pool that is already struggling.
 *
 * The budget is for the retries that multiply load: after a timeout or a 502/503/504, the backend
 * held the request and may have done its work (a slow or shedding pool). A connection that failed
 * or was cut with no answer at all (a dead backend) goes again on `retries` and the deadline alone,
 * as nginx's `proxy_next_upstream error`: losing a backend cuts every request it held at once, a
 * quarter of those in flight when it is one of four, and a budget of 20% would turn that burst
 * into client errors.
 */
import type { ProxyError } from '../errors.js';
import type { Job, RetryTicket } from '../exchange/job.js';
import { mayRetryElsewhere, type AttemptProgress, type RetryPolicy } from '../exchange/retry.js';
import type { PoolSettings } from '../options/options.js';

/** The retry policy a pool's settings give (`retries`, `retry_on`, `retry_timeout`). */
export function retryPolicyOf(s: Pick<PoolSettings, 'retries' | 'retryOn' | 'retryTimeoutMs'>): RetryPolicy {
  const on = new Set<string>(s.retryOn);
  return {
    retries: s.retries,
    deadlineMs: s.retryTimeoutMs,
    onConnectFailure: on.has('connect-failure'),
    onReset: on.has('reset'),
    onTimeout: on.has('timeout'),
    onStatus: [502, 503, 504].filter((status) => on.has(String(status))),
  };
}

export interface RetryBudget {
  budgetPercent: number;
  minRetries: number;
}

export class Retries implements RetryTicket {
  readonly policy: RetryPolicy;
  private readonly budget: RetryBudget;
  /** The pool's requests in flight. */
  private readonly pending: () => number;
  /** Jobs on a retry now. */
  inFlight = 0;
  peakInFlight = 0;
  /** Retries started, and failures the budget sent to the client instead. */
  started = 0;
  overBudget = 0;

  constructor(policy: RetryPolicy, budget: RetryBudget, pending: () => number) {
    this.policy = policy;
    this.budget = budget;
    this.pending = pending;
  }

  /** Whether `job` goes to another backend after `error`: the policy's rules, then the budget. */
  allows(job: Job, error: ProxyError, progress: AttemptProgress, now: number): boolean {
    if (!mayRetryElsewhere(job, error, progress, this.policy, now)) return false;
    if (!budgeted(error) || job.retryTicket !== null) return true; // outside the budget, or already counted
    const cap = Math.max(this.budget.minRetries, Math.floor((this.budget.budgetPercent / 100) * this.pending()));
    if (this.inFlight < cap) return true;
    this.overBudget++;
    return false;
  }

  /** `job` goes to another backend after `error`: counted, and in the budget's flight until it settles. */
  start(job: Job, error: ProxyError): void {
    this.started++;
    if (!budgeted(error) || job.retryTicket !== null) return;
    job.retryTicket = this;
    if (++this.inFlight > this.peakInFlight) this.peakInFlight = this.inFlight;
  }

  /** RetryTicket: a job on a retry settled. */
  release(): void {
    this.inFlight--;
  }
}

/** A timeout or a bad status: the backend held the request (see the budget above). */
function budgeted(error: ProxyError): boolean {
  return error.code === 'PRX_ERR_BACKEND_TIMEOUT' || error.code === 'PRX_ERR_BACKEND_STATUS';
}
