/**
 * A worker process's rate limiter: the buckets live in the primary (RateLimiter there), and this
 * spends tokens the primary leased to it, a few at a time per client, asking a LeaseSource for more
 * when a client's lease is empty. Admission sees the same contract as RateLimiter's, plus
 * LEASE_PENDING: the request waits for the reply.
 *
 * Invariants:
 * - Never more admitted than granted, but for the timeout below: the primary grants only tokens
 *   its bucket has, so leases across workers cannot overshoot the limit; what they cost is an
 *   undershoot, tokens leased to one worker that another could have used. That is kept small: a
 *   batch is at most MAX_BATCH and half the burst, and unspent tokens are dropped LEASE_TTL_MS after
 *   they were asked for.
 * - One ask in flight per client; requests arriving meanwhile wait on its reply, in order. The
 *   first `granted` waiters are admitted; when the primary granted all that was asked and more wait,
 *   it is asked again; when it granted fewer, the rest get 429 with its Retry-After.
 * - An ask unanswered LEASE_TIMEOUT_MS after it went out lets its waiting requests through, counted
 *   in `failedOpen`, and a late reply is dropped: an unreachable primary must not stop the proxy,
 *   and a limit is not worth a stall. The limiter keeps this timeout with its own timer, armed only
 *   while an ask is out, rather than on the clock's sweep: a reload stops sweeping the limiters it
 *   replaced, and their waiting requests must still go on.
 * - Memory is bounded: at most `maxClients` leases; the oldest makes room (an ask of its still
 *   in flight is answered or times out as before: each has a paused connection waiting on it). An
 *   idle lease is dropped by the sweep once its tokens expired.
 * - The common path (a token in the lease) allocates nothing and answers at once.
 */
import type { RateLimitOptions } from './rate-limiter.js';
import { LEASE_PENDING, type ClientLimiter, type LeaseSource, type LeaseWaiter } from './client-limiter.js';

/** Tokens asked for at once at most (also never more than half the burst, rounded up). */
export const MAX_BATCH = 4;
/** Leased tokens not spent this long (ms) after they were asked for are dropped. */
export const LEASE_TTL_MS = 1000;
/** An ask not answered this long (ms) after it went out lets its waiting requests through. */
export const LEASE_TIMEOUT_MS = 1000;

interface Lease {
  readonly client: string;
  /** Whole tokens left to spend. */
  tokens: number;
  /** After this (ms) the tokens left are dropped. */
  expiresAt: number;
  /** When the ask in flight went out (ms); -1: none in flight. A repeated ask keeps the first's time. */
  askedAt: number;
  /** Tokens the ask in flight is for. */
  want: number;
  /** Which ask is current: a reply to another one is dropped. */
  seq: number;
  /** Requests waiting for the reply, in arrival order. */
  waiters: LeaseWaiter[];
}

export class LeasedRateLimiter implements ClientLimiter {
  readonly name: string;
  limited = 0;
  /** Requests let through without a token: their ask was not answered in time. */
  failedOpen = 0;
  private readonly leases = new Map<string, Lease>();
  private readonly source: LeaseSource;
  private readonly burst: number;
  private readonly batch: number;
  private readonly maxClients: number;
  private readonly timeoutMs: number;
  /** Inside source.lease(): a reply now is deferred, so a waiter is never told before take returns. */
  private asking = false;
  /** The leases whose ask is out (evicted ones too, until answered or timed out). */
  private readonly inFlight = new Set<Lease>();
  /** Armed for the next ask in flight to time out; null while none is. */
  private timer: NodeJS.Timeout | null = null;

  /** `timeoutMs`: LEASE_TIMEOUT_MS but in tests. */
  constructor(options: RateLimitOptions, name: string, source: LeaseSource, timeoutMs = LEASE_TIMEOUT_MS) {
    this.name = name;
    this.source = source;
    this.burst = options.burst;
    this.batch = Math.min(MAX_BATCH, Math.ceil(options.burst / 2));
    this.maxClients = options.maxClients;
    this.timeoutMs = timeoutMs;
  }

  get tracked(): number {
    return this.leases.size;
  }

  take(client: string, now: number, waiter: LeaseWaiter): number {
    const lease = this.leases.get(client);
    if (lease !== undefined && lease.tokens >= 1 && now < lease.expiresAt) {
      lease.tokens -= 1;
      return 0;
    }
    return this.wait(lease ?? this.track(client), now, waiter);
  }

  /** Drops the idle leases whose tokens expired. */
  sweep(now: number): void {
    for (const [client, lease] of this.leases) {
      if (lease.askedAt < 0 && now >= lease.expiresAt) this.leases.delete(client);
    }
  }

  private wait(lease: Lease, now: number, waiter: LeaseWaiter): number {
    lease.waiters.push(waiter);
    if (lease.askedAt < 0) {
      lease.askedAt = now;
      this.inFlight.add(lease);
      if (this.timer === null) this.arm(this.timeoutMs);
      this.ask(lease);
    }
    return LEASE_PENDING;
  }

  private track(client: string): Lease {
    if (this.leases.size >= this.maxClients) {
      const oldest = this.leases.values().next();
      if (oldest.done !== true) this.leases.delete(oldest.value.client);
    }
    const lease: Lease = { client, tokens: 0, expiresAt: 0, askedAt: -1, want: 0, seq: 0, waiters: [] };
    this.leases.set(client, lease);
    return lease;
  }

  /** Asks for a batch, or for as many as wait if more (never more than the burst). */
  private ask(lease: Lease): void {
    const want = Math.min(Math.max(this.batch, lease.waiters.length), this.burst);
    const seq = ++lease.seq;
    lease.tokens = 0; // expired ones are dropped
    lease.want = want;
    this.asking = true;
    this.source.lease(this.name, lease.client, want, (granted, retryAfter) => {
      if (this.asking) queueMicrotask(() => this.answer(lease, seq, granted, retryAfter));
      else this.answer(lease, seq, granted, retryAfter);
    });
    this.asking = false;
  }

  private answer(lease: Lease, seq: number, granted: number, retryAfter: number): void {
    if (seq !== lease.seq || lease.askedAt < 0) return; // timed out or evicted: its waiters went on
    const tokens = Math.max(0, Math.min(lease.want, Math.floor(granted)));
    const waiters = lease.waiters;
    const admitted = Math.min(waiters.length, tokens);
    lease.tokens = tokens - admitted;
    lease.expiresAt = lease.askedAt + LEASE_TTL_MS;
    let told = waiters.length;
    let wait = 0;
    if (admitted < waiters.length && tokens === lease.want) {
      // All granted and still not enough: ask again for the rest, keeping their place (and the first ask's time).
      lease.waiters = waiters.slice(admitted);
      told = admitted;
      this.ask(lease);
    } else {
      lease.waiters = [];
      lease.askedAt = -1;
      this.inFlight.delete(lease);
      wait = Math.max(1, retryAfter);
      this.limited += waiters.length - admitted;
    }
    for (let i = 0; i < told; i++) (waiters[i] as LeaseWaiter).leased(i < admitted ? 0 : wait);
  }

  private arm(ms: number): void {
    this.timer = setTimeout(this.expire, ms);
    this.timer.unref();
  }

  /** Lets through the requests of the asks out for `timeoutMs`; re-arms for the next one due. */
  private readonly expire = (): void => {
    this.timer = null;
    const now = performance.now();
    const due: Lease[] = [];
    let next = Infinity;
    for (const lease of this.inFlight) {
      const at = lease.askedAt + this.timeoutMs;
      if (at <= now) due.push(lease);
      else next = Math.min(next, at);
    }
    // Armed before the waiters are told: their connections may ask again meanwhile.
    if (next < Infinity) this.arm(next - now);
    for (const lease of due) this.failOpen(lease);
  };

  private failOpen(lease: Lease): void {
    const waiters = lease.waiters;
    lease.waiters = [];
    lease.askedAt = -1;
    this.inFlight.delete(lease);
    this.failedOpen += waiters.length;
    for (const waiter of waiters) waiter.leased(0);
  }
}
