import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RateLimiter } from '../../../src/routing/rate-limiter.js';

test('a burst goes through, the next request waits for a token, and tokens come back at the rate', () => {
  const limiter = new RateLimiter({ rate: 2, burst: 3, maxClients: 10 });
  assert.equal([0, 0, 0].map(() => limiter.take('a', 0)), [0, 0, 0]);
  assert.is(limiter.take('a', 0), 1, 'over the burst: one second until a token (rate 2/s rounds up)');
  assert.is(limiter.take('a', 499), 1, 'not yet');
  assert.is(limiter.take('a', 500), 0, 'half a second at 2/s brings one token');
  assert.is(limiter.take('b', 500), 0, 'another address has its own bucket');
});

test('slow rates give longer waits in whole seconds', () => {
  const limiter = new RateLimiter({ rate: 0.1, burst: 1, maxClients: 10 });
  assert.is(limiter.take('a', 0), 0);
  assert.is(limiter.take('a', 0), 10);
  assert.is(limiter.take('a', 5_000), 5);
});

test('memory is bounded: the oldest bucket makes room; refilled buckets are swept', () => {
  const limiter = new RateLimiter({ rate: 1, burst: 1, maxClients: 3 });
  for (const client of ['a', 'b', 'c', 'd']) limiter.take(client, 0);
  assert.is(limiter.tracked, 3);
  assert.is(limiter.take('a', 0), 0, 'a was evicted, so it starts with a fresh burst');
  limiter.sweep(500);
  assert.is(limiter.tracked, 3, 'half refilled: kept');
  limiter.sweep(1_000);
  assert.is(limiter.tracked, 0, 'all refilled: nothing left to remember');
});

test('lease: up to `want` whole tokens at once, from the same bucket take() spends; a shortfall says when a token is back', () => {
  const limiter = new RateLimiter({ rate: 2, burst: 5, maxClients: 10 });
  assert.equal(limiter.lease('a', 4, 0), { granted: 4, retryAfter: 0 });
  assert.equal(limiter.lease('a', 4, 0), { granted: 1, retryAfter: 1 }, 'one token left of the burst');
  assert.equal(limiter.lease('a', 4, 0), { granted: 0, retryAfter: 1 });
  assert.is(limiter.take('a', 0), 1, 'take() sees the bucket the leases emptied');
  assert.equal(limiter.lease('a', 4, 1_250), { granted: 2, retryAfter: 1 }, '1.25 s at 2/s: two whole tokens (half a token stays)');
  assert.equal(limiter.lease('a', 1, 1_500), { granted: 1, retryAfter: 0 }, 'the half token and another quarter second make one');
  assert.equal(limiter.lease('b', 9, 0), { granted: 5, retryAfter: 1 }, 'never more than the burst');
  assert.is(limiter.limited, 1, 'only the refused take is counted: the worker that refuses requests counts them');
});

test('lease: slow rates give the wait in whole seconds; memory stays bounded', () => {
  const limiter = new RateLimiter({ rate: 0.25, burst: 1, maxClients: 2 });
  assert.equal(limiter.lease('a', 2, 0), { granted: 1, retryAfter: 4 });
  assert.equal(limiter.lease('a', 1, 1_000), { granted: 0, retryAfter: 3 });
  limiter.lease('b', 1, 0);
  limiter.lease('c', 1, 0);
  assert.is(limiter.tracked, 2);
  assert.equal(limiter.lease('a', 1, 1_000), { granted: 1, retryAfter: 0 }, 'a was evicted: a fresh burst');
});

test.run();
