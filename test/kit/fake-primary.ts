/**
 * Test helper: what a cluster primary does for rate limits, in process. It holds the authoritative
 * limiters (rateLimitersOf) and answers each lease asynchronously, as IPC would: on the next turn
 * of the event loop, after `delayMs`, or never.
 */
import type { LeaseSource } from '../../src/routing/client-limiter.js';
import type { RateLimiter } from '../../src/routing/rate-limiter.js';
import { rateLimitersOf } from '../../src/routing/rate-limits.js';
import type { ProxyOptions } from '../../src/options/options.js';

export type Answer = { after: 'next-turn' } | { after: 'ms'; ms: number } | { after: 'never' };

export class FakePrimary implements LeaseSource {
  readonly limiters: Map<string, RateLimiter>;
  /** Leases asked for, answered or not. */
  asks = 0;
  /** Tokens granted in all. */
  granted = 0;
  private readonly answer: Answer;

  constructor(options: ProxyOptions, answer: Answer) {
    this.limiters = rateLimitersOf(options);
    this.answer = answer;
  }

  lease(limiter: string, client: string, want: number, done: (granted: number, retryAfter: number) => void): void {
    this.asks++;
    const reply = (): void => {
      const bucket = this.limiters.get(limiter);
      if (bucket === undefined) throw new Error(`no limiter named ${limiter}`);
      const grant = bucket.lease(client, want, performance.now());
      this.granted += grant.granted;
      done(grant.granted, grant.retryAfter);
    };
    if (this.answer.after === 'next-turn') setImmediate(reply);
    else if (this.answer.after === 'ms') setTimeout(reply, this.answer.ms).unref();
  }
}
