/**
 * Wires the parts together: one listener per frontend address, the routing (route table, pools,
 * rate limiters), the logs, and the one clock whose sweep keeps every timeout (clients, backend
 * sockets, ejections, rate-limit buckets, retired pools). Start with `listen()`; change the
 * configuration with `reload()`; stop with `shutdown()` (graceful) or `close()` (now). The only
 * file that knows every folder.
 *
 * Reload invariants:
 * - A reload either applies whole or not at all: everything that can fail (opening a listener or a
 *   log file) happens before anything is swapped, and is undone if a later step fails.
 * - Each request is routed when its head is complete, by the routing current then; requests
 *   already routed finish on the pool they went to. Pools no longer routed to are retired and
 *   closed by the sweep once idle; unchanged pools carry over with their connections and health.
 * - Listeners that are no longer configured stop accepting; their open connections go on.
 */
import type * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { Certificates, tlsServerOptions } from './frontend/certificates.js';
import { readFileSync } from 'node:fs';
import { ClientConn, LINGER_MS, type ClientContext } from './frontend/client-conn.js';
import { Clock, type Timeouts } from './clock.js';
import { TrustedProxies } from './frontend/trusted-proxies.js';
import { ProxyHeaderGate } from './frontend/proxy-header.js';
import { TcpFront } from './l4/tcp-front.js';
import { RedisLeaseSource } from './routing/redis-lease-source.js';
import { bucketLimitsOf } from './routing/rate-limits.js';
import type { Addresses } from './proxy-protocol/types.js';
import { AccessLog } from './log/access-log.js';
import { EventLog } from './log/event-log.js';
import { Routing, dnsInterval, poolDefinitions } from './routing/routing.js';
import { Discovery } from './dns/discovery.js';
import type { LeaseSource } from './routing/client-limiter.js';
import { HealthChecks } from './balancer/active-health.js';
import { settingsOf, type Pool, type PoolServices, type RetryStats, type WorkerStats } from './balancer/pool.js';
import { forwardedLines } from './http1/head.js';
import { llhttp } from './http1/llhttp.js';
import { listenError } from './errors.js';
import { addressText, DEFAULT_POOL, type Address, type Listener, type ProxyOptions } from './options/options.js';
import type { ListenerTls } from './options/tls-files.js';
import { RequestMeter } from './metrics/request-meter.js';
import { adminServer, applyAction, listenAdmin } from './admin/admin-server.js';
import { metricsRegistry, type MetricsView } from './admin/metrics.js';
import { statusSnapshot, type StatusSnapshot } from './admin/status.js';
import type { Worker } from './balancer/worker.js';
import type { MetricObjectWithValues, MetricValue, Registry } from 'prom-client';

/** The package's version, for chanlb_build_info. */
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;


/** What a worker process (cluster/child.ts) changes about a server; a lone process gives none. */
export interface ServerHooks {
  /** This worker process's id, which every log line carries. */
  workerId?: number;
  /** Health checks whose verdicts come from elsewhere (the primary runs the probes); default: run here. */
  checks?: HealthChecks;
  /** Keep the metrics and status (with --admin) but open no admin listener: the primary serves it. */
  adminElsewhere?: boolean;
  /** Each worker binds its own listening socket with SO_REUSEPORT, and the kernel spreads connections. */
  reusePort?: boolean;
  /** TLS session ticket keys (48 bytes) shared by worker processes, so a session resumes on any of them, reloads included. */
  ticketKeys?: Buffer;
  /** Rate-limit tokens leased from the primary's buckets (limits exact across workers); none: the buckets are here. */
  leases?: LeaseSource;
  /** DNS names whose sets come from elsewhere (the primary looks them up); default: looked up here. */
  discovery?: Discovery;
}

export interface PoolStats {
  name: string;
  workers: WorkerStats[];
  retries: RetryStats;
}

export interface ServerStats {
  clients: number;
  /** Client connections idle long enough to have set their parser aside. */
  restingClients: number;
  /** Response bytes held for clients (queued, parked, in socket buffers): in all, and the most one connection holds. */
  bufferedOutput: { total: number; max: number };
  /** Every worker of the current pools. */
  workers: WorkerStats[];
  pools: PoolStats[];
  /** Pools a reload took out of the routing that still have requests in flight. */
  retiring: number;
}

/**
 * At shutdown, how long an idle client connection stays open: a request already on its way when
 * shutdown began is answered (with Connection: close) instead of meeting our FIN. This and the
 * shutdown deadline are one-shot timers of the process, not timeouts of a connection: they use
 * setTimeout rather than the clock, whose tick may be a second.
 */
const IDLE_GRACE_MS = 100;

/**
 * The listen backlog: the kernel's cap (net.core.somaxconn, 4096 on current Linux) rather than Node's
 * 511, so a burst of new connections waits in the kernel's queue instead of being dropped (a client
 * then retries its SYN after a second or more).
 */
const LISTEN_BACKLOG = somaxconn();

function somaxconn(): number {
  try {
    const n = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : 511;
  } catch {
    return 511; // not Linux: Node's default
  }
}

/** The timeout classes (clock.ts) the options give. */
function timeouts(options: ProxyOptions): Timeouts {
  return {
    connect: options.connectTimeoutMs,
    response: options.responseTimeoutMs,
    backendIdle: options.backendIdleTimeoutMs,
    header: options.headerTimeoutMs,
    keepAlive: options.keepAliveTimeoutMs,
    tcpIdle: options.tcpIdleTimeoutMs,
    linger: LINGER_MS,
    ejectCooldown: options.ejectCooldownMs,
    healthCheck: Math.min(...poolDefinitions(options).map((pool) => {
      const s = settingsOf(pool, options);
      return s.healthCheck === 'off' ? Infinity : Math.min(s.healthCheckIntervalMs, s.healthCheckTimeoutMs);
    })),
    dns: dnsInterval(options),
  };
}

/** What a process running the proxy as one of several workers plugs in. */
/** Listeners are kept across reloads by address; each port-0 (any free port) entry is its own. */
const addressKey = (a: Address, index: number): string => `${a.host}:${a.port}${a.port === 0 ? `#${index}` : ''}`;

/**
 * A TLS listener's TLS side. Its listening socket is a plain one: a connection's PROXY header
 * (accept_proxy) precedes the handshake, so it is read there first, and then the connection is given
 * to `server`, a tls.Server that never listens itself (its documented 'connection' injection).
 */
interface HeldTls {
  /** Its SNI callback reads them here, so a reload swaps them. */
  certificates: Certificates;
  server: tls.Server;
  /** The PROXY header's addresses of connections still in their handshake, by connectionKey. */
  origins: Map<string, Addresses>;
}

interface OpenListener {
  /** The address as configured (see addressKey). */
  key: string;
  /** The listening socket (for a TLS listener, the plain one in front of its tls.Server). */
  server: net.Server;
  /** A TLS listener's TLS side; null: plain HTTP or TCP. */
  tls: HeldTls | null;
  /** A TCP listener's pool (a reload may change it); null: an HTTP listener. */
  tcp: { pool: string } | null;
}

export class Server {
  private currentOptions: ProxyOptions;
  /** In the configured order. */
  private listeners: OpenListener[] = [];
  /** Open client connections, each with the listener it arrived on. */
  private readonly clients = new Map<ClientConn, net.Server>();
  private readonly retiring = new Set<Pool>();
  /** Waiting for the last client connection to close (see clientsClosed). */
  private clientWaiters: (() => void)[] = [];
  private readonly context: ClientContext;
  /** With accept_proxy: connections waiting for their PROXY header. */
  private readonly gate: ProxyHeaderGate;
  /** TCP-mode listeners' pools and connections. */
  private readonly tcp: TcpFront;
  /** The error log (backend failures, refused requests, reloads). */
  readonly eventLog: EventLog;
  private readonly clock: Clock;
  /** The pools' clock, error log and active health checks. */
  private readonly services: PoolServices;
  private closing = false;
  private closed: Promise<void> | null = null;
  /** The admin listener (GET /metrics), when --admin is given; kept as started across reloads. */
  private admin: http.Server | null = null;
  private readonly reloads = { ok: 0, failed: 0 };
  /** Client connections open per listener, for the metrics. */
  /**
   * Client connections open per listening socket, with the listener's address as it was when it
   * listened (a listener a reload closed has none to ask for while its connections finish).
   */
  private readonly openPerListener = new Map<net.Server, { listener: string; open: number }>();
  /** Each listening socket's address, noted when it began to listen (asked of a closed one, there is none). */
  private readonly listenerNames = new WeakMap<net.Server, string>();
  private readonly hooks: ServerHooks;
  /** The metrics' registry, with --admin (made at listen()). */
  private registry: Registry | null = null;
  private readonly startedAt = performance.now();
  private readonly leases: LeaseSource | null;
  /** The Redis store of rate-limit buckets (rate_limit.store), kept as started across reloads. */
  private readonly store: RedisLeaseSource | null;

  constructor(options: ProxyOptions, hooks: ServerHooks = {}) {
    this.currentOptions = options;
    this.hooks = hooks;
    llhttp(); // fail at start-up, not on the first request, if the parser cannot load
    this.eventLog = new EventLog(options.logLevel, options.logTo, hooks.workerId);
    this.clock = new Clock(this.sweep);
    this.services = {
      clock: this.clock, log: this.eventLog, checks: hooks.checks ?? new HealthChecks(this.eventLog),
      discovery: hooks.discovery ?? new Discovery(this.eventLog, options), recordPicks: options.admin !== null,
    };
    this.store = hooks.leases === undefined && options.rateLimitStore !== null
      ? new RedisLeaseSource(options.rateLimitStore, options.rateLimitStoreFailure, bucketLimitsOf(options), this.eventLog) : null;
    this.leases = hooks.leases ?? this.store;
    this.context = {
      routing: Routing.build(options, null, this.services, this.leases),
      limits: options,
      clock: this.clock,
      accessLog: openAccessLog(options, hooks.workerId),
      eventLog: this.eventLog,
      trustedProxies: options.trustedProxies.length > 0 ? TrustedProxies.parse(options.trustedProxies) : null,
      refusals: options.admin === null ? null : new RequestMeter(options.metricsBuckets),
      closed: (client) => this.clientClosed(client),
    };
    this.gate = new ProxyHeaderGate(this.context);
    this.tcp = new TcpFront(options, { checks: this.services.checks, discovery: this.services.discovery, log: this.eventLog, now: () => this.clock.now });
    this.tcp.setAccessLog(this.context.accessLog);
    this.clock.tune(timeouts(options));
  }

  get options(): ProxyOptions {
    return this.currentOptions;
  }

  /** Starts the pools and every listener; resolves with the first listener's address. */
  async listen(): Promise<Address> {
    // dns: backends are there for the first request (or their lookups failed, and said so).
    await this.services.discovery.settled();
    for (const pool of this.context.routing.pools.values()) pool.start();
    for (const [i, address] of this.currentOptions.listen.entries()) {
      this.listeners.push(await this.openListener(address, addressKey(address, i)));
    }
    const admin = this.currentOptions.admin;
    if (admin !== null && this.context.refusals !== null) {
      const view: MetricsView = {
        pools: () => this.context.routing.pools.values(),
        rateLimiters: () => this.context.routing.rateLimiters,
        refusals: this.context.refusals,
        clientConnections: () => [...this.openPerListener.values()].map(({ listener, open }) => [listener, open]),
        proxyHeaderRefused: this.gate.refused,
        tcp: this.tcp,
        store: this.store?.stats ?? null,
        // A worker process's reloads are the primary's to count.
        reloads: this.hooks.adminElsewhere === true ? null : this.reloads,
        version: VERSION,
      };
      const registry = metricsRegistry(view);
      this.registry = registry;
      if (this.hooks.adminElsewhere === true) return this.addresses()[0] as Address;
      const server = adminServer({
        metrics: () => registry.metrics(),
        contentType: registry.contentType,
        status: () => Promise.resolve(this.status()),
        act: (pool, name, action) => {
          const w = this.backend(pool, name);
          return Promise.resolve(w === undefined ? null : applyAction(w, action));
        },
        token: () => this.currentOptions.adminToken,
        onError: (err) => this.eventLog.error('metrics_failed', `metrics failed: ${err.message}`),
      });
      this.admin = server;
      await listenAdmin(server, admin, (err) => this.eventLog.error('accept_failed', `admin accept failed: ${err.message}`));
    }
    return this.addresses()[0] as Address;
  }

  /** The pools as they are now (GET /status.json). */
  status(): StatusSnapshot {
    return statusSnapshot(this.context.routing.pools.values(), VERSION, this.startedAt);
  }

  /** Every metric as prom-client's JSON, for a primary to sum (null without --admin). */
  metrics(): Promise<MetricObjectWithValues<MetricValue<string>>[]> | null {
    return this.registry?.getMetricsAsJSON() ?? null;
  }

  /** The backend `name` of the current pool `pool`, if there is one (the admin actions). */
  backend(pool: string, name: string): Worker | undefined {
    return this.context.routing.pools.get(pool)?.workers.find((w) => w.name === name);
  }

  /** Where the admin listener listens, or null without one. */
  adminAddress(): Address | null {
    return this.admin === null || !this.admin.listening ? null : boundAddress(this.admin);
  }

  /** Where the proxy listens, in the configured order. */
  addresses(): Address[] {
    return this.listeners.map(({ server }) => boundAddress(server));
  }

  /**
   * Applies new options to new requests (see the reload invariants above). Rejects, with the old
   * configuration still serving, if a listener or log cannot be opened.
   */
  async reload(options: ProxyOptions): Promise<void> {
    const old = this.currentOptions;
    const oldRouting = this.context.routing;
    const opened: net.Server[] = [];
    const swaps: (() => void)[] = [];
    let accessLog: AccessLog | null = null;
    let routing: Routing | null = null;
    try {
      const listeners: OpenListener[] = [];
      for (const [i, address] of options.listen.entries()) {
        const key = addressKey(address, i);
        // The same configured address, or the address a port-0 listener was given.
        const kept = this.listeners.find((l) => l.key === key || sameAddress(boundAddress(l.server), address));
        if (kept === undefined) {
          const fresh = await this.openListener(address, key);
          opened.push(fresh.server);
          listeners.push(fresh);
          continue;
        }
        if ((kept.tls === null) !== (address.tls === undefined)) {
          throw new Error(`listen ${addressText(address)}: switching a listener between HTTP and HTTPS needs a restart`);
        }
        if ((kept.tcp === null) !== (address.mode !== 'tcp')) {
          throw new Error(`listen ${addressText(address)}: switching a listener between HTTP and TCP mode needs a restart`);
        }
        const tcp = kept.tcp;
        if (tcp !== null) swaps.push(() => { tcp.pool = address.pool ?? DEFAULT_POOL; });
        const t = address.tls;
        const held = kept.tls;
        if (t !== undefined && held !== null) {
          // Made now (nothing is swapped if a later step fails), put in place with the rest.
          const certificates = new Certificates(t);
          const server = held.server;
          swaps.push(() => {
            held.certificates = certificates;
            // The keys the listener has (shared by the workers, else its own): sessions begun before resume after.
            server.setSecureContext(tlsServerOptions(t, options.handshakeTimeoutMs, this.hooks.ticketKeys ?? server.getTicketKeys(), kept.tcp === null));
          });
        }
        listeners.push({ ...kept, key });
      }
      accessLog = sameAccessLog(old, options) ? this.context.accessLog : openAccessLog(options, this.hooks.workerId);
      routing = Routing.build(options, oldRouting, this.services, this.leases);
      // A name the reload adds has its backends before the first request, as at start-up.
      await this.services.discovery.settled();
      const trusted = options.trustedProxies.length > 0 ? TrustedProxies.parse(options.trustedProxies) : null;
      await this.eventLog.reconfigure(options.logLevel, options.logTo);

      // Nothing below fails: swap.
      for (const swap of swaps) swap();
      this.store?.setLimits(bucketLimitsOf(options));
      this.services.discovery.reconfigure(options);
      this.tcp.reload(options, accessLog);
      for (const pool of routing.pools.values()) pool.start();
      for (const pool of oldRouting.pools.values()) if (!routing.has(pool)) this.retiring.add(pool);
      const oldAccessLog = this.context.accessLog;
      this.context.routing = routing;
      this.context.accessLog = accessLog;
      this.context.limits = options;
      this.context.trustedProxies = trusted;
      this.clock.tune(timeouts(options));
      for (const { server } of this.listeners) if (!listeners.some((l) => l.server === server)) server.close();
      this.listeners = listeners;
      for (const { server } of listeners) limitConnections(server, options.maxConnections);
      this.currentOptions = options;
      if (oldAccessLog !== accessLog) await oldAccessLog?.close();
      this.reloads.ok++;
    } catch (err) {
      for (const server of opened) server.close();
      if (accessLog !== null && accessLog !== this.context.accessLog) await accessLog.close();
      if (routing !== null) {
        for (const pool of routing.pools.values()) if (!oldRouting.has(pool)) void pool.close();
      }
      this.reloads.failed++;
      throw err;
    }
  }

  /**
   * Graceful shutdown: stop accepting, let every connection finish what it has in flight (each
   * closes when its last response is written), then close the backends. Connections still open
   * after `deadlineMs` are cut. Resolves when everything is closed.
   */
  async shutdown(deadlineMs: number): Promise<void> {
    this.closing = true;
    for (const { server } of this.listeners) server.close();
    const drained = this.clientsClosed();
    for (const client of this.clients.keys()) client.drain();
    const grace = setTimeout(() => {
      for (const client of this.clients.keys()) client.closeIfIdle();
    }, Math.min(IDLE_GRACE_MS, deadlineMs / 2));
    const deadline = setTimeout(() => {
      for (const client of this.clients.keys()) client.destroy();
      this.tcp.closeAll();
    }, deadlineMs);
    await Promise.all([drained, this.tcp.idle()]);
    clearTimeout(grace);
    clearTimeout(deadline);
    await this.close();
  }

  /**
   * Stops listening, cuts every client and backend socket now, then closes the logs. Calling it
   * again (a second signal during a shutdown) returns the first call's promise.
   */
  close(): Promise<void> {
    this.closed ??= this.closeNow();
    return this.closed;
  }

  private async closeNow(): Promise<void> {
    this.closing = true;
    this.clock.stop();
    this.services.checks.stop();
    this.services.discovery.stop();
    if (this.admin !== null) {
      this.admin.close();
      this.admin.closeAllConnections();
    }
    const listeners = this.listeners.map(({ server }) => new Promise<void>((resolve) => server.close(() => resolve())));
    this.gate.closeAll();
    this.tcp.closeAll();
    await this.store?.close();
    for (const client of this.clients.keys()) client.destroy();
    const pools = [...this.context.routing.pools.values(), ...this.retiring].map((pool) => pool.close());
    this.retiring.clear();
    // An exchange cut here settles, and may log, when its sockets' 'close' arrives: only then the logs close.
    await Promise.all([...listeners, ...pools, this.clientsClosed()]);
    await this.context.accessLog?.close();
    await this.eventLog.close();
  }

  stats(): ServerStats {
    const pools = [...this.context.routing.pools.values()].map((pool) => ({ name: pool.name, workers: pool.stats(), retries: pool.retryStats() }));
    let total = 0;
    let max = 0;
    for (const client of this.clients.keys()) {
      const held = client.bufferedOutput;
      total += held;
      if (held > max) max = held;
    }
    return {
      clients: this.clients.size,
      restingClients: [...this.clients.keys()].filter((client) => client.resting).length,
      bufferedOutput: { total, max },
      workers: pools.flatMap((p) => p.workers),
      pools,
      retiring: this.retiring.size,
    };
  }

  private async openListener(address: Listener, key: string): Promise<OpenListener> {
    const t = address.tls;
    const tcp = address.mode === 'tcp' ? { pool: address.pool ?? DEFAULT_POOL } : null;
    if (t !== undefined) return this.openTlsListener(address, key, t, tcp);
    if (tcp !== null) {
      // Paused from the accept: nothing is read before a backend is connected to take it.
      const server = net.createServer({ noDelay: true, allowHalfOpen: true, pauseOnConnect: true }, (socket) => this.onConnection(server, socket, tcp));
      return { key, server: await this.listenOn(server, address), tls: null, tcp };
    }
    // Half-open: a client that half-closes after its request still gets the response (then we close).
    const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => this.onConnection(server, socket));
    return { key, server: await this.listenOn(server, address), tls: null, tcp: null };
  }

  /** A listener that terminates TLS: HTTPS, or a TCP listener's decrypted bytes to its pool (`tcp`). */
  private async openTlsListener(address: Listener, key: string, t: ListenerTls, tcp: { pool: string } | null): Promise<OpenListener> {
    const listening = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => this.onTlsConnection(listening, socket, held));
    const server = tls.createServer({
      ...tlsServerOptions(t, this.currentOptions.handshakeTimeoutMs, this.hooks.ticketKeys, tcp === null),
      allowHalfOpen: true,
      noDelay: true,
      SNICallback: (servername, done) => done(null, held.certificates.choose(servername)),
    }, (socket) => this.onHandshake(listening, socket, held, tcp));
    const held: HeldTls = { certificates: new Certificates(t), server, origins: new Map() };
    server.on('tlsClientError', (err: Error & { code?: string; reason?: string }, socket: tls.TLSSocket) => {
      // OpenSSL's `reason` ("unsupported protocol") or Node's code (ERR_TLS_HANDSHAKE_TIMEOUT), not its multi-line message.
      const why = err.reason ?? err.code ?? err.message;
      // The client as its PROXY header named it, if it sent one.
      const client = held.origins.get(connectionKey(socket))?.source.address ?? socket.remoteAddress ?? 'unknown';
      this.eventLog.info('tls_handshake_failed', `TLS handshake with ${client} failed: ${why}`, { client, reason: why });
      // With a listener here Node leaves the socket open (a handshake timeout would hold its slot forever).
      socket.destroy();
    });
    return { key, server: await this.listenOn(listening, address), tls: held, tcp };
  }

  private listenOn(server: net.Server, address: Address): Promise<net.Server> {
    limitConnections(server, this.currentOptions.maxConnections);
    return new Promise((resolve, reject) => {
      const failed = (err: Error): void => reject(listenError(address.host, address.port, err));
      server.once('error', failed);
      // With SO_REUSEPORT each worker process binds its own socket (exclusive: not through the primary).
      const shared = this.hooks.reusePort === true ? { reusePort: true, exclusive: true } : {};
      server.listen({ port: address.port, host: address.host, backlog: LISTEN_BACKLOG, ...shared }, () => {
        server.off('error', failed);
        // After listening, errors are per accept (EMFILE and the like): the server goes on.
        server.on('error', (err: Error) => this.eventLog.error('accept_failed', `accept failed: ${err.message}`));
        this.listenerNames.set(server, addressText(boundAddress(server)));
        resolve(server);
      });
    });
  }

  /** The clock's one sweep: every timeout of every client, pool, backend socket and rate limiter. */
  private readonly sweep = (now: number): void => {
    const routing = this.context.routing;
    for (const limiter of routing.rateLimiters) limiter.sweep(now);
    this.tcp.sweep(now);
    for (const client of this.clients.keys()) client.sweep(now);
    this.gate.sweep(now);
    for (const pool of routing.pools.values()) pool.sweep(now);
    for (const pool of this.retiring) {
      pool.sweep(now);
      if (pool.idle) {
        void pool.close();
        this.retiring.delete(pool);
      }
    }
    this.services.checks.sweep(now);
    this.services.discovery.sweep(now);
  };

  /** A plain HTTP or TCP listener's connection (`tcp`: a TCP listener's pool). */
  private onConnection(server: net.Server, socket: net.Socket, tcp: { pool: string } | null = null): void {
    if (this.closing || !server.listening) {
      socket.destroy(); // accepted in the same turn as shutdown began
      return;
    }
    const own = ownAddresses(socket);
    const start = (s: net.Socket, origin: Addresses, early: Buffer | null): void => {
      if (tcp !== null) this.tcp.accept(s, tcp.pool, origin, early);
      else this.startClient(server, s, origin, early, '');
    };
    if (!this.currentOptions.acceptProxy) {
      start(socket, own, null);
      return;
    }
    if (tcp !== null) socket.resume(); // the gate reads the PROXY header
    this.gate.accept(socket, own, (s, origin, rest) => {
      if (this.closing) s.destroy(); // the header completed after shutdown began
      else start(s, origin, rest);
    });
  }

  /**
   * A TLS listener's TCP connection: its PROXY header first when accept_proxy is on (the header
   * precedes the handshake; what came after it is put back for the TLS layer to read), then the
   * handshake, by the listener's tls.Server.
   */
  private onTlsConnection(server: net.Server, socket: net.Socket, held: HeldTls): void {
    if (this.closing || !server.listening) {
      socket.destroy();
      return;
    }
    if (!this.currentOptions.acceptProxy) {
      held.server.emit('connection', socket);
      return;
    }
    this.gate.accept(socket, ownAddresses(socket), (s, origin, rest) => {
      if (this.closing) {
        s.destroy(); // the header completed after shutdown began
        return;
      }
      const key = connectionKey(s);
      held.origins.set(key, origin);
      // A handshake that never completes leaves no entry (one a later connection could find).
      s.once('close', () => {
        if (held.origins.get(key) === origin) held.origins.delete(key);
      });
      // Paused first: a flowing socket would emit what is put back as 'data', to nobody. The TLS
      // socket made from it reads what it holds before it reads on.
      s.pause();
      if (rest.length > 0) s.unshift(rest);
      held.server.emit('connection', s);
    });
  }

  /**
   * A TLS listener's handshake is done: an HTTPS client connection, or a TCP session to `tcp`'s pool;
   * from its PROXY header's addresses if it sent one.
   */
  private onHandshake(server: net.Server, socket: tls.TLSSocket, held: HeldTls, tcp: { pool: string } | null): void {
    // Accepted before a reload closed its listener, it is served as a plain connection would be.
    if (this.closing) {
      socket.destroy();
      return;
    }
    const key = connectionKey(socket);
    const origin = held.origins.get(key) ?? ownAddresses(socket);
    held.origins.delete(key);
    if (tcp !== null) this.tcp.accept(socket, tcp.pool, origin, null);
    else this.startClient(server, socket, origin, null, socket.getProtocol() ?? '');
  }

  /** A client connection from `origin` (the socket's own addresses, or a PROXY header's); `early`: bytes already read. */
  private startClient(server: net.Server, socket: net.Socket, origin: Addresses, early: Buffer | null, tlsVersion: string): void {
    const address = origin.source.address;
    const client = new ClientConn(socket, this.context, {
      address,
      forwarded: forwardedLines(address, tlsVersion === '' ? 'http' : 'https', origin.destination.address, origin.destination.port),
      port: socket.localPort ?? 0,
      tls: tlsVersion,
      origin,
    });
    this.clients.set(client, server);
    const counted = this.openPerListener.get(server) ?? { listener: this.listenerNames.get(server) ?? '', open: 0 };
    counted.open++;
    this.openPerListener.set(server, counted);
    if (early !== null) client.feed(early);
  }

  /** A client connection's socket closed (ClientContext.closed). */
  private clientClosed(client: ClientConn): void {
    const server = this.clients.get(client);
    if (server === undefined) return;
    this.clients.delete(client);
    const counted = this.openPerListener.get(server);
    if (counted !== undefined && --counted.open === 0 && !server.listening) this.openPerListener.delete(server);
    if (this.clients.size > 0) return;
    for (const resolve of this.clientWaiters) resolve();
    this.clientWaiters = [];
  }

  /**
   * Resolves once no client connection is open. Waits for our own 'close' listener: the server
   * counts a connection gone a tick before its 'close' reaches ClientConn.
   */
  private clientsClosed(): Promise<void> {
    if (this.clients.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.clientWaiters.push(resolve));
  }
}

/** A connection's own TCP addresses: the peer (source) and where it connected (destination). */
function ownAddresses(socket: net.Socket): Addresses {
  return {
    source: { address: socket.remoteAddress ?? 'unknown', port: socket.remotePort ?? 0 },
    destination: { address: socket.localAddress ?? '127.0.0.1', port: socket.localPort ?? 0 },
  };
}

/**
 * A TCP connection's four addresses as a key: no two live connections share it (a peer and port
 * alone may reach two local addresses of a wildcard listener at once).
 */
function connectionKey(socket: net.Socket): string {
  return `${socket.remoteAddress ?? ''}|${socket.remotePort ?? 0}|${socket.localAddress ?? ''}|${socket.localPort ?? 0}`;
}

/** At most `max` client connections at once on `server` (0: no limit). */
function limitConnections(server: net.Server, max: number): void {
  if (max > 0) server.maxConnections = max;
  else delete (server as { maxConnections?: number }).maxConnections;
}

/** The address a listening socket is bound to. */
export function boundAddress(server: net.Server): Address {
  const addr = server.address() as net.AddressInfo;
  return { host: addr.address, port: addr.port };
}

const sameAddress = (a: Address, b: Address): boolean => a.host === b.host && a.port === b.port;

function openAccessLog(options: ProxyOptions, workerId: number | undefined): AccessLog | null {
  return options.accessLog === 'off' ? null : new AccessLog(options.accessLog, options.accessLogFile ?? 1, workerId);
}

const sameAccessLog = (a: ProxyOptions, b: ProxyOptions): boolean =>
  a.accessLog === b.accessLog && a.accessLogFile === b.accessLogFile;
