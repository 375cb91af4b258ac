import type { RetryPolicy } from '../exchange/retry.js';
import type { RetryBudget } from './retries.js';

/** Retries on another backend after connect failures and resets, twice at most, none starting 10 s after the first try. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  retries: 2, deadlineMs: 10_000, onConnectFailure: true, onReset: true, onTimeout: false, onStatus: [],
};
/** Envoy's defaults: 20% of the requests in flight, and at least 3. */
export const DEFAULT_RETRY_BUDGET: RetryBudget = { budgetPercent: 20, minRetries: 3 };
