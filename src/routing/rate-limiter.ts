/**
 * Token buckets per client address: each address may make `burst` requests at once and `rate` per
 * second after that. Over the limit, `take` says how many seconds until a token is back (the
 * Retry-After of a 429).
 *
 * Invariants:
 * - Memory is bounded: at most `maxClients` buckets. A new address beyond that evicts the oldest
 *   bucket (insertion order), which at worst gives that address a fresh burst.
 * - A bucket that has refilled completely carries no information and is dropped by `sweep`.
 * - Time comes from the caller (ms), so the proxy's clock and the tests share one notion of now.
 */
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

export class RateLimiter {
  /** What it limits, as the metrics label it: `*` for the proxy-wide limit, else its route. */
  readonly name: string;
  /** Requests refused (429) so far. */
  limited = 0;
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
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    this.limited++;
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.rate));
  }

  /** Drops the buckets that have refilled by `now`. */
  sweep(now: number): void {
    for (const [client, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.rate >= this.burst) this.buckets.delete(client);
    }
  }
}
