/**
 * Every option of the proxy, once: its flag, where a config file sets it, the kind of value, its
 * default and what it does. From this table come ProxyOptions and DEFAULTS (options.ts), the flag
 * table and flag parsing (cli.ts), --help (usage.ts) and the checking of config files
 * (config/validate.ts); a test holds the README's table of limits to it.
 *
 * The order matters: --help lists options in it, and a config file's keys are checked in it.
 */
import {
  addressOrSubnet, backendAddress, buckets, caFile, choice, choices, count, dnsServers, duration, redisUrl, durationOrOff, hostHeader, list, listenAddress, logTarget, path,
  optionalListenAddress, percent, policy, requestPath, secret, size, statusRanges, toggle, workerCount, type Kind,
} from './kinds.js';
import { DEFAULT_LISTEN_HOST } from './values.js';
import { ACCESS_LOG_FORMATS, HEALTH_CHECK_TYPES, LISTENER_MODES, LOG_LEVELS, RETRY_CONDITIONS, SEND_PROXY } from './vocabulary.js';
import type { Listener, PoolOptions, RouteOptions } from './options.js';
import { TLS_VERSIONS } from './tls-files.js';

export interface OptionSpec<T> {
  /** The command-line flag (`--connect-timeout`); none for what only a config file sets. */
  readonly flag?: string;
  /** The flag's placeholder in --help, where the kind's would say less. */
  readonly arg?: string;
  /** Where a config file sets it: a top-level key, or `section.key`. */
  readonly config?: string;
  readonly kind: Kind<T>;
  readonly default: T;
  /** The default as --help and the README say it, where the value alone would mislead. */
  readonly shownDefault?: string;
  /** One line: what it sets, and what is answered when it is crossed (`-> 502`). */
  readonly description: string;
}

type ValueOf<K> = K extends Kind<infer T> ? T : never;
/** An entry of the table below; its kind's own type is kept, so that HandKey can tell the hand-read ones. */
type Entry<K extends Kind<unknown>> = Omit<OptionSpec<ValueOf<K>>, 'kind'> & { readonly kind: K };
const option = <K extends Kind<unknown>>(entry: Entry<K>): Entry<K> => entry;

const TABLE = {
  listen: option({
    flag: '--listen', config: 'listen', kind: list<Listener>(listenAddress), default: [{ host: DEFAULT_LISTEN_HOST, port: 8080 }],
    description: 'where to accept clients; repeat for several (a config entry may be { address, tls } for HTTPS)',
  }),
  mode: option({
    flag: '--mode', arg: 'MODE', kind: choice(LISTENER_MODES), default: 'http',
    description: "what the --listen addresses speak: http, or tcp (each connection piped to a default-pool backend; a config listener sets its own mode and pool)",
  }),
  tlsCert: option({
    flag: '--tls-cert', kind: path, default: null, shownDefault: 'none',
    description: 'a PEM certificate (chain) that makes every listener without its own tls serve HTTPS; with --tls-key',
  }),
  tlsKey: option({
    flag: '--tls-key', kind: path, default: null, shownDefault: 'none',
    description: "the PEM private key of --tls-cert's certificate",
  }),
  tlsMinVersion: option({
    flag: '--tls-min-version', arg: 'VERSION', config: 'tls.min_version', kind: choice(TLS_VERSIONS), default: 'TLSv1.2',
    description: 'the oldest TLS version a listener accepts (a listener in the config may set its own)',
  }),
  backendCa: option({
    flag: '--backend-ca', config: 'backend_tls.ca', kind: caFile, default: null, shownDefault: 'the system CAs',
    description: 'the PEM CA certificates that https:// backends are verified against',
  }),
  policy: option({
    flag: '--policy', config: 'policy', kind: policy, default: 'least-pending',
    description: 'how a pool picks a backend',
  }),
  backends: option({
    flag: '--backend', config: 'backends', kind: list(backendAddress), default: [],
    description: 'a backend of the default pool; repeat the flag or separate with commas',
  }),
  pools: option({
    config: 'pools', kind: list({ arg: '', show: (pool: PoolOptions) => pool.name }), default: [],
    description: 'named pools of backends besides the default one, each with its policy',
  }),
  routes: option({
    config: 'routes', kind: list({ arg: '', show: (route: RouteOptions) => route.pool }), default: [],
    description: 'by host, path prefix and listening port to a pool; the first match wins, no match goes to the default pool (404 without one)',
  }),
  trustedProxies: option({
    flag: '--trust-proxy', config: 'trusted_proxies', kind: list(addressOrSubnet), default: [],
    description: 'an address or CIDR subnet whose X-Forwarded-For names the client (rate limits, logs); repeat the flag or separate with commas',
  }),
  acceptProxy: option({
    flag: '--accept-proxy', config: 'accept_proxy', kind: toggle, default: false,
    description: 'every listener requires a PROXY protocol header (v1 or v2) first on each connection, from a trusted proxy (--trust-proxy) only; its source address is the client',
  }),
  sendProxy: option({
    flag: '--send-proxy', arg: 'v1|v2', config: 'send_proxy', kind: choice(SEND_PROXY), default: 'off',
    description: "write a PROXY protocol header with the client's addresses first on each backend connection (a pool may set its own); a backend connection then carries one client connection's requests only",
  }),
  connectTimeoutMs: option({
    flag: '--connect-timeout', config: 'timeouts.connect', kind: duration, default: 5_000,
    description: 'backend TCP connect -> 502',
  }),
  responseTimeoutMs: option({
    flag: '--response-timeout', config: 'timeouts.response', kind: duration, default: 60_000,
    description: 'backend silent after a request or mid-response -> 504',
  }),
  backendIdleTimeoutMs: option({
    flag: '--backend-idle-timeout', config: 'timeouts.backend_idle', kind: duration, default: 4_000,
    description: "idle pooled backend sockets close; keep it under the backends' keep-alive",
  }),
  headerTimeoutMs: option({
    flag: '--header-timeout', config: 'timeouts.header', kind: duration, default: 10_000,
    description: 'client must finish a request head -> 408 (with --accept-proxy, its PROXY header too: closed)',
  }),
  tcpIdleTimeoutMs: option({
    flag: '--tcp-idle-timeout', config: 'timeouts.tcp_idle', kind: duration, default: 3_600_000,
    description: 'a TCP-mode connection with no bytes either way is closed',
  }),
  handshakeTimeoutMs: option({
    flag: '--handshake-timeout', config: 'timeouts.handshake', kind: duration, default: 10_000,
    description: 'a client on a TLS listener must finish its handshake (the connection is closed)',
  }),
  keepAliveTimeoutMs: option({
    flag: '--keep-alive-timeout', config: 'timeouts.keep_alive', kind: duration, default: 60_000,
    description: 'idle client connections close',
  }),
  maxHeadBytes: option({
    flag: '--max-header-bytes', config: 'limits.max_header_bytes', kind: size, default: 16 * 1024,
    description: 'request line + headers -> 431 / 414',
  }),
  maxBodyBytes: option({
    flag: '--max-body-bytes', config: 'limits.max_body_bytes', kind: size, default: 100 * 1024 * 1024,
    description: 'request body -> 413',
  }),
  maxConnections: option({
    flag: '--max-connections', config: 'limits.max_connections', kind: count(0), default: 10_000,
    description: 'client connections at once, 0 for no limit',
  }),
  maxPipeline: option({
    flag: '--max-pipeline', config: 'limits.max_pipeline', kind: count(1), default: 32,
    description: 'requests in flight per client connection',
  }),
  maxConnectionsPerBackend: option({
    flag: '--max-backend-connections', config: 'limits.max_backend_connections', kind: count(1), default: 128,
    description: 'sockets per backend, busy and idle',
  }),
  maxBackendQueue: option({
    flag: '--max-backend-queue', config: 'limits.max_backend_queue', kind: count(1), default: 4096,
    description: 'requests waiting for a socket to one backend; a backend with a full queue is skipped for the next best (503 when all are full)',
  }),
  failuresToEject: option({
    flag: '--eject-after', config: 'health.eject_after', kind: count(1), default: 5,
    description: 'consecutive failures that take a backend out',
  }),
  ejectCooldownMs: option({
    flag: '--eject-cooldown', config: 'health.eject_cooldown', kind: duration, default: 10_000,
    description: 'how long an ejected backend stays out',
  }),
  slowStartMs: option({
    flag: '--slow-start', config: 'health.slow_start', kind: durationOrOff, default: 0, shownDefault: '0 (off)',
    description: 'after a backend returns to service (health check, end of ejection, added by a reload) its weight ramps up over this',
  }),
  healthCheck: option({
    flag: '--health-check', arg: 'TYPE', config: 'health_check.type', kind: choice(HEALTH_CHECK_TYPES), default: 'off',
    description: 'active checks of every backend: an HTTP request, or a TCP connect',
  }),
  healthCheckPath: option({
    flag: '--health-check-path', config: 'health_check.path', kind: requestPath, default: '/',
    description: 'what an HTTP check asks for',
  }),
  healthCheckMethod: option({
    config: 'health_check.method', kind: choice(['GET', 'HEAD', 'OPTIONS'] as const), default: 'GET',
    description: 'the method of an HTTP check',
  }),
  healthCheckHost: option({
    flag: '--health-check-host', config: 'health_check.host', kind: hostHeader, default: null, shownDefault: "the backend's address",
    description: 'the Host of an HTTP check',
  }),
  healthCheckExpect: option({
    flag: '--health-check-expect', config: 'health_check.expect', kind: statusRanges, default: [[200, 399]],
    description: 'the statuses an HTTP check passes with',
  }),
  healthCheckIntervalMs: option({
    flag: '--health-check-interval', config: 'health_check.interval', kind: duration, default: 2_000,
    description: 'time between checks of a backend (HAProxy: inter)',
  }),
  healthCheckTimeoutMs: option({
    flag: '--health-check-timeout', config: 'health_check.timeout', kind: duration, default: 1_000,
    description: 'a check not answered in this fails',
  }),
  healthCheckRise: option({
    flag: '--health-check-rise', config: 'health_check.rise', kind: count(1), default: 2,
    description: 'passes in a row that bring a backend that is down back into rotation',
  }),
  healthCheckFall: option({
    flag: '--health-check-fall', config: 'health_check.fall', kind: count(1), default: 3,
    description: 'failures in a row that take a backend out of rotation',
  }),
  healthCheckJitter: option({
    flag: '--health-check-jitter', config: 'health_check.jitter', kind: percent, default: 10,
    description: 'each interval is shortened or lengthened at random by up to this share, so checks do not march in step',
  }),
  retries: option({
    flag: '--retries', config: 'retry.retries', kind: count(0), default: 2,
    description: 'attempts on another backend after a failed one, at most (see retry.on)',
  }),
  retryOn: option({
    flag: '--retry-on', config: 'retry.on', kind: choices(RETRY_CONDITIONS), default: ['connect-failure', 'reset'],
    description: 'what sends a request to another backend: connect-failure (any method), reset, timeout, 502, 503, 504 (idempotent requests only)',
  }),
  retryTimeoutMs: option({
    flag: '--retry-timeout', config: 'retry.timeout', kind: duration, default: 10_000,
    description: 'no retry starts later than this after the first attempt began',
  }),
  retryBudgetPercent: option({
    flag: '--retry-budget', config: 'retry.budget_percent', kind: percent, default: 20,
    description: "retries in flight at most, as a share of the pool's requests in flight (beyond it the error goes to the client)",
  }),
  retryBudgetMin: option({
    flag: '--retry-budget-min', config: 'retry.min_retries', kind: count(0), default: 3,
    description: 'retries in flight the budget allows however few requests are in flight',
  }),
  dnsServers: option({
    flag: '--dns-server', config: 'dns.servers', kind: dnsServers, default: [], shownDefault: "the system's (/etc/resolv.conf)",
    description: 'the DNS servers that dns:NAME:PORT backends are looked up on',
  }),
  dnsMinIntervalMs: option({
    flag: '--dns-min-interval', config: 'dns.min_interval', kind: duration, default: 1_000,
    description: "a dns: backend's name is looked up again after its records' TTL, but not sooner than this (nor after a failure)",
  }),
  dnsMaxIntervalMs: option({
    flag: '--dns-max-interval', config: 'dns.max_interval', kind: duration, default: 60_000,
    description: "...and not later than this, however long the TTL",
  }),
  dnsTimeoutMs: option({
    flag: '--dns-timeout', config: 'dns.timeout', kind: duration, default: 2_000,
    description: 'a DNS lookup not answered in this fails (the backends found before stay)',
  }),
  shutdownTimeoutMs: option({
    flag: '--shutdown-timeout', config: 'timeouts.shutdown', kind: duration, default: 10_000,
    description: 'on SIGTERM/SIGINT, time for requests in flight to finish',
  }),
  rateLimit: option({
    flag: '--rate-limit', config: 'rate_limit.rate', kind: count(0), default: 0,
    description: 'requests per second per client address after its burst, 0 for none -> 429',
  }),
  rateBurst: option({
    flag: '--rate-burst', config: 'rate_limit.burst', kind: count(0), default: 0, shownDefault: 'the rate',
    description: 'requests a client address may make at once',
  }),
  rateLimitClients: option({
    flag: '--rate-limit-clients', config: 'rate_limit.clients', kind: count(1), default: 100_000,
    description: 'client addresses the rate limit tracks at most',
  }),
  rateLimitStore: option({
    flag: '--rate-limit-store', arg: 'URL', config: 'rate_limit.store', kind: redisUrl, default: null, shownDefault: 'none (limits per instance)',
    description: 'redis://HOST:PORT[/DB]: every instance and worker draws from one budget per client and limit, kept in Redis',
  }),
  rateLimitStoreFailure: option({
    flag: '--rate-limit-store-failure', arg: 'HOW', config: 'rate_limit.store_failure', kind: choice(['open', 'closed'] as const), default: 'open',
    description: 'while the store is unreachable: let requests through (open) or answer 429 (closed)',
  }),
  accessLog: option({
    flag: '--access-log', arg: 'FORMAT', config: 'access_log.format', kind: choice(['off', ...ACCESS_LOG_FORMATS] as const), default: 'off',
    description: 'one line per request',
  }),
  accessLogFile: option({
    flag: '--access-log-file', config: 'access_log.file', kind: path, default: null,
    description: 'append the access log to PATH instead of standard output; alone, it means json',
  }),
  logLevel: option({
    flag: '--log-level', arg: 'LEVEL', config: 'log.level', kind: choice(LOG_LEVELS), default: 'info',
    description: 'the error log (backend failures, refused requests, reloads) at this level and above',
  }),
  logTo: option({
    flag: '--log-file', config: 'log.file', kind: logTarget, default: 2,
    description: "the error log's destination: a file, stdout or stderr",
  }),
  workers: option({
    flag: '--workers', config: 'workers', kind: workerCount, default: 1,
    description: 'worker processes, each a whole proxy (auto: one per core); with more than one, a primary process hands out connections, runs health checks, holds rate limits and serves the admin listener',
  }),
  admin: option({
    flag: '--admin', config: 'admin.listen', kind: optionalListenAddress, default: null, shownDefault: 'off',
    description: 'the admin listener (GET /metrics, /status.json; POST drain, return, weight); never on a proxy listener',
  }),
  adminToken: option({
    config: 'admin.token', kind: secret, default: null, shownDefault: 'none',
    description: "a bearer token the admin listener's POST actions require (config only: a flag would show it in ps)",
  }),
  metricsBuckets: option({
    flag: '--metrics-buckets', config: 'admin.buckets', kind: buckets, default: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    description: "the bounds of the request duration histogram's buckets",
  }),
  allowTrace: option({
    flag: '--allow-trace', config: 'allow_trace', kind: toggle, default: false,
    description: 'forward TRACE requests; off, they get 405 (TRACE echoes cookies back)',
  }),
};

type Table = typeof TABLE;

/** What every option is set to, derived from the kinds in the table. */
export type ProxyOptions = { -readonly [K in keyof Table]: ValueOf<Table[K]['kind']> };

/** The table, typed so that each entry's default and kind agree with its option's type. */
export const OPTIONS: { readonly [K in keyof ProxyOptions]: OptionSpec<ProxyOptions[K]> } = TABLE;

/** Every option's key, in the table's order. */
export const OPTION_KEYS = Object.keys(OPTIONS) as (keyof ProxyOptions)[];

/** Options whose flags and config values are read by hand: cli.ts and config/validate.ts have a reader for each. */
export type HandKey = { [K in keyof Table]: Table[K]['kind'] extends { byHand: true } ? K : never }[keyof Table];

/** Flags of the command line itself rather than of an option. */
export const COMMAND_FLAGS = {
  config: {
    flag: '--config', arg: 'FILE',
    description: 'YAML (.yaml, .yml) or TOML (.toml): pools, routes and every setting; flags given as well win. SIGHUP re-reads it (and these flags)',
  },
  help: { flag: '--help', arg: '', description: 'this text' },
} as const;

/** An option's default as --help and the README's table say it ('' for none). */
export function shownDefault<K extends keyof ProxyOptions>(key: K): string {
  const spec = OPTIONS[key];
  return spec.shownDefault ?? spec.kind.show(spec.default);
}

/** An option's placeholder in --help; '' for a switch. */
export function argOf(key: keyof ProxyOptions): string {
  const spec = OPTIONS[key];
  return spec.arg ?? spec.kind.arg;
}
