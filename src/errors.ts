/**
 * Errors the proxy reports, each with a stable code (like undici's UND_ERR_*), the HTTP status a
 * client is answered with, and where the fault lies.
 */
export type ErrorSource = 'client' | 'backend' | 'internal';

export class ProxyError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    readonly source: ErrorSource,
    message: string,
  ) {
    super(message);
    this.name = 'ProxyError';
  }
}

export const backendRefused = (addr: string, why: string): ProxyError =>
  new ProxyError('PRX_ERR_BACKEND_CONNECT', 502, 'backend', `cannot connect to backend ${addr}: ${why}`);
export const backendConnectTimeout = (addr: string, ms: number): ProxyError =>
  new ProxyError('PRX_ERR_BACKEND_CONNECT_TIMEOUT', 502, 'backend', `backend ${addr} did not accept a connection within ${ms} ms`);
export const backendClosed = (addr: string): ProxyError =>
  new ProxyError('PRX_ERR_BACKEND_CLOSED', 502, 'backend', `backend ${addr} closed the connection before a complete response`);
export const backendBadResponse = (addr: string, why: string): ProxyError =>
  new ProxyError('PRX_ERR_BACKEND_BAD_RESPONSE', 502, 'backend', `backend ${addr} sent a malformed response: ${why}`);
export const backendTimeout = (addr: string, ms: number): ProxyError =>
  new ProxyError('PRX_ERR_BACKEND_TIMEOUT', 504, 'backend', `backend ${addr} sent no response within ${ms} ms`);
export const noBackend = (): ProxyError =>
  new ProxyError('PRX_ERR_NO_BACKEND', 503, 'internal', 'no backend is available');
export const clientStalled = (ms: number): ProxyError =>
  new ProxyError('PRX_ERR_CLIENT_STALLED', 408, 'client', `the client read none of its response for ${ms} ms`);
export const clientBodyTimeout = (ms: number): ProxyError =>
  new ProxyError('PRX_ERR_CLIENT_BODY_TIMEOUT', 408, 'client', `the client sent no request body bytes for ${ms} ms`);
