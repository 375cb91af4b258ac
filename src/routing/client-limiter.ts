/**
 * What admission asks of a rate limiter, and what a limiter shared across worker processes asks of
 * the transport to the process that holds the buckets.
 *
 * A limiter answers `take` at once when it can (0: admit; > 0: refuse, seconds for Retry-After).
 * A limiter whose tokens come from elsewhere may have to ask first: it then returns LEASE_PENDING
 * and tells the waiter later, exactly once, with what take would have returned.
 */

/** take's answer when the request must wait: the waiter is told later. */
export const LEASE_PENDING = -1;

/** Told the outcome of a take that returned LEASE_PENDING: 0 to admit, else seconds for Retry-After. */
export interface LeaseWaiter {
  leased(retryAfter: number): void;
}

export interface ClientLimiter {
  /** What it limits, as the metrics label it: `*` for the proxy-wide limit, else its route. */
  readonly name: string;
  /** Requests refused (429) so far. */
  readonly limited: number;
  /** Requests let through without a token because the tokens' source did not answer in time (0 where the buckets are local). */
  readonly failedOpen: number;
  /** A token for `client` at `now` (ms, performance.now()): 0, seconds to wait, or LEASE_PENDING (`waiter` is told). */
  take(client: string, now: number, waiter: LeaseWaiter): number;
  /** The clock's sweep: forgets the clients whose state no longer carries information. */
  sweep(now: number): void;
}

/**
 * Where a worker process's limiter gets tokens: the process that holds the authoritative buckets
 * (RateLimiter.lease there). Asks for up to `want` tokens of `client`'s bucket in the limiter named
 * `limiter` (the names rateLimitersOf gives).
 *
 * `done(granted, retryAfter)` is called later (never from within `lease`'s own call is best, though
 * a synchronous answer is handled), at most once: `granted` whole tokens (0..want); when fewer than
 * asked, `retryAfter` is the seconds until the bucket has a token again. A source that cannot
 * answer (the primary gone, the channel closed) simply does not call it: the asker lets the waiting
 * requests through after its timeout and counts them. `lease` must not throw.
 */
export interface LeaseSource {
  lease(limiter: string, client: string, want: number, done: (granted: number, retryAfter: number) => void): void;
}
