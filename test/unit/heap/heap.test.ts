import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Heap } from '../../../src/heap/heap.js';

interface Item {
  heapIndex: number;
  key: number;
  id: number;
}

const byKey = (a: Item, b: Item): boolean => a.key < b.key;

function item(key: number, id = key): Item {
  return { heapIndex: -1, key, id };
}

/** Throws unless every slot knows its index and no child is less than its parent. */
function check(h: Heap<Item>): void {
  for (let i = 0; i < h.length; i++) {
    const it = h.at(i);
    if (it.heapIndex !== i) throw new Error(`slot ${i} holds item ${it.id} with heapIndex ${it.heapIndex}`);
    if (i > 0) {
      const parent = h.at((i - 1) >> 1);
      if (it.key < parent.key) throw new Error(`slot ${i} (key ${it.key}) < its parent (key ${parent.key})`);
    }
  }
}

function drain(h: Heap<Item>): number[] {
  const out: number[] = [];
  for (let it = h.pop(); it !== undefined; it = h.pop()) {
    assert.is(it.heapIndex, -1);
    check(h);
    out.push(it.key);
  }
  return out;
}

function heapOf(keys: number[]): { h: Heap<Item>; items: Item[] } {
  const h = new Heap(byKey);
  const items = keys.map((k, i) => item(k, i));
  for (const it of items) {
    h.push(it);
    check(h);
  }
  return { h, items };
}

test('empty heap', () => {
  const h = new Heap(byKey);
  assert.is(h.length, 0);
  assert.is(h.peek(), undefined);
  assert.is(h.pop(), undefined);
  assert.throws(() => h.at(0), RangeError);
});

test('push/pop gives sorted order, duplicates included', () => {
  const keys = [5, 3, 9, 1, 1, 8, 2, 7, 3, 0, 6, 4];
  const { h } = heapOf(keys);
  assert.is(h.length, keys.length);
  assert.is(h.peek()?.key, 0);
  assert.equal(drain(h), [...keys].sort((a, b) => a - b));
  assert.is(h.length, 0);
});

test('fix after lowering a key moves the item up to the root', () => {
  const { h, items } = heapOf([10, 20, 30, 40, 50, 60, 70]);
  const leaf = items[6]!;
  leaf.key = 1;
  h.fix(leaf);
  check(h);
  assert.is(h.peek(), leaf);
  assert.equal(drain(h), [1, 10, 20, 30, 40, 50, 60]);
});

test('fix after raising a key moves the item down', () => {
  const { h, items } = heapOf([10, 20, 30, 40, 50, 60, 70]);
  const root = items[0]!;
  assert.is(h.peek(), root);
  root.key = 65;
  h.fix(root);
  check(h);
  assert.is(h.peek()?.key, 20);
  assert.equal(drain(h), [20, 30, 40, 50, 60, 65, 70]);
});

test('fix with an unchanged key keeps the heap as it is', () => {
  const { h, items } = heapOf([4, 2, 6, 1, 3]);
  const before = Array.from({ length: h.length }, (_, i) => h.at(i));
  for (const it of items) h.fix(it);
  check(h);
  assert.equal(
    Array.from({ length: h.length }, (_, i) => h.at(i)),
    before,
  );
});

test('remove from the root, the middle and the end keeps the invariant', () => {
  const { h, items } = heapOf([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  const root = h.at(0);
  assert.ok(h.remove(root));
  assert.is(root.heapIndex, -1);
  check(h);
  const middle = h.at(2);
  assert.ok(h.remove(middle));
  check(h);
  const end = h.at(h.length - 1);
  assert.ok(h.remove(end));
  check(h);
  assert.is(h.length, 7);
  const gone = new Set([root.key, middle.key, end.key]);
  assert.equal(
    drain(h),
    items.map((it) => it.key).filter((k) => !gone.has(k)),
  );
});

test('remove where the last item must move up into the hole', () => {
  // Slot 4 (key 50) sits under 40; the last item (key 30, under 15) fills the hole and must rise above 40.
  const { h } = heapOf([10, 40, 15, 41, 50, 16, 30]);
  const fifty = h.at(4);
  assert.is(fifty.key, 50);
  assert.ok(h.remove(fifty));
  check(h);
  assert.is(h.at(1).key, 30);
  assert.equal(drain(h), [10, 15, 16, 30, 40, 41]);
});

test('remove of an item not in the heap returns false and changes nothing', () => {
  const { h } = heapOf([3, 1, 2]);
  const stranger = item(0);
  assert.is(h.remove(stranger), false);
  stranger.heapIndex = 1; // a stale index pointing at someone else's slot
  assert.is(h.remove(stranger), false);
  assert.is(h.has(stranger), false);
  const popped = h.pop()!;
  assert.is(h.remove(popped), false);
  const other = new Heap(byKey);
  const elsewhere = item(0);
  other.push(elsewhere);
  assert.is(h.remove(elsewhere), false);
  assert.is(h.length, 2);
  check(h);
  assert.equal(drain(h), [2, 3]);
});

test('fix of an item not in the heap and a double push throw', () => {
  const { h, items } = heapOf([1, 2]);
  assert.throws(() => h.fix(item(0)), /not in this heap/);
  assert.throws(() => h.push(items[0]!), /already in this heap/);
  check(h);
});

test('an item can be pushed again after pop and remove', () => {
  const { h, items } = heapOf([1, 2, 3]);
  const a = h.pop()!;
  const b = items[2]!;
  h.remove(b);
  h.push(b);
  h.push(a);
  check(h);
  assert.equal(drain(h), [1, 2, 3]);
});

test('property: random push/pop/fix/remove agrees with a sorted-array model', () => {
  type Op =
    | { op: 'push'; key: number }
    | { op: 'pop' }
    | { op: 'fix'; pick: number; key: number }
    | { op: 'remove'; pick: number };
  const key = fc.integer({ min: 0, max: 50 }); // small range: plenty of ties
  const pick = fc.nat();
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ op: fc.constant('push' as const), key }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('pop' as const) }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('fix' as const), pick, key }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('remove' as const), pick }) },
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const h = new Heap(byKey);
      // Every item ever made; the model is the subset still in the heap.
      const all: Item[] = [];
      let model: Item[] = [];
      const minKey = (): number | undefined =>
        model.length === 0 ? undefined : Math.min(...model.map((it) => it.key));
      for (const o of ops) {
        switch (o.op) {
          case 'push': {
            const it = item(o.key, all.length);
            all.push(it);
            h.push(it);
            model.push(it);
            break;
          }
          case 'pop': {
            const expected = minKey();
            const got = h.pop();
            if (got?.key !== expected) throw new Error(`pop gave ${got?.key}, expected ${expected}`);
            if (got !== undefined) {
              if (!model.includes(got)) throw new Error('pop gave an item not in the model');
              if (got.heapIndex !== -1) throw new Error('popped item keeps its index');
              model = model.filter((it) => it !== got);
            }
            break;
          }
          case 'fix': {
            if (model.length === 0) break;
            const it = model[o.pick % model.length]!;
            it.key = o.key;
            h.fix(it);
            break;
          }
          case 'remove': {
            if (all.length === 0) break;
            const it = all[o.pick % all.length]!; // may have left already
            const inModel = model.includes(it);
            if (h.remove(it) !== inModel) throw new Error(`remove returned ${!inModel} for an item ${inModel ? 'in' : 'not in'} the heap`);
            model = model.filter((x) => x !== it);
            break;
          }
        }
        check(h);
        if (h.length !== model.length) throw new Error(`length ${h.length}, model ${model.length}`);
        if (h.peek()?.key !== minKey()) throw new Error(`peek ${h.peek()?.key}, model min ${minKey()}`);
      }
      const rest = drain(h);
      const expected = model.map((it) => it.key).sort((a, b) => a - b);
      if (rest.join() !== expected.join()) throw new Error(`drained ${rest}, expected ${expected}`);
    }),
    { numRuns: 500 },
  );
});

test.run();
