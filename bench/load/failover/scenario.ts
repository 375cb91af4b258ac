// What a failover scenario is to the driver (failover.ts), and the helpers the scenarios share.
import { FAULTY_STATS_PATH, type FaultyStats } from '../../../backends/faulty.js';
import { get } from '../compare/driver.js';
import { int } from '../compare/report.js';
import type { Variant } from './variants.js';

export interface Column {
  readonly name: string;
  readonly right: boolean;
}

export interface Scenario {
  /** What --scenarios calls it. */
  readonly id: string;
  readonly title: string;
  /** The report's paragraph: what happens and what to look for. */
  readonly about: string;
  /** Run with wrk (skipped without it). */
  readonly wrk: boolean;
  readonly rows: readonly Variant[];
  /** The columns after `target`. */
  readonly columns: readonly Column[];
  /**
   * Starts the backends and the row's proxy (every process through compare/procs.ts, so the driver
   * stops them after the row), measures, and returns the row's cells after `target`.
   */
  run(variant: Variant, tmp: string): Promise<string[]>;
}

export const num = (name: string): Column => ({ name, right: true });
export const text = (name: string): Column => ({ name, right: false });

/** `200 ×1,234 · 502 ×3` (what counted nothing left out), or `none` for nothing. */
export function tally(counts: Iterable<readonly [string | number, number]>, none = '-'): string {
  const parts = [...counts].filter(([, n]) => n > 0).map(([what, n]) => `${what} ×${int(n)}`);
  return parts.length === 0 ? none : parts.join(' · ');
}

/** What a backends/faulty.ts backend has counted. */
export async function faultyStats(port: number): Promise<FaultyStats> {
  const { status, body } = await get(port, FAULTY_STATS_PATH);
  if (status !== 200) throw new Error(`backend on ${port} answered ${status} to ${FAULTY_STATS_PATH}`);
  return JSON.parse(body) as FaultyStats;
}

export const seconds = (ms: number): string => (ms / 1000).toFixed(2);
