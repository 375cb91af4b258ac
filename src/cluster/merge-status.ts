/**
 * The status page's view over worker processes: each has its own heaps and counts, so the primary
 * sums them. Counts, pending, peaks, picks, latency buckets and connections add up; a backend's
 * state is the most serious any process gives it (ejected in one process shows as ejected); the
 * order is by the summed load (pending/weight), since each process keeps its own heap; the last
 * picks are the newest of every process, each naming its worker.
 */
import type { BackendState, BackendStatus, PoolStatus, StatusSnapshot } from '../admin/status.js';

/** Most serious first. */
const SEVERITY: readonly BackendState[] = ['down', 'ejected', 'draining', 'slow-start', 'up'];

export interface WorkerSummary {
  id: number;
  pid: number;
  /** Times this worker's slot was refilled after its process died. */
  restarts: number;
  pending: number;
  /** Requests answered, all classes. */
  requests: number;
}

export type ClusterSnapshot = StatusSnapshot & { workers: WorkerSummary[] };

const PICKS_SHOWN = 5;

function addInto(into: number[], from: readonly number[]): void {
  from.forEach((v, i) => {
    into[i] = (into[i] ?? 0) + v;
  });
}

function mergeBackend(parts: BackendStatus[]): BackendStatus {
  const first = parts[0] as BackendStatus;
  const out: BackendStatus = {
    ...first,
    state: SEVERITY.find((s) => parts.some((p) => p.state === s)) ?? first.state,
    weight: parts.reduce((a, p) => a + p.weight, 0) / parts.length,
    pending: 0, peakPending: 0, picks: 0, ejections: 0,
    requests: {},
    latency: { bounds: first.latency.bounds, counts: [] },
    connections: { active: 0, idle: 0 },
  };
  for (const p of parts) {
    out.pending += p.pending;
    out.peakPending += p.peakPending;
    out.picks += p.picks;
    out.ejections += p.ejections;
    for (const [code, n] of Object.entries(p.requests)) out.requests[code] = (out.requests[code] ?? 0) + n;
    addInto(out.latency.counts, p.latency.counts);
    out.connections.active += p.connections.active;
    out.connections.idle += p.connections.idle;
  }
  return out;
}

function mergePool(parts: { id: number; pool: PoolStatus }[]): PoolStatus {
  const first = (parts[0] as { pool: PoolStatus }).pool;
  // Every backend any process has: they may differ for a moment (a DNS change, a reload on its way).
  const names = [...new Set(parts.flatMap(({ pool }) => pool.backends.map((b) => b.name)))];
  const backends = names.map((name) => mergeBackend(parts.flatMap(({ pool }) => pool.backends.filter((x) => x.name === name))));
  const inRotation = new Set(parts.flatMap(({ pool }) => pool.order));
  // Least summed pending/weight first, ties in the configured order (a stable sort).
  const order = backends.filter((b) => inRotation.has(b.name))
    .sort((a, b) => a.pending * b.weight - b.pending * a.weight)
    .map((b) => b.name);
  const picks = parts.flatMap(({ id, pool }) => pool.picks.map((p) => ({ ...p, text: `worker ${id}: ${p.text}` })))
    .sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0))
    .slice(0, PICKS_SHOWN);
  return {
    ...first,
    order,
    next: order[0] ?? null,
    picks,
    retries: {
      started: parts.reduce((a, { pool }) => a + pool.retries.started, 0),
      overBudget: parts.reduce((a, { pool }) => a + pool.retries.overBudget, 0),
      inFlight: parts.reduce((a, { pool }) => a + pool.retries.inFlight, 0),
    },
    backends,
  };
}

/** One snapshot of the worker processes' snapshots (in worker id order); `uptimeSeconds`: the primary's. */
export function mergeStatus(parts: { summary: Omit<WorkerSummary, 'pending' | 'requests'>; snapshot: StatusSnapshot }[], uptimeSeconds: number): ClusterSnapshot {
  const first = parts[0]?.snapshot;
  const pools = first === undefined ? [] : first.pools.map((p) => mergePool(parts.flatMap(({ summary, snapshot }) => {
    const pool = snapshot.pools.find((x) => x.name === p.name);
    return pool === undefined ? [] : [{ id: summary.id, pool }];
  })));
  return {
    version: first?.version ?? '',
    uptimeSeconds,
    pools,
    workers: parts.map(({ summary, snapshot }) => {
      const backends = snapshot.pools.flatMap((p) => p.backends);
      return {
        ...summary,
        pending: backends.reduce((a, b) => a + b.pending, 0),
        requests: backends.reduce((a, b) => a + Object.values(b.requests).reduce((x, y) => x + y, 0), 0),
      };
    }),
  };
}
