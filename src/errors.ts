/**
 * Every error code the proxy reports, in one table (like undici's errors.js): the HTTP status a
 * client is answered with, where the fault lies (a backend failure counts toward ejecting it, a
 * client's or our own does not), and when the request may be sent again.
 *
 * Retry rules (RFC 9110 §9.2.2 for what may be repeated):
 *   'never'       the backend may have acted on the request, or the request itself is at fault
 *   'any'         nothing reached a backend (its connect failed): safe for any method
 *   'idempotent'  the backend may have seen the request but sent nothing back: only an idempotent
 *                 request without a body may go again
 */
export type ErrorSource = 'client' | 'backend' | 'internal';
export type RetryRule = 'never' | 'any' | 'idempotent';

interface CodeInfo {
  readonly status: number;
  readonly source: ErrorSource;
  readonly retry: RetryRule;
}

const c = (status: number, source: ErrorSource, retry: RetryRule = 'never'): CodeInfo => ({ status, source, retry });

/** Codes of the errors a request can end in. */
export const CODES = {
  // The client's request, refused by the proxy before any backend was involved.
  PRX_ERR_PARSE: c(400, 'client'), // llhttp refused the bytes (strict mode)
  PRX_ERR_REQUEST_LINE: c(400, 'client'), // a request line or target the proxy does not forward
  PRX_ERR_HOST: c(400, 'client'), // a missing, repeated or malformed Host
  PRX_ERR_FRAMING: c(400, 'client'), // a Transfer-Encoding that cannot frame this request
  PRX_ERR_CLIENT_CLOSED: c(400, 'client'), // the client's FIN cut its request short
  PRX_ERR_NO_ROUTE: c(404, 'client'),
  PRX_ERR_METHOD_NOT_ALLOWED: c(405, 'client'), // TRACE, unless allowed
  PRX_ERR_HEAD_TIMEOUT: c(408, 'client'), // --header-timeout
  PRX_ERR_CLIENT_BODY_TIMEOUT: c(408, 'client'), // the body stopped arriving for --response-timeout
  PRX_ERR_CLIENT_STALLED: c(408, 'client'), // the client read none of its response for --response-timeout
  PRX_ERR_BODY_TOO_LARGE: c(413, 'client'),
  PRX_ERR_URI_TOO_LONG: c(414, 'client'),
  PRX_ERR_RATE_LIMITED: c(429, 'client'),
  PRX_ERR_HEAD_TOO_LARGE: c(431, 'client'),
  PRX_ERR_NOT_IMPLEMENTED: c(501, 'client'), // an unknown method, CONNECT, a transfer coding other than chunked
  PRX_ERR_VERSION: c(505, 'client'),
  // A backend's failure.
  PRX_ERR_BACKEND_CONNECT: c(502, 'backend', 'any'),
  PRX_ERR_BACKEND_CONNECT_TIMEOUT: c(502, 'backend', 'any'),
  PRX_ERR_BACKEND_TLS: c(502, 'backend', 'any'), // an https:// backend's handshake failed (its certificate did not verify, ...)
  PRX_ERR_BACKEND_CLOSED: c(502, 'backend', 'idempotent'),
  PRX_ERR_BACKEND_BAD_RESPONSE: c(502, 'backend'),
  PRX_ERR_BACKEND_TIMEOUT: c(504, 'backend'),
  PRX_ERR_BACKEND_STATUS: c(502, 'backend', 'idempotent'), // a 502/503/504 the pool retries on (its own status)
  // No backend could take it.
  PRX_ERR_NO_BACKEND: c(503, 'internal'),
  PRX_ERR_BACKEND_QUEUE_FULL: c(503, 'internal'),
} as const;

export type ErrorCode = keyof typeof CODES;

/** Codes of errors that stop the proxy or a reload rather than a request (no HTTP status). */
export const PRX_ERR_OPTION = 'PRX_ERR_OPTION';
export const PRX_ERR_CONFIG = 'PRX_ERR_CONFIG';
export const PRX_ERR_OPEN = 'PRX_ERR_OPEN';
export const PRX_ERR_LLHTTP_LOAD = 'PRX_ERR_LLHTTP_LOAD';
export const PRX_ERR_CHAN_CLOSED = 'PRX_ERR_CHAN_CLOSED';

export class ProxyError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly source: ErrorSource;
  readonly retry: RetryRule;

  constructor(code: ErrorCode, message: string, status: number = CODES[code].status) {
    super(message);
    this.name = 'ProxyError';
    this.code = code;
    this.status = status;
    this.source = CODES[code].source;
    this.retry = CODES[code].retry;
  }
}

export const backendRefused = (addr: string, why: string): ProxyError =>
  new ProxyError('PRX_ERR_BACKEND_CONNECT', `cannot connect to backend ${addr}: ${why}`);
export const backendTlsFailed = (addr: string, why: string): ProxyError =>
  new ProxyError('PRX_ERR_BACKEND_TLS', `TLS with backend ${addr} failed: ${why}`);
export const backendConnectTimeout = (addr: string, ms: number): ProxyError =>
  new ProxyError('PRX_ERR_BACKEND_CONNECT_TIMEOUT', `backend ${addr} did not accept a connection within ${ms} ms`);
export const backendClosed = (addr: string): ProxyError =>
  new ProxyError('PRX_ERR_BACKEND_CLOSED', `backend ${addr} closed the connection before a complete response`);
export const backendBadResponse = (addr: string, why: string): ProxyError =>
  new ProxyError('PRX_ERR_BACKEND_BAD_RESPONSE', `backend ${addr} sent a malformed response: ${why}`);
export const backendTimeout = (addr: string, ms: number): ProxyError =>
  new ProxyError('PRX_ERR_BACKEND_TIMEOUT', `backend ${addr} sent no response within ${ms} ms`);
export const backendStatus = (addr: string, status: number): ProxyError =>
  new ProxyError('PRX_ERR_BACKEND_STATUS', `backend ${addr} answered ${status}`, status);
export const noBackend = (): ProxyError =>
  new ProxyError('PRX_ERR_NO_BACKEND', 'no backend is available');
export const backendQueueFull = (addr: string): ProxyError =>
  new ProxyError('PRX_ERR_BACKEND_QUEUE_FULL', `backend ${addr} has too many queued requests`);
export const clientBodyTimeout = (ms: number): ProxyError =>
  new ProxyError('PRX_ERR_CLIENT_BODY_TIMEOUT', `the client sent no request body bytes for ${ms} ms`);
export const clientStalled = (ms: number): ProxyError =>
  new ProxyError('PRX_ERR_CLIENT_STALLED', `the client read none of its response for ${ms} ms`);

/**
 * An address to listen on or a log file that cannot be opened: a setting the user must change. At
 * start-up the CLI exits 2 with the message, as for a bad flag; a reload that meets one is refused.
 */
export class OpenError extends Error {
  readonly code = PRX_ERR_OPEN;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'OpenError';
  }
}

const LISTEN_REASONS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'no such address on this host',
};

/** `cannot listen on 127.0.0.1:80: permission denied (EACCES)` */
export function listenError(host: string, port: number, err: NodeJS.ErrnoException): OpenError {
  const where = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const reason = err.code !== undefined && LISTEN_REASONS[err.code] !== undefined ? `${LISTEN_REASONS[err.code]} (${err.code})` : err.message;
  return new OpenError(`cannot listen on ${where}: ${reason}`, { cause: err });
}
