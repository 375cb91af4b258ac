/**
 * Tasks that time a batch of `size` operations per sample report the mean per operation
 * (overriddenDuration), so ops/s in the tables are single operations, not timer reads; the whole
 * batch (overriddenIterationCost) counts against the bench's time budget.
 */
import type { Bench } from 'tinybench';

export interface BatchResult {
  overriddenDuration: number;
  overriddenIterationCost: number;
}

/** The result of a task that ran `size` operations since `t0` (a `bench.now()` reading). */
export function perOperation(bench: Bench, t0: number, size: number): BatchResult {
  const elapsed = bench.now() - t0;
  return { overriddenDuration: elapsed / size, overriddenIterationCost: elapsed };
}
