// Question: what does a rate limit shared across worker processes cost a request on the common path?
// One op = one admission's take() for one of 64 client addresses. "RateLimiter" is one process's
// bucket (what admission calls without workers). "leased, token in the lease" is a worker's
// LeasedRateLimiter spending a token it already holds (3 of every 4 requests of a busy client with
// batches of 4); the lease is refilled before each sample, outside the timing. "leased, with its
// asks" adds the ask for every fourth request, answered at once in process (no IPC): the cost of
// the slow path's bookkeeping, not of the wait for the primary.
import { Bench } from 'tinybench';
import { perOperation, type BatchResult } from './batch.js';
import { RateLimiter } from '../../src/routing/rate-limiter.js';
import { LeasedRateLimiter } from '../../src/routing/leased-rate-limiter.js';
import type { LeaseSource, LeaseWaiter } from '../../src/routing/client-limiter.js';

const CLIENTS = Array.from({ length: 64 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
/** Enough that no bucket ever runs dry: every take is admitted. */
const LIMITS = { rate: 1e9, burst: 1e9, maxClients: 100_000 };

/** A source whose replies the bench gives by hand, all at once. */
class HeldSource implements LeaseSource {
  private readonly dones: ((granted: number, retryAfter: number) => void)[] = [];

  lease(_limiter: string, _client: string, _want: number, done: (granted: number, retryAfter: number) => void): void {
    this.dones.push(done);
  }

  answerAll(): void {
    for (let done = this.dones.shift(); done !== undefined; done = this.dones.shift()) done(4, 0);
  }
}

export default async function rateLimitBench(): Promise<Bench> {
  const bench = new Bench({ name: 'rate limit take(), per request', time: 1000 });
  let admitted = 0;
  const waiter: LeaseWaiter = { leased: (retryAfter) => { if (retryAfter === 0) admitted++; } };

  const local = new RateLimiter(LIMITS, '*');
  const ops = CLIENTS.length * 3;
  bench.add('RateLimiter (one process)', (): BatchResult => {
    const t0 = bench.now();
    for (let round = 0; round < 3; round++) for (const client of CLIENTS) if (local.take(client, t0) === 0) admitted++;
    return perOperation(bench, t0, ops);
  });

  const heldSource = new HeldSource();
  const held = new LeasedRateLimiter(LIMITS, '*', heldSource);
  bench.add('leased, token in the lease', (): BatchResult => {
    // Refill: one take per client asks, the answer grants 4 (one for that take, three left).
    const now = bench.now();
    for (const client of CLIENTS) held.take(client, now, waiter);
    heldSource.answerAll();
    const t0 = bench.now();
    for (let round = 0; round < 3; round++) for (const client of CLIENTS) if (held.take(client, t0, waiter) === 0) admitted++;
    return perOperation(bench, t0, ops);
  });

  const askingSource = new HeldSource();
  const asking = new LeasedRateLimiter(LIMITS, '*', askingSource);
  bench.add('leased, with its asks (1 in 4, answered in process)', (): BatchResult => {
    const t0 = bench.now();
    for (let round = 0; round < 4; round++) {
      for (const client of CLIENTS) if (asking.take(client, t0, waiter) === 0) admitted++;
      askingSource.answerAll();
    }
    return perOperation(bench, t0, CLIENTS.length * 4);
  });

  await bench.run();
  if (admitted === 0) throw new Error('rate-limit bench: nothing admitted');
  return bench;
}
