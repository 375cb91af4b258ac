/**
 * What the primary and its worker processes say to each other over the cluster's IPC channel
 * (advanced serialization: options go as structured clones, Infinity included).
 */
import type { BackendAction } from '../admin/admin-server.js';
import type { CheckVerdict } from '../balancer/active-health.js';
import type { DnsSet } from '../dns/discovery.js';
import type { Address, ProxyOptions } from '../options/options.js';

export type ToWorker =
  /** Serve with these options (validated once, by the primary). */
  | { t: 'start'; id: number; options: ProxyOptions; reusePort: boolean; verdicts: CheckVerdict[]; dns: DnsSet[]; ticketKeys: Uint8Array }
  | { t: 'reload'; seq: number; options: ProxyOptions }
  /** Finish what is in flight (graceful), or cut everything now, then exit. */
  | { t: 'shutdown'; timeoutMs: number }
  | { t: 'close' }
  /** Health check verdicts: the primary runs every check once. */
  | { t: 'checks'; verdicts: CheckVerdict[] }
  /** A DNS name's new set of addresses: the primary looks every name up once. */
  | { t: 'dns'; set: DnsSet }
  | { t: 'ask'; seq: number; what: 'status' | 'metrics' }
  | { t: 'act'; seq: number; pool: string; name: string; action: BackendAction }
  /** Tokens for a `lease` (RateLimiter.lease in the primary). */
  | { t: 'leased'; seq: number; granted: number; retryAfter: number };

export type ToPrimary =
  /**
   * Listening for messages now: send `start`. (Not on cluster's 'online', which comes before the
   * process has run its main module, so a message sent then finds no listener and is lost.)
   */
  | { t: 'hello' }
  | { t: 'ready'; addresses: Address[] }
  /**
   * Start-up failed (the message names what); the primary stops, as a lone process would, with
   * exit status 2 when it was something to open (an address to listen on, a log file).
   */
  | { t: 'failed'; message: string; open: boolean }
  | { t: 'reloaded'; seq: number; error: string | null }
  | { t: 'answer'; seq: number; value: unknown }
  /** Up to `want` rate-limit tokens of `client` in the limiter `limiter` (the names rateLimitersOf gives). */
  | { t: 'lease'; seq: number; limiter: string; client: string; want: number };

export const isToWorker = (m: unknown): m is ToWorker => typeof m === 'object' && m !== null && typeof (m as { t?: unknown }).t === 'string';
export const isToPrimary = (m: unknown): m is ToPrimary => typeof m === 'object' && m !== null && typeof (m as { t?: unknown }).t === 'string';
