/**
 * Token buckets per client address: each address may make `burst` requests at once and `rate` per
 * second after that. Over the limit, `take` says how many seconds until a token is back (the
 * Retry-After of a 429). With worker processes the primary holds these buckets and hands tokens
 * out in batches (`lease`) to each worker's LeasedRateLimiter.
 *
 * Invariants:
 * - Memory is bounded: at most `maxClients` buckets. A new address beyond that evicts the oldest
 *   bucket (insertion order), which at worst gives that address a fresh burst.
 * - A bucket that has refilled completely carries no information and is dropped by `sweep`.
 * - Time comes from the caller (ms), so the proxy's clock and the tests share one notion of now.
 */
import type { ClientLimiter } from './client-limiter.js';

export interface RateLimitOptions {
  /** Requests per second per client address, once the burst is spent. */
  rate: number;
  /** Requests one address may make at once. */
  burst: number;
  /** Addresses tracked at most. */
  maxClients: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** What a lease hands out: whole tokens, and when fewer than asked, seconds until a token is back. */
export interface Grant {
  granted: number;
  retryAfter: number;
}

export class RateLimiter implements ClientLimiter {
  readonly name: string;
  /** Requests refused (429) so far (a lease's shortfall is counted by the limiter that refuses the requests). */
  limited = 0;
  /** The buckets are here: nothing to wait for. */
  readonly failedOpen = 0;
  private readonly buckets = new Map<string, Bucket>();
  private readonly rate: number;
  private readonly burst: number;
  private readonly maxClients: number;

  constructor(options: RateLimitOptions, name = '*') {
    this.name = name;
    this.rate = options.rate;
    this.burst = options.burst;
    this.maxClients = options.maxClients;
  }

  get tracked(): number {
    return this.buckets.size;
  }

  /** Takes a token for `client` at `now` (ms): 0 if the request may go on, else whole seconds to wait. */
  take(client: string, now: number): number {
    const bucket = this.refilled(client, now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    this.limited++;
    return this.secondsToToken(bucket);
  }

  /**
   * Takes up to `want` whole tokens of `client`'s bucket at `now` (ms) at once, for a worker to
   * spend: `granted` 0..want, and when that is fewer than `want`, `retryAfter` the seconds until
   * the bucket has a token again (0 otherwise). Only tokens the bucket has are granted.
   */
  lease(client: string, want: number, now: number): Grant {
    const bucket = this.refilled(client, now);
    const granted = Math.max(0, Math.min(want, Math.floor(bucket.tokens)));
    bucket.tokens -= granted;
    return { granted, retryAfter: granted < want ? this.secondsToToken(bucket) : 0 };
  }

  /** `client`'s bucket, refilled to `now` (a new one full; the oldest dropped to make room). */
  private refilled(client: string, now: number): Bucket {
    let bucket = this.buckets.get(client);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxClients) {
        const oldest = this.buckets.keys().next();
        if (oldest.done !== true) this.buckets.delete(oldest.value);
      }
      bucket = { tokens: this.burst, updatedAt: now };
      this.buckets.set(client, bucket);
    } else {
      bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.rate);
      bucket.updatedAt = now;
    }
    return bucket;
  }

  /** Whole seconds (at least 1) until a bucket with less than a token has one. */
  private secondsToToken(bucket: Bucket): number {
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.rate));
  }

  /** Drops the buckets that have refilled by `now`. */
  sweep(now: number): void {
    for (const [client, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.rate >= this.burst) this.buckets.delete(client);
    }
  }
}
