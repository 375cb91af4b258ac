/**
 * When a failed exchange may run again, decided in one place.
 *
 * The keep-alive race: a pooled socket that the backend closed just as the proxy reused it fails
 * before any response byte arrives. The backend may or may not have seen the request, so only an
 * idempotent one without a body (RFC 9110 §9.2.2) goes again, once, on a fresh socket.
 */
import type { Job } from './job.js';

/** `reusedSocket`: the socket had carried an exchange before; `answered`: a response byte had arrived. */
export function mayRetryOnFreshSocket(job: Job, reusedSocket: boolean, answered: boolean): boolean {
  return reusedSocket && !answered && job.idempotent && job.body === null && !job.retried && !job.cancelled;
}
