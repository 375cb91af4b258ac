/**
 * GET /status.json: the pools as they are now, for scripts (and the status page to come): each
 * pool's backends in the order its policy would pick them, the next one, and per backend its state,
 * weights, load, counts and last health check.
 */
import { STATUS_CLASSES } from '../metrics/request-meter.js';
import type { Pool } from '../balancer/pool.js';
import type { Worker } from '../balancer/worker.js';
import type { PickRecord } from '../balancer/balancer.js';

export type BackendState = 'up' | 'slow-start' | 'ejected' | 'down' | 'draining';

export interface BackendStatus {
  name: string;
  state: BackendState;
  /** Effective (slow start) and configured. */
  weight: number;
  configuredWeight: number;
  pending: number;
  /** The highest pending over the last second or so (peak-window.ts): bursts a sample a second misses. */
  peakPending: number;
  picks: number;
  /** Requests answered, by status class. */
  requests: Record<string, number>;
  ejections: number;
  /** The latency histogram so far: bucket bounds (seconds) and the count in each (the last is +Inf). */
  latency: { bounds: readonly number[]; counts: number[] };
  connections: { active: number; idle: number };
  /** The last active health check: passed or not, why, and how long ago (null: none). */
  check: { ok: boolean; why: string; ageSeconds: number } | null;
}

export interface PoolStatus {
  name: string;
  policy: string;
  /** Backends in rotation, in the order the policy would pick them (see Pool.rotation). */
  order: string[];
  next: string | null;
  /** The last picks, newest first, each explained (`a: pending 1/weight 1 beat b: pending 2/weight 1`). */
  picks: { at: string; why: string; text: string }[];
  retries: { started: number; overBudget: number; inFlight: number };
  backends: BackendStatus[];
}

export interface StatusSnapshot {
  version: string;
  uptimeSeconds: number;
  pools: PoolStatus[];
}

/** A pick in words: what the chosen backend's load was against the best one left. */
export function explainPick(p: PickRecord): string {
  const load = (b: { name: string; pending: number; weight: number }): string => `${b.name}: pending ${b.pending}/weight ${b.weight}`;
  const lead = p.why === 'spill' ? ' (its first choice had a full queue)' : p.why === 'retry' ? ' (a retry, after a failed attempt elsewhere)' : '';
  const other = p.runnerUp;
  if (other === null) return `${load(p.chosen)}, the only backend in rotation${lead}`;
  const tie = p.chosen.pending * other.weight === other.pending * p.chosen.weight;
  return `${load(p.chosen)} ${tie ? 'tied with' : 'beat'} ${load(other)}${tie ? ', and it was its turn' : ''}${lead}`;
}

function stateOf(w: Worker): BackendState {
  if (w.draining || w.leaving) return 'draining';
  if (w.down) return 'down';
  if (w.ejected) return 'ejected';
  return w.weight < w.configuredWeight ? 'slow-start' : 'up';
}

function backendStatus(w: Worker, now: number): BackendStatus {
  const requests: Record<string, number> = {};
  STATUS_CLASSES.forEach((code, i) => {
    requests[code] = w.meter.byClass[i] as number;
  });
  const check = w.lastCheck;
  return {
    name: w.name,
    state: stateOf(w),
    weight: w.weight,
    configuredWeight: w.configuredWeight,
    pending: w.pending,
    peakPending: w.peakPending.read(now, w.pending),
    picks: w.picks,
    requests,
    ejections: w.ejections,
    latency: { bounds: w.meter.latency.bounds, counts: [...w.meter.latency.counts] },
    connections: { active: w.pool.open - w.pool.idleCount, idle: w.pool.idleCount },
    check: check === null ? null : { ok: check.ok, why: check.why, ageSeconds: Math.max(0, (now - check.at) / 1000) },
  };
}

export function statusSnapshot(pools: Iterable<Pool>, version: string, startedAt: number): StatusSnapshot {
  const now = performance.now();
  return {
    version,
    uptimeSeconds: (now - startedAt) / 1000,
    pools: [...pools].map((pool) => {
      const { order, next } = pool.rotation();
      return {
        name: pool.name,
        policy: pool.policy,
        order: order.map((w) => w.name),
        next: next?.name ?? null,
        picks: [...pool.recentPicks].reverse().map((p) => ({ at: new Date(p.at).toISOString(), why: p.why, text: explainPick(p) })),
        retries: { started: pool.retries.started, overBudget: pool.retries.overBudget, inFlight: pool.retries.inFlight },
        backends: pool.workers.map((w) => backendStatus(w, now)),
      };
    }),
  };
}
