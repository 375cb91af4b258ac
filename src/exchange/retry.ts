/**
 * When a failed attempt runs again, decided in one place (the pool adds its retry budget).
 *
 * - The keep-alive race: a pooled socket that the backend closed just as the proxy reused it fails
 *   before any response byte. The backend may or may not have seen the request, so an idempotent
 *   one without a body (RFC 9110 §9.2.2) goes again, once, on a fresh socket of the same backend. A
 *   timeout is never that race: a silent backend gets no second wait.
 * - On another backend, within the pool's `retries` and its deadline, and only while nothing has gone
 *   to the client: a connect failure (refused, unreachable, timed out, reset before the request was
 *   written) for any method, since nothing was sent and the body, if any, is still unread; after the
 *   request was written, an idempotent request whose body (if any) was not read yet, when the backend
 *   reset or closed the connection, and, where the pool opts in, on a timeout or a 502/503/504.
 */
import type { ProxyError } from '../errors.js';
import type { Job } from './job.js';

/** What an attempt had done when it failed. */
export interface AttemptProgress {
  /** The socket had carried an exchange before. */
  reusedSocket: boolean;
  /** The request head was written to the socket. */
  written: boolean;
  /** Request body bytes were taken from the job: they cannot be sent again. */
  bodyRead: boolean;
  /** A response byte had arrived. */
  answered: boolean;
}

/** A pool's retry settings (options: the pool's `retry`). */
export interface RetryPolicy {
  /** Attempts on other backends after the first, at most. */
  retries: number;
  /** No retry starts later than this after the first attempt began, in ms. */
  deadlineMs: number;
  onConnectFailure: boolean;
  onReset: boolean;
  onTimeout: boolean;
  /** Response statuses that send an idempotent request to another backend (502, 503, 504). */
  onStatus: readonly number[];
}

export function mayRetryOnFreshSocket(job: Job, error: ProxyError, progress: AttemptProgress): boolean {
  return error.code !== 'PRX_ERR_BACKEND_TIMEOUT' && progress.reusedSocket && !progress.answered
    && job.idempotent && job.body === null && !job.retried && !job.cancelled;
}

export function mayRetryElsewhere(job: Job, error: ProxyError, progress: AttemptProgress, policy: RetryPolicy, now: number): boolean {
  if (job.cancelled || job.bytesOut > 0) return false;
  if ((job.tried?.length ?? 0) >= policy.retries) return false;
  if (job.firstTryAt >= 0 && now - job.firstTryAt > policy.deadlineMs) return false;
  const replayable = job.idempotent && !progress.bodyRead;
  switch (error.code) {
    case 'PRX_ERR_BACKEND_CONNECT':
    case 'PRX_ERR_BACKEND_CONNECT_TIMEOUT':
      return policy.onConnectFailure && !progress.bodyRead;
    case 'PRX_ERR_BACKEND_CLOSED':
      if (!progress.written) return policy.onConnectFailure && !progress.bodyRead;
      return policy.onReset && replayable;
    case 'PRX_ERR_BACKEND_TIMEOUT':
      return policy.onTimeout && replayable;
    case 'PRX_ERR_BACKEND_STATUS':
      return policy.onStatus.includes(error.status) && replayable;
    default:
      return false;
  }
}

/** Why an attempt went again, as the metrics name it (`stale-socket`: the keep-alive race, on the same backend). */
export type RetryReason = 'connect-failure' | 'reset' | 'timeout' | 'status' | 'stale-socket';
export const RETRY_REASONS: readonly RetryReason[] = ['connect-failure', 'reset', 'timeout', 'status', 'stale-socket'];

/** The reason of a retry on another backend that mayRetryElsewhere allowed. */
export function retryReason(error: ProxyError, progress: AttemptProgress): RetryReason {
  switch (error.code) {
    case 'PRX_ERR_BACKEND_TIMEOUT':
      return 'timeout';
    case 'PRX_ERR_BACKEND_STATUS':
      return 'status';
    case 'PRX_ERR_BACKEND_CLOSED':
      return progress.written ? 'reset' : 'connect-failure';
    default:
      return 'connect-failure';
  }
}
