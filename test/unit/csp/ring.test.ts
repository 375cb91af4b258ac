import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Ring } from '../../../src/csp/ring.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function drain<T>(ring: Ring<T>): (T | undefined)[] {
  const out: (T | undefined)[] = [];
  while (ring.length > 0) out.push(ring.shift());
  return out;
}

test('capacity is rounded up to a power of two', () => {
  assert.is(new Ring(0).capacity, 1);
  assert.is(new Ring(1).capacity, 1);
  assert.is(new Ring(3).capacity, 4);
  assert.is(new Ring(4).capacity, 4);
  assert.is(new Ring(5).capacity, 8);
  assert.throws(() => new Ring(-1), RangeError);
  assert.throws(() => new Ring(1.5), RangeError);
});

test('FIFO across wrap-around', () => {
  const ring = new Ring<number>(4);
  const out: (number | undefined)[] = [];
  let next = 0;
  for (let round = 0; round < 10; round++) {
    ring.push(next++);
    ring.push(next++);
    ring.push(next++);
    out.push(ring.shift(), ring.shift());
  }
  out.push(...drain(ring));
  assert.equal(out, Array.from({ length: 30 }, (_, i) => i));
});

test('empty ring: shift and peek return undefined', () => {
  const ring = new Ring<string>();
  assert.is(ring.shift(), undefined);
  assert.is(ring.peek(), undefined);
  ring.push('a');
  assert.is(ring.peek(), 'a');
  assert.is(ring.length, 1);
  assert.is(ring.shift(), 'a');
  assert.is(ring.length, 0);
});

test('grows when full, keeping order from a wrapped head', () => {
  const ring = new Ring<number>(4);
  ring.push(0);
  ring.push(1);
  ring.shift();
  ring.shift();
  for (let i = 0; i < 9; i++) ring.push(i);
  assert.is(ring.capacity, 16);
  assert.equal(drain(ring), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
});

test('remove takes out one value by identity and keeps the order', () => {
  const ring = new Ring<{ id: number }>(4);
  const items = Array.from({ length: 4 }, (_, id) => ({ id }));
  ring.push({ id: -1 });
  ring.shift(); // head is now mid-array, so the removal below shifts across the wrap
  for (const item of items) ring.push(item);
  assert.ok(ring.remove(items[1]!));
  assert.not.ok(ring.remove(items[1]!));
  assert.not.ok(ring.remove({ id: 2 }));
  assert.ok(ring.remove(items[3]!));
  assert.equal(drain(ring), [items[0], items[2]]);
});

test('clear empties the ring', () => {
  const ring = new Ring<number>(2);
  ring.push(1);
  ring.push(2);
  ring.push(3);
  ring.clear();
  assert.is(ring.length, 0);
  assert.is(ring.shift(), undefined);
  ring.push(4);
  assert.equal(drain(ring), [4]);
});

async function collectable(use: (ring: Ring<object>, value: object) => void): Promise<boolean> {
  const ring = new Ring<object>(4);
  ring.push({ before: true });
  const ref = ((): WeakRef<object> => {
    const value = { big: new Array(1000).fill(0) };
    ring.push(value);
    ring.push({ after: true });
    use(ring, value);
    return new WeakRef(value);
  })();
  // WeakRef targets stay alive until the current job ends.
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  return ref.deref() === undefined;
}

test('values are not retained after shift, remove or clear', async () => {
  assert.not.ok(await collectable(() => {}), 'control: a held value survives gc');
  assert.ok(
    await collectable((r) => {
      r.shift();
      r.shift();
    }),
    'shift',
  );
  assert.ok(await collectable((r) => r.clear()), 'clear');
  assert.ok(await collectable((r, v) => r.remove(v)), 'remove');
});

test.run();
