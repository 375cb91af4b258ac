import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PassiveHealth } from '../../../src/balancer/passive-health.js';

test('failures in a row eject; a success in between starts the count again', () => {
  const h = new PassiveHealth({ failuresToEject: 3, cooldownMs: 1000 });
  assert.not.ok(h.failed(0));
  assert.not.ok(h.failed(0));
  h.succeeded();
  assert.not.ok(h.failed(0));
  assert.not.ok(h.failed(0));
  assert.ok(h.failed(100), 'the third in a row ejects');
  assert.ok(h.ejected);
  assert.not.ok(h.failed(200), 'already out: no second ejection');
});

test('an ejected backend returns after its cool-down, on probation: one failure ejects it again', () => {
  const h = new PassiveHealth({ failuresToEject: 3, cooldownMs: 1000 });
  for (let i = 0; i < 3; i++) h.failed(100);
  assert.not.ok(h.sweep(1099), 'not before the cool-down');
  assert.ok(h.sweep(1100), 'returns at its end');
  assert.not.ok(h.ejected);
  assert.not.ok(h.sweep(1200), 'returned once');
  assert.ok(h.failed(1300), 'one failure on probation ejects it again');
  assert.ok(h.sweep(2300));
  h.succeeded();
  assert.not.ok(h.failed(2400), 'a success ends the probation');
});

test.run();
