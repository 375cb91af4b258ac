/**
 * The proxy's options as the rest of the program takes them: ProxyOptions and DEFAULTS (both from
 * the table in schema.ts), the shapes of its lists, and the checks that concern options together.
 */
import { OPTION_KEYS, OPTIONS, type ProxyOptions } from './schema.js';
import { OptionError } from './values.js';
import type { ListenerMode, PolicyName } from './vocabulary.js';
import type { ListenerTls } from './tls-files.js';

// The rest of the program takes these from here, with the option types below.
export type { ProxyOptions } from './schema.js';
export { OptionError } from './values.js';

export interface Address {
  host: string;
  port: number;
  /** For backends: share of the load relative to the others (default 1). */
  weight?: number;
  /** For backends: spoken to over TLS (`https://HOST:PORT`), verified, with SNI set to the host. */
  https?: boolean;
  /** For backends: `host` is a name whose A and AAAA records are the backends (`dns:NAME:PORT`), kept up to date. */
  dns?: boolean;
}

/** `HOST:PORT` as logs and URLs write it (an IPv6 host in brackets), a backend's `https://` or `dns:` in front. */
export function addressText(a: Address): string {
  const host = a.host.includes(':') ? `[${a.host}]` : a.host;
  return `${a.https === true ? 'https://' : ''}${a.dns === true ? 'dns:' : ''}${host}:${a.port}`;
}

/** Where to accept clients: plain HTTP, HTTPS with `tls`, or TCP connections piped to the backends of `pool` (`mode: tcp`). */
export interface Listener extends Address {
  tls?: ListenerTls;
  mode?: ListenerMode;
  /** A TCP listener's pool (default: the default pool). */
  pool?: string;
}

/** The settings a pool may give for itself (in its `retry`, `health_check`, `slow_start` and `send_proxy`); the rest come from the top level. */
export const POOL_SETTINGS = [
  'slowStartMs', 'healthCheck', 'healthCheckPath', 'healthCheckMethod', 'healthCheckHost', 'healthCheckExpect', 'healthCheckIntervalMs',
  'healthCheckTimeoutMs', 'healthCheckRise', 'healthCheckFall', 'healthCheckJitter',
  'retries', 'retryOn', 'retryTimeoutMs', 'retryBudgetPercent', 'retryBudgetMin', 'sendProxy',
] as const satisfies readonly (keyof ProxyOptions)[];
export type PoolSettings = Pick<ProxyOptions, (typeof POOL_SETTINGS)[number]>;

/** A named set of backends and how one of them is chosen. */
export interface PoolOptions {
  name: string;
  backends: Address[];
  policy: PolicyName;
  /** What this pool sets for itself, if anything; the top-level options give the rest. */
  settings?: Partial<PoolSettings>;
}

/** Per route: requests per second per client address after a burst (rate 0: no limit). */
export interface RateLimitOptions {
  rate: number;
  burst: number;
}

/** Requests whose host, path and listening port match go to `pool`; a null condition matches anything. */
export interface RouteOptions {
  host: string | null;
  pathPrefix: string | null;
  port: number | null;
  pool: string;
  /** This route's own rate limit; null: the proxy-wide one. */
  rateLimit: RateLimitOptions | null;
}

/** The pool `--backend` (or a config's top-level `backends`) makes, which unrouted requests go to. */
export const DEFAULT_POOL = 'default';

export const DEFAULTS: ProxyOptions = defaults();

function defaults(): ProxyOptions {
  const options: Partial<ProxyOptions> = {};
  const set = <K extends keyof ProxyOptions>(key: K): void => {
    options[key] = OPTIONS[key].default;
  };
  OPTION_KEYS.forEach(set);
  // Complete: set() ran for every key.
  return options as ProxyOptions;
}

export function withDefaults(partial: Partial<ProxyOptions> & { backends: Address[] }): ProxyOptions {
  const options = { ...DEFAULTS, ...partial };
  if (options.backends.length === 0 && options.pools.length === 0) {
    throw new OptionError('--backend: at least one backend is required (the flag, or backends or pools in --config)');
  }
  if (options.listen.length === 0) throw new OptionError('--listen: at least one address is required');
  // A PROXY header is believed only from the proxies in front: without any, every connection would be refused.
  if (options.acceptProxy && options.trustedProxies.length === 0) {
    throw new OptionError('--accept-proxy: needs --trust-proxy (trusted_proxies) naming the proxies that may send a PROXY header');
  }
  if (options.dnsMinIntervalMs > options.dnsMaxIntervalMs) {
    throw new OptionError(`dns.min_interval: ${options.dnsMinIntervalMs} ms is longer than dns.max_interval (${options.dnsMaxIntervalMs} ms)`);
  }
  const defined = new Set([...options.pools.map((p) => p.name), ...(options.backends.length > 0 ? [DEFAULT_POOL] : [])]);
  for (const l of options.listen) {
    if (l.mode !== 'tcp') continue;
    const pool = l.pool ?? DEFAULT_POOL;
    if (!defined.has(pool)) throw new OptionError(`--listen ${l.host}:${l.port}: a TCP listener's pool "${pool}" is not a defined pool`);
    // TCP mode connects to backends in plain TCP: an https:// one would get plaintext (and pass TLS health checks).
    const backends = pool === DEFAULT_POOL ? options.backends : options.pools.find((p) => p.name === pool)?.backends ?? [];
    if (backends.some((b) => b.https === true)) {
      throw new OptionError(`--listen ${l.host}:${l.port}: a TCP listener's pool "${pool}" has https:// backends (TCP mode connects in plain TCP)`);
    }
  }
  const seen = new Set<string>();
  for (const { host, port } of options.listen) {
    if (port !== 0 && seen.has(`${host}:${port}`)) throw new OptionError(`--listen: ${host}:${port} is given twice`);
    seen.add(`${host}:${port}`);
  }
  // The config file names the line of a bad route; this catches the same for options built in code.
  const pools = new Set([...options.pools.map((p) => p.name), ...(options.backends.length > 0 ? [DEFAULT_POOL] : [])]);
  for (const [i, route] of options.routes.entries()) {
    if (!pools.has(route.pool)) throw new OptionError(`routes[${i}].pool: "${route.pool}" is not a defined pool`);
  }
  return options;
}
