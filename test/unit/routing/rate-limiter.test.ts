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

test.run();
