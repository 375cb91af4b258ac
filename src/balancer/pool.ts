/**
 * A pool: a named set of backends with its own work channel, balancer and one worker per backend
 * (what a single-pool proxy is, so several can run side by side and routes choose between them).
 *
 * Invariants:
 * - `key` covers everything the pool was built from; a reload keeps a pool whose key is unchanged
 *   (its sockets, pending counts and health state go on) and builds a new one otherwise.
 * - A pool no route sends to any more is retired: it keeps running until `idle` (nothing queued,
 *   nothing parked on its work channel, nothing pending on any worker), then it is closed.
 * - Its workers are its fixed backends and one per address its `dns:` entries resolve to (one per
 *   `host:port` however many entries give it). An address that appears joins the heap (slow-starting
 *   if the pool has slow start, but not in the first answer of a pool built at start-up); one that
 *   disappears leaves it, finishes what it has in flight, and is closed by the sweep.
 */
import type { Chan } from '../csp/chan.js';
import { Balancer, balancerChannels, type PickRecord } from './balancer.js';
import { Worker } from './worker.js';
import { Retries, retryPolicyOf } from './retries.js';
import { checkOptionsOf, checkTargetOf, type HealthChecks } from './active-health.js';
import { RequestMeter } from '../metrics/request-meter.js';
import { dialTls } from '../backend/socket-pool.js';
import { lessLoaded } from './worker-heap.js';
import type { PolicyName } from '../options/vocabulary.js';
import type { Job } from '../exchange/job.js';
import type { EventLog } from '../log/event-log.js';
import { POOL_SETTINGS, type PoolOptions, type PoolSettings, type ProxyOptions } from '../options/options.js';
import type { Clock } from '../clock.js';
import { addressName, discoveredBackends, type Discovery } from '../dns/discovery.js';
import type { DnsName, DnsSubscriber } from '../dns/dns-name.js';
import type { Address } from '../options/options.js';

export interface WorkerStats {
  name: string;
  pending: number;
  served: number;
  failed: number;
  open: number;
  idle: number;
  dialled: number;
  /** Out of rotation after consecutive failures, until its cool-down ends. */
  ejected: boolean;
  /** Out of rotation by its active health check. */
  down: boolean;
  /** The effective weight (below the configured one during a slow start). */
  weight: number;
}

export interface RetryStats {
  /** Retries started on another backend. */
  started: number;
  /** Failures that went to the client because the retry budget was spent. */
  overBudget: number;
  /** Retries in flight now, and the most there have been at once. */
  inFlight: number;
  peakInFlight: number;
}

/** What every pool shares: the clock, the error log, the active health checks and the DNS names. */
export interface PoolServices {
  clock: Clock;
  log: EventLog | null;
  checks: HealthChecks;
  discovery: Discovery;
  /** Keep the last picks with their runner-up, for the status page. */
  recordPicks: boolean;
}

/** The settings a pool's workers use: proxy-wide ones, and those a pool may set for itself. */
export type BackendSettings = Pick<ProxyOptions,
  'maxConnectionsPerBackend' | 'maxBackendQueue' | 'metricsBuckets' | 'connectTimeoutMs' | 'responseTimeoutMs' | 'backendIdleTimeoutMs' | 'failuresToEject' | 'ejectCooldownMs'
  | 'backendCa'> & PoolSettings;

/** The pool's settings: the proxy-wide ones under what the pool sets for itself. */
export function settingsOf(pool: PoolOptions, settings: BackendSettings): BackendSettings {
  return pool.settings === undefined ? settings : { ...settings, ...pool.settings };
}

/** Everything a pool is built from: a reload keeps a pool whose key is unchanged. */
export function poolKey(pool: PoolOptions, settings: BackendSettings): string {
  const s = settingsOf(pool, settings);
  return JSON.stringify([
    pool.name, pool.policy, pool.backends.map((b) => [b.host, b.port, b.weight ?? 1, b.https === true, b.dns === true]), s.backendCa?.pem ?? null,
    s.maxConnectionsPerBackend, s.maxBackendQueue, s.metricsBuckets, s.connectTimeoutMs, s.responseTimeoutMs, s.backendIdleTimeoutMs, s.failuresToEject, s.ejectCooldownMs,
    ...POOL_SETTINGS.map((key) => s[key]),
  ]);
}

/** How many backends a `dns:` entry counts as when the channels are sized (more only means a sender waits). */
const DNS_ENTRY_GUESS = 8;

/** A `dns:` entry of the pool: its name, and whether its first set has come. */
interface DnsEntry {
  backend: Address;
  name: DnsName;
  seen: boolean;
}

export class Pool implements DnsSubscriber {
  readonly name: string;
  readonly key: string;
  readonly policy: PolicyName;
  readonly work: Chan<Job>;
  /** Fixed backends first, then those found through DNS as they came (leaving ones until closed). */
  get workers(): readonly Worker[] {
    return this.members;
  }
  readonly retries: Retries;
  /** Requests the pool answered itself: none of its backends in rotation, or every queue full. */
  readonly meter: RequestMeter;
  private readonly balancer: Balancer;
  private members: Worker[];
  /** The backends given as addresses (a list may give one twice: each is a worker), and their names. */
  private readonly fixed: Address[];
  private readonly fixedNames: Set<string>;
  private readonly dns: DnsEntry[];
  /** Makes the worker of one backend; `rampUp`: it begins with a slow start. */
  private readonly workerOf: (b: Address, rampUp: boolean) => Worker;
  /** Built at start-up: the first set of each name is the pool's own, not a return to service. */
  private readonly atStart: boolean;

  /**
   * `previous`: the backends of the pool this one replaces (a reload), which do not slow-start;
   * null when there is none (the proxy starting, or a new pool), and then none does.
   */
  constructor(pool: PoolOptions, proxyWide: BackendSettings, services: PoolServices, previous: ReadonlySet<string> | null) {
    const { clock, log, checks } = services;
    this.name = pool.name;
    this.policy = pool.policy;
    this.key = poolKey(pool, proxyWide);
    const settings = settingsOf(pool, proxyWide);
    this.fixed = pool.backends.filter((b) => b.dns !== true);
    this.fixedNames = new Set(this.fixed.map(addressName));
    this.dns = pool.backends.filter((b) => b.dns === true).map((backend) => ({ backend, name: services.discovery.nameOf(backend.host, clock.now), seen: false }));
    this.atStart = previous === null;
    const channels = balancerChannels(this.fixed.length + DNS_ENTRY_GUESS * this.dns.length, settings.maxBackendQueue);
    this.retries = new Retries(retryPolicyOf(settings), { budgetPercent: settings.retryBudgetPercent, minRetries: settings.retryBudgetMin }, () => this.pending);
    const check = checkOptionsOf(settings);
    this.workerOf = (b, rampUp) => new Worker({
      name: addressName(b),
      weight: b.weight ?? 1,
      queue: settings.maxBackendQueue,
      sockets: {
        host: b.host,
        port: b.port,
        maxConnections: settings.maxConnectionsPerBackend,
        connectTimeoutMs: settings.connectTimeoutMs,
        responseTimeoutMs: settings.responseTimeoutMs,
        idleTimeoutMs: settings.backendIdleTimeoutMs,
        clock,
        sendProxy: settings.sendProxy,
        ...(b.https === true ? { dial: dialTls(settings.backendCa?.pem ?? null) } : {}),
      },
      health: { failuresToEject: settings.failuresToEject, cooldownMs: settings.ejectCooldownMs },
      channels,
      retries: this.retries,
      hasAlternative: (except) => this.balancer.workers.pickExcept(except) !== undefined,
      check: check === null ? null : checks.checkOf(checkTargetOf(b, settings), check, clock.now),
      slowStartMs: settings.slowStartMs,
      rampUp,
      buckets: settings.metricsBuckets,
      log,
    });
    // The names' sets known now (a reload, or a name another pool uses) are taken at once.
    const rampUp = (b: Address): boolean => previous !== null && !previous.has(addressName(b));
    this.members = [...this.fixed, ...this.discovered().values()].map((b) => this.workerOf(b, rampUp(b)));
    for (const entry of this.dns) {
      entry.seen = entry.name.addresses.length > 0;
      entry.name.subscribe(this);
    }
    this.meter = new RequestMeter(settings.metricsBuckets);
    this.balancer = new Balancer(channels, this.members, pool.policy, log === null ? null : { log, pool: pool.name }, this.meter, services.recordPicks);
    this.work = channels.work;
  }

  /** The backends the pool's names give now (discoveredBackends). */
  private discovered(): Map<string, Address> {
    return discoveredBackends(this.dns, this.fixedNames);
  }

  /** DnsSubscriber: a name's set changed; backends join and leave to match. */
  addressesChanged(name: DnsName): void {
    let first = false;
    for (const entry of this.dns) {
      if (entry.name !== name || entry.seen) continue;
      entry.seen = true;
      first = true;
    }
    const wanted = this.discovered();
    for (const w of this.members) {
      if (this.fixedNames.has(w.name)) continue;
      const stays = wanted.delete(w.name);
      if (stays === w.leaving) w.leave(!stays);
    }
    const rampUp = !(first && this.atStart);
    for (const b of wanted.values()) {
      const worker = this.workerOf(b, rampUp);
      this.members.push(worker);
      worker.join();
    }
  }

  start(): void {
    this.balancer.start();
  }

  /** The clock's sweep, for every worker; a backend that left DNS is closed once it has nothing in flight. */
  sweep(now: number): void {
    for (const worker of this.members) worker.sweep(now);
    if (!this.members.some((w) => w.leaving && w.pending === 0)) return;
    this.members = this.members.filter((w) => {
      if (!w.leaving || w.pending > 0) return true;
      void w.close();
      return false;
    });
  }

  /** Requests in flight on the pool's backends. */
  get pending(): number {
    let n = 0;
    for (const w of this.members) n += w.pending;
    return n;
  }

  /** Nothing queued or in flight: a retired pool may be closed. */
  get idle(): boolean {
    return this.work.size === 0 && this.work.waitingSenders === 0 && this.members.every((w) => w.pending === 0);
  }

  /** Cuts every backend socket; resolves once they have all closed. */
  async close(): Promise<void> {
    for (const { name } of this.dns) name.unsubscribe(this);
    const closed = this.members.map((worker) => worker.close());
    this.balancer.stop();
    await Promise.all(closed);
  }

  stats(): WorkerStats[] {
    return this.members.map((w) => ({
      name: w.name,
      pending: w.pending,
      served: w.served,
      failed: w.failed,
      open: w.pool.open,
      idle: w.pool.idleCount,
      dialled: w.pool.dialled,
      ejected: w.ejected,
      down: w.down,
      weight: w.weight,
    }));
  }

  /**
   * The backends in rotation in the order the policy would pick them now, and the next one: for
   * least-pending the least loaded first (pending/weight, ties by turn); the others have no fixed
   * next (round robin's turn moves on a pick, p2c draws at random), so `next` is null.
   */
  rotation(): { order: Worker[]; next: Worker | null } {
    const members = [...this.balancer.workers];
    if (this.policy !== 'least-pending') return { order: members, next: null };
    members.sort((a, b) => (lessLoaded(a, b) ? -1 : lessLoaded(b, a) ? 1 : 0));
    return { order: members, next: members[0] ?? null };
  }

  /** The last picks, oldest first (empty unless recorded). */
  get recentPicks(): readonly PickRecord[] {
    return this.balancer.picks ?? [];
  }

  retryStats(): RetryStats {
    const r = this.retries;
    return { started: r.started, overBudget: r.overBudget, inFlight: r.inFlight, peakInFlight: r.peakInFlight };
  }
}

/** A backend's name, as its worker, the status page and the metrics give it. */
