/**
 * The primary process with `--workers N` (N > 1): it never handles a request. It starts N worker
 * processes (fleet.ts) with the options it validated, hands them connections (node:cluster's round
 * robin) unless the kernel does (SO_REUSEPORT), runs every active health check and DNS lookup once
 * and sends the verdicts and sets to all, serves the admin listener over all of them (metrics and status summed, actions
 * applied in each), and owns the signals: SIGHUP re-reads the configuration once and applies it to
 * every process or to none; SIGINT/SIGTERM drain them all.
 */
import cluster from 'node:cluster';
import type * as http from 'node:http';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { adminServer, listenAdmin } from '../admin/admin-server.js';
import { processRegistry, reloadsCounter, workerProcessMetrics } from '../admin/metrics.js';
import type { StatusSnapshot } from '../admin/status.js';
import { checkOptionsOf, checkTargetOf, HealthChecks, type ActiveCheck, type CheckSubscriber } from '../balancer/active-health.js';
import { settingsOf } from '../balancer/pool.js';
import { Clock, type Timeouts } from '../clock.js';
import { EventLog } from '../log/event-log.js';
import type { Address, ProxyOptions } from '../options/options.js';
import { dnsInterval, poolDefinitions } from '../routing/routing.js';
import { addressName, discoveredBackends, Discovery } from '../dns/discovery.js';
import type { DnsName, DnsSubscriber } from '../dns/dns-name.js';
import { rateLimitersOf } from '../routing/rate-limits.js';
import type { RateLimiter } from '../routing/rate-limiter.js';
import { boundAddress } from '../server.js';
import { Fleet } from './fleet.js';
import { mergeStatus } from './merge-status.js';
import { canReusePort } from './reuse-port.js';

type MetricsJSON = MetricObjectWithValues<MetricValue<string>>[];

export interface PrimaryHandle {
  /** Where the worker processes listen (as the first one reports). */
  addresses: Address[];
  admin: Address | null;
  /** How connections reach the processes, in words for the start-up line. */
  distribution: string;
  reload(options: ProxyOptions): Promise<void>;
  shutdown(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
  log: EventLog;
}

/** The primary's clock ticks only for the health checks' timeouts and intervals. */
function checkTimeouts(options: ProxyOptions): Timeouts {
  const shortest = Math.min(...poolDefinitions(options).map((pool) => {
    const s = settingsOf(pool, options);
    return s.healthCheck === 'off' ? Infinity : Math.min(s.healthCheckIntervalMs, s.healthCheckTimeoutMs);
  }));
  return {
    connect: Infinity, response: Infinity, backendIdle: Infinity, header: Infinity, keepAlive: Infinity, tcpIdle: Infinity, linger: Infinity, ejectCooldown: Infinity,
    healthCheck: shortest, dns: dnsInterval(options),
  };
}

/** Keeps the primary's checks alive: no pool subscribes to them in this process. */
class CheckKeeper implements CheckSubscriber {
  private held = new Set<ActiveCheck>();

  /** Holds the checks `options` define (a dns: backend's: of each address it has now) and lets go of the rest (the sweep then stops them). */
  hold(checks: HealthChecks, options: ProxyOptions, discovery: Discovery, now: number): void {
    const next = new Set<ActiveCheck>();
    for (const pool of poolDefinitions(options)) {
      const settings = settingsOf(pool, options);
      const check = checkOptionsOf(settings);
      if (check === null) continue;
      const fixed = pool.backends.filter((b) => b.dns !== true);
      const entries = pool.backends.filter((b) => b.dns === true).map((backend) => ({ backend, name: discovery.nameOf(backend.host, now) }));
      const backends = [...fixed, ...discoveredBackends(entries, new Set(fixed.map(addressName))).values()];
      for (const b of backends) next.add(checks.checkOf(checkTargetOf(b, settings), check, now));
    }
    for (const c of this.held) if (!next.has(c)) c.unsubscribe(this);
    for (const c of next) c.subscribe(this);
    this.held = next;
  }

  checkChanged(): void {}
}

/** Keeps the primary's DNS names alive (no pool here subscribes) and tells of each change of a set. */
class DnsKeeper implements DnsSubscriber {
  private held = new Set<DnsName>();
  private readonly changed: (name: DnsName) => void;

  constructor(changed: (name: DnsName) => void) {
    this.changed = changed;
  }

  /** Holds the names `options` use and lets go of the rest (the sweep then forgets them). */
  hold(discovery: Discovery, options: ProxyOptions, now: number): void {
    const next = new Set(poolDefinitions(options).flatMap((pool) => pool.backends.filter((b) => b.dns === true).map((b) => discovery.nameOf(b.host, now))));
    for (const n of this.held) if (!next.has(n)) n.unsubscribe(this);
    for (const n of next) n.subscribe(this);
    this.held = next;
  }

  addressesChanged(name: DnsName): void {
    this.changed(name);
  }
}

const withWorkerLabel = (metrics: MetricsJSON, worker: string): MetricsJSON =>
  metrics.map((m) => ({ ...m, values: m.values.map((v) => ({ ...v, labels: { ...v.labels, worker } })) }));

export async function startPrimary(options: ProxyOptions): Promise<PrimaryHandle> {
  let current = options;
  const log = new EventLog(options.logLevel, options.logTo, 'primary');
  const reusePort = !options.listen.some((a) => a.port === 0) && await canReusePort();
  cluster.setupPrimary({ serialization: 'advanced' });
  let fleet: Fleet | null = null;
  const checks = new HealthChecks(log, {
    onResult: (check) => fleet?.broadcast({ t: 'checks', verdicts: [check.verdict(performance.now())] }),
  });
  // The rate limits' buckets, which workers lease tokens from; during a reload, the old ones answer
  // for names the new configuration no longer has, until every worker has moved on.
  let limiters = rateLimitersOf(options);
  let before: Map<string, RateLimiter> | null = null;
  const lease = (name: string, client: string, want: number): { granted: number; retryAfter: number } => {
    const limiter = limiters.get(name) ?? before?.get(name);
    // A name no configuration has (cannot happen but by a bug): let the request through rather than refuse it.
    return limiter === undefined ? { granted: want, retryAfter: 0 } : limiter.lease(client, want, performance.now());
  };
  // DNS names are looked up here alone, and each new set goes to every worker (and its addresses get health checks).
  const discovery = new Discovery(log, options);
  const keeper = new CheckKeeper();
  const names = new DnsKeeper((name) => {
    keeper.hold(checks, current, discovery, performance.now());
    fleet?.broadcast({ t: 'dns', set: { host: name.host, addresses: name.addresses } });
  });
  const clock = new Clock((now) => {
    checks.sweep(now);
    discovery.sweep(now);
    for (const limiter of limiters.values()) limiter.sweep(now);
  });
  names.hold(discovery, options, clock.now);
  keeper.hold(checks, options, discovery, clock.now);
  clock.tune(checkTimeouts(options));
  const running = new Fleet(options.workers, options, reusePort, {
    log, verdicts: () => checks.states(performance.now()), dnsSets: () => discovery.sets(), lease,
  });
  fleet = running;
  let admin: http.Server | null = null;
  const closeOwn = (): void => {
    clock.stop();
    checks.stop();
    discovery.stop();
    admin?.close();
    admin?.closeAllConnections();
  };
  /** Start-up failed: undo what started, and say why. */
  const failed = async (err: unknown): Promise<never> => {
    closeOwn();
    await running.close();
    throw err;
  };
  let addresses: Address[] = [];
  try {
    await discovery.settled();
    addresses = await running.start();
  } catch (err) {
    await failed(err);
  }

  const reloads = { ok: 0, failed: 0 };
  const startedAt = performance.now();
  const status = async (): Promise<StatusSnapshot> => {
    const answers = await running.ask((seq) => ({ t: 'ask', seq, what: 'status' }));
    const parts = running.summaries().flatMap((summary) => {
      const snapshot = answers.get(summary.id) as StatusSnapshot | null | undefined;
      return snapshot === undefined || snapshot === null ? [] : [{ summary, snapshot }];
    });
    return mergeStatus(parts, (performance.now() - startedAt) / 1000);
  };

  const adminAt = options.admin;
  if (adminAt !== null) {
    // Only with the admin listener: prom-client's process metrics keep a timer running.
    const own = processRegistry();
    reloadsCounter(own, reloads);
    workerProcessMetrics(own, { ready: () => running.readyCount, restarts: () => running.restarts });
    const metrics = async (perWorker: boolean): Promise<string> => {
      const answers = await running.ask((seq) => ({ t: 'ask', seq, what: 'metrics' }));
      const mine = await own.getMetricsAsJSON();
      const parts = [...answers].filter((e): e is [number, MetricsJSON] => Array.isArray(e[1]));
      const all = perWorker
        ? [...parts.map(([id, m]) => withWorkerLabel(m, String(id))), withWorkerLabel(mine, 'primary')]
        : [...parts.map(([, m]) => m), mine];
      return AggregatorRegistry.aggregate(all).metrics();
    };
    const server = adminServer({
      metrics,
      contentType: own.contentType,
      status,
      act: async (pool, name, action) => {
        const answers = await running.ask((seq) => ({ t: 'act', seq, pool, name, action }));
        const done = [...answers.values()].find((v): v is string => typeof v === 'string');
        return done ?? null;
      },
      token: () => current.adminToken,
      onError: (err) => log.error('admin_failed', `admin request failed: ${err.message}`),
    });
    admin = server;
    await listenAdmin(server, adminAt, (err) => log.error('accept_failed', `admin accept failed: ${err.message}`)).catch(failed);
  }
  const adminAddress = (): Address | null => {
    return admin === null || !admin.listening ? null : boundAddress(admin);
  };

  return {
    addresses,
    admin: adminAddress(),
    distribution: reusePort ? 'by the kernel (SO_REUSEPORT)' : "by the primary (node:cluster's round robin)",
    log,
    async reload(next) {
      if (next.workers !== current.workers) {
        log.error('reload_workers', `workers: a reload keeps the ${current.workers} worker processes running; restart to have ${next.workers}`);
      }
      before = limiters;
      limiters = rateLimitersOf(next);
      try {
        // Done first, so that nothing fails once the workers have the new options.
        await log.reconfigure(next.logLevel, next.logTo);
        // A name the reload adds is looked up (and its set sent to the workers) before they build
        // the pools that use it: they have its backends at once, as at start-up.
        discovery.reconfigure(next);
        names.hold(discovery, next, clock.now);
        await discovery.settled();
        await running.reload({ ...next, workers: current.workers });
      } catch (err) {
        limiters = before;
        discovery.reconfigure(current);
        names.hold(discovery, current, clock.now);
        await log.reconfigure(current.logLevel, current.logTo).catch(() => {}); // it worked before
        reloads.failed++;
        throw err;
      } finally {
        before = null;
      }
      reloads.ok++;
      current = { ...next, workers: current.workers };
      keeper.hold(checks, current, discovery, clock.now);
      clock.tune(checkTimeouts(current));
    },
    async shutdown(timeoutMs) {
      await running.shutdown(timeoutMs);
      closeOwn();
      await log.close();
    },
    async close() {
      await running.close();
      closeOwn();
      await log.close();
    },
  };
}
