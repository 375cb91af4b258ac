/**
 * GET /metrics: Prometheus text through prom-client's registry (its exposition format and Node
 * process metrics), with the proxy's own series read at scrape time from the hand-kept counts
 * (metrics/request-meter.ts says why they are not prom-client series on the request path).
 *
 * Labels stay few and bounded by the configuration: pool, backend (`host:port`, "" for the proxy's
 * own answers), status class, retry reason, listener. Never a path.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { STATUS_CLASSES, type LatencyHistogram, type RequestMeter } from '../metrics/request-meter.js';
import { RETRY_REASONS } from '../exchange/retry.js';
import type { Pool } from '../balancer/pool.js';
import type { ClientLimiter } from '../routing/client-limiter.js';
import { HEADER_REFUSALS, type HeaderRefusal } from '../frontend/proxy-header.js';
import type { TcpFront } from '../l4/tcp-front.js';
import type { StoreStats } from '../routing/redis-lease-source.js';

/** What a scrape reads: the pools now routed to, and the proxy's own counts. */
export interface MetricsView {
  pools(): Iterable<Pool>;
  /** Requests the proxy refused before any pool (400, 404, 413, 429, ...). */
  refusals: RequestMeter;
  /** The rate limiters of the current configuration. */
  rateLimiters(): Iterable<ClientLimiter>;
  /** Client connections open now, by listening address. */
  clientConnections(): Iterable<[string, number]>;
  /** With accept_proxy: connections closed for want of a good PROXY header, by reason. */
  proxyHeaderRefused: Readonly<Record<HeaderRefusal, number>>;
  /** TCP-mode listeners' pools and the connections they ended. */
  tcp: TcpFront;
  /** The rate-limit store's state (rate_limit.store); null: none. */
  store: StoreStats | null;
  /** Reloads applied and refused; null in a worker process (the primary counts them). */
  reloads: { ok: number; failed: number } | null;
  version: string;
}

type Labels = Record<string, string>;
type Sample = { labels: Labels; value: number; metricName?: string };

/**
 * Registers a prom-client metric whose values come from `read` at each scrape, replacing its own
 * `get` (what the registry calls to render it): no label hashing on the request path.
 */
function scraped(metric: Counter | Gauge | Histogram, name: string, help: string, type: string, read: () => Sample[], aggregator: Aggregator = 'sum'): void {
  const get = async () => ({ name, help, type, aggregator, values: read() });
  Object.assign(metric, { get, getForPromString: get });
}

function counter(registry: Registry, name: string, help: string, read: () => Sample[]): void {
  scraped(new Counter({ name, help, registers: [registry] }), name, help, 'counter', read);
}

/** How a primary sums a gauge over its worker processes (prom-client's AggregatorRegistry): counts add up. */
type Aggregator = 'sum' | 'average' | 'first';

function gauge(registry: Registry, name: string, help: string, read: () => Sample[], aggregator: Aggregator = 'sum'): void {
  scraped(new Gauge({ name, help, registers: [registry] }), name, help, 'gauge', read, aggregator);
}

/** The cumulative buckets, sum and count of `h` under `labels`, as Prometheus histograms are written. */
function histogramSamples(name: string, h: LatencyHistogram, labels: Labels): Sample[] {
  const out: Sample[] = [];
  let cumulative = 0;
  for (let i = 0; i <= h.bounds.length; i++) {
    cumulative += h.counts[i] as number;
    const le = i < h.bounds.length ? String(h.bounds[i]) : '+Inf';
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: cumulative });
  }
  out.push({ metricName: `${name}_sum`, labels, value: h.sum });
  out.push({ metricName: `${name}_count`, labels, value: h.count });
  return out;
}

export function reloadsCounter(registry: Registry, reloads: { ok: number; failed: number }): void {
  counter(registry, 'chanlb_config_reloads_total', 'Configuration reloads, applied (ok) or refused (failed).',
    () => [{ labels: { result: 'ok' }, value: reloads.ok }, { labels: { result: 'failed' }, value: reloads.failed }]);
}

/** The primary's own series with worker processes: how many serve, and how many were replaced. */
export function workerProcessMetrics(registry: Registry, view: { ready(): number; restarts(): number }): void {
  gauge(registry, 'chanlb_worker_processes', 'Worker processes ready to serve.', () => [{ labels: {}, value: view.ready() }]);
  counter(registry, 'chanlb_worker_restarts_total', 'Worker processes started again after one died.', () => [{ labels: {}, value: view.restarts() }]);
}

/** A registry with Node's process metrics, prefixed chanlb_ (less three that promtool refuses). */
export function processRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'chanlb_' });
  // Gauges that prom-client names like counters: promtool's lint refuses them, and the same counts
  // are there by type (chanlb_nodejs_active_handles{type}, ...).
  for (const name of ['active_handles_total', 'active_requests_total', 'active_resources_total']) registry.removeSingleMetric(`chanlb_nodejs_${name}`);
  return registry;
}

export function metricsRegistry(view: MetricsView): Registry {
  const registry = processRegistry();

  /** Every backend of every pool, with its labels. */
  const backends = function* () {
    for (const pool of view.pools()) for (const w of pool.workers) yield { pool, w, labels: { pool: pool.name, backend: w.name } };
  };
  const meters = function* (): Generator<{ labels: Labels; meter: RequestMeter }> {
    yield { labels: { pool: '', backend: '' }, meter: view.refusals };
    for (const pool of view.pools()) {
      yield { labels: { pool: pool.name, backend: '' }, meter: pool.meter };
      for (const w of pool.workers) yield { labels: { pool: pool.name, backend: w.name }, meter: w.meter };
    }
  };

  counter(registry, 'chanlb_requests_total', 'Requests answered, by pool, backend ("" for the proxy\'s own answers) and status class ("none": the client left first).', () => {
    const out: Sample[] = [];
    for (const { labels, meter } of meters()) {
      STATUS_CLASSES.forEach((code, i) => {
        const value = meter.byClass[i] as number;
        if (value > 0) out.push({ labels: { ...labels, code }, value });
      });
    }
    return out;
  });
  const durationHelp = 'Time from the request head to the last response byte from the backend, by pool and backend.';
  scraped(new Histogram({ name: 'chanlb_request_duration_seconds', help: durationHelp, registers: [registry] }),
    'chanlb_request_duration_seconds', durationHelp, 'histogram',
    () => [...meters()].filter(({ meter }) => meter.latency.count > 0)
      .flatMap(({ labels, meter }) => histogramSamples('chanlb_request_duration_seconds', meter.latency, labels)));
  counter(registry, 'chanlb_request_bytes_total', 'Bytes of requests forwarded to backends (head and body).',
    () => [...backends()].map(({ labels, w }) => ({ labels, value: w.meter.requestBytes })));
  counter(registry, 'chanlb_response_bytes_total', 'Bytes of responses sent towards clients (head and body).',
    () => [...meters()].map(({ labels, meter }) => ({ labels, value: meter.responseBytes })));
  gauge(registry, 'chanlb_backend_pending', 'Requests in flight on the backend (its key in the balancer\'s heap, with its weight).',
    () => [...backends()].map(({ labels, w }) => ({ labels, value: w.pending })));
  gauge(registry, 'chanlb_backend_up', '1 when the backend is in rotation (not ejected, not down by its health check); with worker processes, the share of them that have it in rotation.',
    () => [...backends()].map(({ labels, w }) => ({ labels, value: w.inRotation ? 1 : 0 })), 'average');
  gauge(registry, 'chanlb_backend_weight', 'The backend\'s effective weight (below the configured one during a slow start); with worker processes, their average.',
    () => [...backends()].map(({ labels, w }) => ({ labels, value: w.weight })), 'average');
  counter(registry, 'chanlb_backend_picks_total', 'Requests the balancer sent to the backend.',
    () => [...backends()].map(({ labels, w }) => ({ labels, value: w.picks })));
  counter(registry, 'chanlb_backend_ejections_total', 'Times passive health took the backend out of rotation.',
    () => [...backends()].map(({ labels, w }) => ({ labels, value: w.ejections })));
  counter(registry, 'chanlb_retries_total', 'Attempts on the backend that failed and went again, by reason.',
    () => [...backends()].flatMap(({ labels, w }) => RETRY_REASONS.map((reason) => ({ labels: { ...labels, reason }, value: w.retriesBy[reason] }))));
  counter(registry, 'chanlb_retries_over_budget_total', 'Failures that went to the client because the pool\'s retry budget was spent.',
    () => [...view.pools()].map((pool) => ({ labels: { pool: pool.name }, value: pool.retries.overBudget })));
  gauge(registry, 'chanlb_upstream_connections', 'Sockets to the backend, busy (active) and idle in its keep-alive pool.',
    () => [...backends()].flatMap(({ labels, w }) => [
      { labels: { ...labels, state: 'active' }, value: w.pool.open - w.pool.idleCount },
      { labels: { ...labels, state: 'idle' }, value: w.pool.idleCount },
    ]));
  counter(registry, 'chanlb_rate_limited_total', 'Requests refused with 429, by rate limit: `*` the proxy-wide one, else its route (place in the list and match).',
    () => [...view.rateLimiters()].map((limiter) => ({ labels: { route: limiter.name }, value: limiter.limited })));
  counter(registry, 'chanlb_rate_limit_failed_open_total', 'Requests a rate limit shared across worker processes let through without a token because the primary did not answer in time, by rate limit.',
    () => [...view.rateLimiters()].map((limiter) => ({ labels: { route: limiter.name }, value: limiter.failedOpen })));
  gauge(registry, 'chanlb_client_connections', 'Client connections open, by listening address.',
    () => [...view.clientConnections()].map(([listener, value]) => ({ labels: { listener }, value })));
  counter(registry, 'chanlb_proxy_header_refused_total', 'Client connections closed without a response for want of a good PROXY header (accept_proxy), by reason: untrusted peer, invalid header, timeout, closed first.',
    () => HEADER_REFUSALS.map((reason) => ({ labels: { reason }, value: view.proxyHeaderRefused[reason] })));
  const store = view.store;
  if (store !== null) {
    gauge(registry, 'chanlb_rate_limit_store_up', '1 while the rate-limit store (Redis) answers; with worker processes, the share of them it answers.',
      () => [{ labels: {}, value: store.up ? 1 : 0 }], 'average');
    counter(registry, 'chanlb_rate_limit_store_failures_total', 'Rate-limit leases answered by rate_limit.store_failure because the store was unreachable, failed or slow.',
      () => [{ labels: {}, value: store.failures }]);
  }
  const tcpBackends = function* () {
    for (const pool of view.tcp.pools.values()) for (const b of pool.backends) yield { b, labels: { pool: pool.name, backend: b.name } };
  };
  gauge(registry, 'chanlb_tcp_connections_open', 'TCP-mode connections open (or connecting) to the backend: its pending in the heap.',
    () => [...tcpBackends()].map(({ b, labels }) => ({ labels, value: b.pending })));
  counter(registry, 'chanlb_tcp_connections_total', 'TCP-mode connections ended, by pool, backend ("" when none could be reached) and how they ended.',
    () => [...view.tcp.ended].map(([key, value]) => {
      const [pool = '', backend = '', result = ''] = key.split('\n');
      return { labels: { pool, backend, result }, value };
    }));
  counter(registry, 'chanlb_tcp_bytes_total', 'Bytes of ended TCP-mode connections, from clients to the backend (in) and back (out).',
    () => [...tcpBackends()].flatMap(({ b, labels }) => [{ labels: { ...labels, direction: 'in' }, value: b.bytesIn }, { labels: { ...labels, direction: 'out' }, value: b.bytesOut }]));
  const reloads = view.reloads;
  if (reloads !== null) reloadsCounter(registry, reloads);
  gauge(registry, 'chanlb_build_info', 'The running build: 1, labelled with the version and Node\'s.',
    () => [{ labels: { version: view.version, node: process.version }, value: 1 }], 'first');
  return registry;
}
