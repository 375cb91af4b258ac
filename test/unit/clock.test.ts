import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Clock, tickFor, type Timeouts } from '../../src/clock.js';

const TIMEOUTS: Timeouts = { connect: 5000, response: 60_000, backendIdle: 4000, header: 10_000, keepAlive: 60_000, tcpIdle: 3_600_000, linger: 5000, ejectCooldown: 10_000, healthCheck: Infinity, dns: Infinity };

test('the tick is a quarter of the shortest timeout, between 10 ms and 1 s', () => {
  assert.is(tickFor(TIMEOUTS), 1000);
  assert.is(tickFor({ ...TIMEOUTS, header: 200 }), 50);
  assert.is(tickFor({ ...TIMEOUTS, connect: 1 }), 10);
});

test('the clock sweeps with its own now at each tick, and a retune changes the tick', async () => {
  const seen: number[] = [];
  let resolve: () => void = () => {};
  const three = new Promise<void>((r) => { resolve = r; });
  const clock = new Clock((now) => {
    seen.push(now);
    if (seen.length === 3) resolve();
  });
  const alive = setTimeout(() => {}, 5_000); // the clock's interval is unref'd: hold the process open
  try {
    clock.tune({ ...TIMEOUTS, header: 40 });
    assert.is(clock.tick, 10);
    await three;
    assert.ok(seen[0] !== undefined && seen[2] !== undefined && seen[2] > seen[0], `now moves on: ${seen.join(', ')}`);
    assert.is(clock.now, seen[seen.length - 1], 'the sweep is given clock.now');
    clock.tune(TIMEOUTS);
    assert.is(clock.tick, 1000);
  } finally {
    clock.stop();
    clearTimeout(alive);
  }
});

test.run();
