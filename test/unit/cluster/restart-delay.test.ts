import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { restartDelay } from '../../../src/cluster/fleet.js';

test('a worker that dies is started again at once; one that keeps dying young waits 250 ms, doubling, at most 30 s', () => {
  assert.equal([0, 1, 2, 3, 4, 5].map(restartDelay), [0, 0, 250, 500, 1000, 2000]);
  assert.is(restartDelay(8), 16_000);
  assert.is(restartDelay(9), 30_000);
  assert.is(restartDelay(40), 30_000);
});

test.run();
