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
 * - An ask unanswered LEASE_TIMEOUT_MS after it went out (checked on the clock's sweep: up to a tick
 *   later) lets its waiting requests through, counted in `failedOpen`, and a late reply is
 *   dropped: an unreachable primary must not stop the proxy, and a limit is not worth a stall.
 * - Memory is bounded: at most `maxClients` leases; the oldest makes room (its waiting requests,
 *   if any, are let through as after a timeout). An idle lease is dropped by the sweep once expired.
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
  /** Requests let through without a token: their ask timed out, or their lease was evicted while asking. */
  failedOpen = 0;
  private readonly leases = new Map<string, Lease>();
  private readonly source: LeaseSource;
  private readonly burst: number;
  private readonly batch: number;
  private readonly maxClients: number;
  /** Inside source.lease(): a reply now is deferred, so a waiter is never told before take returns. */
  private asking = false;

  constructor(options: RateLimitOptions, name: string, source: LeaseSource) {
    this.name = name;
    this.source = source;
    this.burst = options.burst;
    this.batch = Math.min(MAX_BATCH, Math.ceil(options.burst / 2));
    this.maxClients = options.maxClients;
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

  /** Lets through the requests of asks that have waited too long; drops idle leases that expired. */
  sweep(now: number): void {
    for (const [client, lease] of this.leases) {
      if (lease.askedAt >= 0) {
        if (now - lease.askedAt >= LEASE_TIMEOUT_MS) this.failOpen(lease);
      } else if (now >= lease.expiresAt) {
        this.leases.delete(client);
      }
    }
  }

  private wait(lease: Lease, now: number, waiter: LeaseWaiter): number {
    lease.waiters.push(waiter);
    if (lease.askedAt < 0) {
      lease.askedAt = now;
      this.ask(lease);
    }
    return LEASE_PENDING;
  }

  private track(client: string): Lease {
    if (this.leases.size >= this.maxClients) {
      const oldest = this.leases.values().next();
      if (oldest.done !== true) {
        const evicted = oldest.value;
        this.leases.delete(evicted.client);
        // Not from inside this take: the waiters' connections would read on in the middle of it.
        if (evicted.askedAt >= 0) queueMicrotask(() => this.failOpen(evicted));
      }
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
      wait = Math.max(1, retryAfter);
      this.limited += waiters.length - admitted;
    }
    for (let i = 0; i < told; i++) (waiters[i] as LeaseWaiter).leased(i < admitted ? 0 : wait);
  }

  /** Lets the waiting requests through (none when the ask was answered meanwhile). */
  private failOpen(lease: Lease): void {
    const waiters = lease.waiters;
    lease.waiters = [];
    lease.askedAt = -1;
    this.failedOpen += waiters.length;
    for (const waiter of waiters) waiter.leased(0);
  }
}
