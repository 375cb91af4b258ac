import { PRX_ERR_OPTION } from '../errors.js';
import { ACCESS_LOG_FORMATS, type AccessLogFormat, type LogLevel, type LogTarget, type PolicyName } from './vocabulary.js';

/**
 * The proxy's options: every limit and timeout, its default, and validation with errors that name the
 * offending flag. The README's table of limits is written from this file.
 */
export interface Address {
  host: string;
  port: number;
  /** For backends: share of the load relative to the others (default 1). */
  weight?: number;
}

/** A named set of backends and how one of them is chosen. */
export interface PoolOptions {
  name: string;
  backends: Address[];
  policy: PolicyName;
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

export interface ProxyOptions {
  /** Frontends: every address to accept clients on. */
  listen: Address[];
  /** The default pool's backends (may be empty when `pools` and `routes` say where requests go). */
  backends: Address[];
  /** How the default pool chooses a backend: the least-pending heap (default), round robin, or power of two choices. */
  policy: PolicyName;
  /** Named pools besides the default one. */
  pools: PoolOptions[];
  /** Tried in order, first match wins; requests no route matches go to the default pool (or get 404 without one). */
  routes: RouteOptions[];
  /** Addresses and CIDR subnets whose X-Forwarded-For names the client (for rate limits and logs). */
  trustedProxies: string[];
  /** The error log: backend failures, refused requests, reloads; at this level and above. */
  logLevel: LogLevel;
  /** Where the error log goes: a file, or 1 (stdout) or 2 (stderr). */
  logTo: LogTarget;
  /** Sockets per backend, busy and idle together; requests beyond wait in the backend's queue. */
  maxConnectionsPerBackend: number;
  /** A backend that has not accepted the TCP connection by then: 502. */
  connectTimeoutMs: number;
  /** A backend silent this long after a request (no byte of response), or mid-response: 504, or a cut. */
  responseTimeoutMs: number;
  /** Idle backend sockets close after this; keep it under the backends' keep-alive (Node: 5 s). */
  backendIdleTimeoutMs: number;
  /** A client that has begun a request head must finish it within this (slowloris): 408 and close. */
  headerTimeoutMs: number;
  /** A client connection with nothing in flight closes after this. */
  keepAliveTimeoutMs: number;
  /** Request line and headers, in bytes: larger gets 431 (414 when it is the request line). */
  maxHeadBytes: number;
  /** Request body bytes: larger gets 413 (at once for Content-Length; when crossed for chunked). */
  maxBodyBytes: number;
  /** Client connections open at once; more are refused at accept (0: no limit). */
  maxConnections: number;
  /** Requests read ahead of their responses on one client connection (pipelining). */
  maxPipeline: number;
  /** Consecutive failures (refused, timed out, malformed) that take a backend out of rotation. */
  failuresToEject: number;
  /** How long an ejected backend stays out before it is tried again. */
  ejectCooldownMs: number;
  /** SIGTERM/SIGINT: how long requests in flight may take to finish before connections are cut. */
  shutdownTimeoutMs: number;
  /** One line per request (JSON or Apache/nginx combined), or none. */
  accessLog: 'off' | AccessLogFormat;
  /** Where the access log goes: a file (appended to), or standard output when null. */
  accessLogFile: string | null;
  /** Requests per second per client address once its burst is spent (0: no limit); over it, 429. */
  rateLimit: number;
  /** Requests a client address may make at once (0: the rate, at least 1). */
  rateBurst: number;
  /** Client addresses tracked by the rate limit at most (the oldest is forgotten beyond). */
  rateLimitClients: number;
  /** Forward TRACE requests (off: 405, since TRACE echoes the request's cookies and credentials back). */
  allowTrace: boolean;
}

/** The host of a listen address given as `:PORT`. */
export const DEFAULT_LISTEN_HOST = '0.0.0.0';

export const DEFAULTS: Omit<ProxyOptions, 'backends'> = {
  listen: [{ host: DEFAULT_LISTEN_HOST, port: 8080 }],
  policy: 'least-pending',
  pools: [],
  routes: [],
  trustedProxies: [],
  logLevel: 'info',
  logTo: 2,
  maxConnectionsPerBackend: 128,
  connectTimeoutMs: 5_000,
  responseTimeoutMs: 60_000,
  backendIdleTimeoutMs: 4_000,
  headerTimeoutMs: 10_000,
  keepAliveTimeoutMs: 60_000,
  maxHeadBytes: 16 * 1024,
  maxBodyBytes: 100 * 1024 * 1024,
  maxConnections: 10_000,
  maxPipeline: 32,
  failuresToEject: 5,
  ejectCooldownMs: 10_000,
  shutdownTimeoutMs: 10_000,
  accessLog: 'off',
  accessLogFile: null,
  rateLimit: 0,
  rateBurst: 0,
  rateLimitClients: 100_000,
  allowTrace: false,
};

export class OptionError extends Error {
  readonly code = PRX_ERR_OPTION;
  constructor(message: string) {
    super(message);
    this.name = 'OptionError';
  }
}

/** `HOST:PORT`, `[v6]:PORT` or `:PORT` (host `defaultHost`). */
export function parseAddress(flag: string, text: string, defaultHost: string): Address {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(text.trim());
  if (match === null) throw new OptionError(`${flag}: "${text}" is not HOST:PORT`);
  const port = Number(match[3]);
  if (port < 1 || port > 65535) {
    // Port 0 (any free port) is allowed for listening only, which tests use.
    if (!(port === 0 && flag === '--listen')) throw new OptionError(`${flag}: port ${match[3]} is out of range 1-65535`);
  }
  const host = match[1] ?? (match[2] === '' || match[2] === undefined ? defaultHost : match[2]);
  return { host, port };
}

/** `250ms`, `5s`, `2m`, or a bare number of milliseconds. */
export function parseDuration(flag: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (match === null) throw new OptionError(`${flag}: "${text}" is not a duration (e.g. 500ms, 5s, 2m)`);
  const value = Number(match[1]);
  const ms = Math.round(match[2] === 's' ? value * 1000 : match[2] === 'm' ? value * 60_000 : value);
  // Zero would read as "no timeout" to a reader of the code; it is never what a user means here.
  if (ms < 1 || !Number.isFinite(ms)) throw new OptionError(`${flag}: must be at least 1ms`);
  return ms;
}

/** `16384`, `16k`, `1m`, `1g` (binary multiples). */
export function parseSize(flag: string, text: string): number {
  const match = /^(\d+)([kmg])?b?$/i.exec(text.trim());
  if (match === null) throw new OptionError(`${flag}: "${text}" is not a size (e.g. 16384, 64k, 10m)`);
  const unit = (match[2] ?? '').toLowerCase();
  const size = Number(match[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1);
  if (size <= 0) throw new OptionError(`${flag}: must be greater than zero`);
  return size;
}

export function parseCount(flag: string, text: string, min: number): number {
  const match = /^\d+$/.exec(text.trim());
  const count = Number(text);
  if (match === null || count < min) throw new OptionError(`${flag}: "${text}" is not a whole number >= ${min}`);
  return count;
}

export const ACCESS_LOG_CHOICES = ['off', ...ACCESS_LOG_FORMATS] as const;

/** One of `choices`, exactly as spelt there. */
export function parseChoice<T extends string>(flag: string, text: string, choices: readonly T[]): T {
  const choice = choices.find((c) => c === text);
  if (choice === undefined) throw new OptionError(`${flag}: "${text}" is not one of ${choices.join(', ')}`);
  return choice;
}

export function withDefaults(partial: Partial<ProxyOptions> & { backends: Address[] }): ProxyOptions {
  const options = { ...DEFAULTS, ...partial };
  if (options.backends.length === 0 && options.pools.length === 0) {
    throw new OptionError('--backend: at least one backend is required (the flag, or backends or pools in --config)');
  }
  if (options.listen.length === 0) throw new OptionError('--listen: at least one address is required');
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

/** `stdout`, `stderr`, or a file path. */
export function parseLogTarget(text: string): LogTarget {
  return text === 'stdout' ? 1 : text === 'stderr' ? 2 : text;
}
