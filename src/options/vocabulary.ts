/**
 * The words options are spelt with. The modules that act on them (balancer/policy.ts, log/) import
 * them from here, so that options/ depends on no runtime module.
 */

/** How a pool picks a backend: the least-pending heap, round robin, or power of two choices. */
export const POLICIES = ['least-pending', 'round-robin', 'p2c'] as const;
export type PolicyName = (typeof POLICIES)[number];

/** The error log's levels, lowest first; `silent` logs nothing. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The access log's line formats (JSON, or Apache/nginx combined). */
export const ACCESS_LOG_FORMATS = ['json', 'combined'] as const;
export type AccessLogFormat = (typeof ACCESS_LOG_FORMATS)[number];

/** Where a log goes: a file path, or 1 (stdout) or 2 (stderr). */
export type LogTarget = string | 1 | 2;

/** Active health checks: none, an HTTP request, or a TCP connect. */
export const HEALTH_CHECK_TYPES = ['off', 'http', 'tcp'] as const;
export type HealthCheckType = (typeof HEALTH_CHECK_TYPES)[number];

/** What a pool retries on another backend (exchange/retry.ts). */
export const RETRY_CONDITIONS = ['connect-failure', 'reset', 'timeout', '502', '503', '504'] as const;
export type RetryCondition = (typeof RETRY_CONDITIONS)[number];

/** The PROXY protocol header a pool writes first on each backend connection: none, v1 (text) or v2 (binary). */
export const SEND_PROXY = ['off', 'v1', 'v2'] as const;

/** What a listener speaks: HTTP/1.1 (routed per request), or TCP (each connection piped to a backend of one pool). */
export const LISTENER_MODES = ['http', 'tcp'] as const;
export type ListenerMode = (typeof LISTENER_MODES)[number];
export type SendProxy = (typeof SEND_PROXY)[number];
