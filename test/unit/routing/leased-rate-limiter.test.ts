import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LeasedRateLimiter, LEASE_TTL_MS } from '../../../src/routing/leased-rate-limiter.js';
import { LEASE_PENDING, type LeaseSource, type LeaseWaiter } from '../../../src/routing/client-limiter.js';

import { sleep, waitFor } from '../../kit/harness.js';

interface Ask {
  limiter: string;
  client: string;
  want: number;
  done: (granted: number, retryAfter: number) => void;
}

/** A lease source the test answers by hand, in the order asked. */
class ManualSource implements LeaseSource {
  readonly asks: Ask[] = [];

  lease(limiter: string, client: string, want: number, done: (granted: number, retryAfter: number) => void): void {
    this.asks.push({ limiter, client, want, done });
  }

  answer(granted: number, retryAfter = 0): Ask {
    const ask = this.asks.shift();
    if (ask === undefined) throw new Error('nothing asked');
    ask.done(granted, retryAfter);
    return ask;
  }
}

/** Waiters that write what they are told into one log, so order shows. */
function waiters(log: string[]): (name: string) => LeaseWaiter {
  return (name) => ({ leased: (retryAfter) => log.push(`${name}:${retryAfter}`) });
}

const limiterOf = (burst: number, source: LeaseSource, maxClients = 10, timeoutMs?: number): LeasedRateLimiter =>
  new LeasedRateLimiter({ rate: 1, burst, maxClients }, '*', source, timeoutMs);

/** The lease timeout of the timing tests: long enough that a busy machine's stalls stay well inside the margins. */
const TIMEOUT_MS = 400;

test('an empty lease asks for a batch and the request waits; the rest of the batch is spent at once, then it asks again', () => {
  const source = new ManualSource();
  const log: string[] = [];
  const w = waiters(log);
  const limiter = limiterOf(10, source);
  assert.is(limiter.take('a', 0, w('r1')), LEASE_PENDING);
  assert.equal(source.asks.map((a) => [a.limiter, a.client, a.want]), [['*', 'a', 4]], 'a batch of 4 for client a of limiter *');
  source.answer(4);
  assert.equal(log, ['r1:0']);
  assert.equal([1, 2, 3].map((i) => limiter.take('a', 10, w(`r${i + 1}`))), [0, 0, 0], 'the three tokens left, at once');
  assert.is(source.asks.length, 0, 'no ask while the lease has tokens');
  assert.is(limiter.take('a', 20, w('r5')), LEASE_PENDING, 'spent: ask again');
  assert.is(source.asks.length, 1);
});

test('a batch is at most 4 and at most half the burst, rounded up', () => {
  for (const [burst, batch] of [[1, 1], [2, 1], [3, 2], [7, 4], [100, 4]] as const) {
    const source = new ManualSource();
    limiterOf(burst, source).take('a', 0, { leased: () => {} });
    assert.is(source.asks[0]?.want, batch, `burst ${burst}`);
  }
});

test('one ask per client: requests meanwhile wait on its reply in order; a shortfall refuses the rest with its Retry-After', () => {
  const source = new ManualSource();
  const log: string[] = [];
  const w = waiters(log);
  const limiter = limiterOf(10, source);
  for (const name of ['r1', 'r2', 'r3']) assert.is(limiter.take('a', 0, w(name)), LEASE_PENDING);
  assert.is(limiter.take('b', 0, w('b1')), LEASE_PENDING, 'another client asks for itself');
  assert.equal(source.asks.map((a) => a.client), ['a', 'b'], 'one ask for a, however many wait');
  source.answer(2, 3);
  assert.equal(log, ['r1:0', 'r2:0', 'r3:3'], 'two tokens for the first two, 429 for the third');
  assert.is(limiter.limited, 1);
  source.answer(4);
  assert.equal(log.at(-1), 'b1:0');
});

test('all granted and more waiting: it asks again for them, and they keep their place ahead of later requests', () => {
  const source = new ManualSource();
  const log: string[] = [];
  const w = waiters(log);
  const limiter = limiterOf(10, source);
  for (let i = 1; i <= 6; i++) limiter.take('a', 0, w(`r${i}`));
  assert.is(source.answer(4).want, 4);
  assert.equal(log, ['r1:0', 'r2:0', 'r3:0', 'r4:0']);
  assert.is(source.asks[0]?.want, 4, 'two wait: a batch, not fewer');
  limiter.take('a', 5, w('r7'));
  assert.is(source.asks.length, 1, 'r7 waits on the same ask');
  source.answer(4);
  assert.equal(log.slice(4), ['r5:0', 'r6:0', 'r7:0']);
  assert.is(limiter.take('a', 6, w('r8')), 0, 'one token of that batch left');
});

test(`leased tokens not spent ${LEASE_TTL_MS} ms after the ask are dropped: an undershoot, never an overshoot`, () => {
  const source = new ManualSource();
  const limiter = limiterOf(10, source);
  const w = waiters([]);
  limiter.take('a', 100, w('r1'));
  source.answer(4);
  assert.is(limiter.take('a', 100 + LEASE_TTL_MS - 1, w('r2')), 0);
  assert.is(limiter.take('a', 100 + LEASE_TTL_MS, w('r3')), LEASE_PENDING, 'two tokens left, but expired');
  assert.is(source.asks.length, 1);
});

test('an ask unanswered for the timeout lets its requests through, counted; its late reply is dropped', async () => {
  const source = new ManualSource();
  const log: string[] = [];
  const w = waiters(log);
  const limiter = limiterOf(10, source, 10, TIMEOUT_MS);
  limiter.take('a', performance.now(), w('r1'));
  limiter.take('a', performance.now(), w('r2'));
  await sleep(TIMEOUT_MS / 4);
  assert.equal(log, [], 'not yet');
  await waitFor('the timeout', () => log.length === 2, 5_000);
  assert.equal(log, ['r1:0', 'r2:0']);
  assert.is(limiter.failedOpen, 2);
  assert.is(limiter.limited, 0);
  assert.is(limiter.take('a', performance.now(), w('r3')), LEASE_PENDING);
  assert.is(source.asks.length, 2, 'a new ask went out');
  source.answer(4);
  assert.equal(log, ['r1:0', 'r2:0'], 'the late reply to the first ask is not taken for the second\'s');
  source.answer(1);
  assert.equal(log, ['r1:0', 'r2:0', 'r3:0']);
});

test('asks time out each after its own wait, an evicted lease\'s too', async () => {
  const source = new ManualSource();
  const log: string[] = [];
  const w = waiters(log);
  const limiter = limiterOf(10, source, 1, TIMEOUT_MS);
  limiter.take('a', performance.now(), w('a1'));
  await sleep(TIMEOUT_MS / 2);
  limiter.take('b', performance.now(), w('b1'));
  assert.is(limiter.tracked, 1, 'b took a\'s place');
  await waitFor('a\'s timeout', () => log.length >= 1, 5_000);
  assert.equal(log, ['a1:0'], 'a timed out, evicted or not; b not yet (due half a timeout later)');
  await waitFor('b\'s timeout', () => log.length === 2, 5_000);
  assert.equal(log, ['a1:0', 'b1:0']);
  assert.is(limiter.failedOpen, 2);
});

test('a reply given twice counts once', () => {
  const source = new ManualSource();
  const log: string[] = [];
  const limiter = limiterOf(10, source);
  limiter.take('a', 0, waiters(log)('r1'));
  const ask = source.answer(1);
  ask.done(4, 0);
  assert.is(limiter.take('a', 1, waiters(log)('r2')), LEASE_PENDING, 'no tokens from the second call');
});

test('a source that answers within lease() is handled: the waiter is told after take returns', async () => {
  const log: string[] = [];
  const limiter = limiterOf(10, { lease: (_l, _c, _w, done) => done(1, 0) });
  assert.is(limiter.take('a', 0, waiters(log)('r1')), LEASE_PENDING);
  assert.equal(log, [], 'not from inside take');
  await Promise.resolve();
  assert.equal(log, ['r1:0']);
});

test('memory is bounded: the oldest lease makes room (an ask of its still gets its answer); expired idle leases are swept', () => {
  const source = new ManualSource();
  const log: string[] = [];
  const w = waiters(log);
  const limiter = limiterOf(10, source, 2);
  limiter.take('a', 0, w('a1'));
  limiter.take('b', 0, w('b1'));
  limiter.take('c', 0, w('c1'));
  assert.is(limiter.tracked, 2);
  source.answer(4);
  source.answer(4);
  source.answer(4);
  assert.equal(log, ['a1:0', 'b1:0', 'c1:0'], 'a was evicted while asking, and still answered');
  limiter.sweep(LEASE_TTL_MS - 1);
  assert.is(limiter.tracked, 2, 'kept while their tokens are good');
  limiter.sweep(LEASE_TTL_MS);
  assert.is(limiter.tracked, 0, 'expired and idle: nothing left to remember');
});

test.run();
