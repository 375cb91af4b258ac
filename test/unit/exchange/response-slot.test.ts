import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CLOSED, EMPTY, type Receiver } from '../../../src/csp/chan.js';
import { OutputBudget, ResponseSlot, type CreditWaiter } from '../../../src/exchange/response-slot.js';

const READ = 10;
const bytes = (n: number): Buffer => Buffer.alloc(n, 0x61);

/** A producer that paused its source and records when it was let go on. */
class Producer implements CreditWaiter {
  constructor(readonly name: string, readonly log: string[]) {}
  creditGranted(): void {
    this.log.push(this.name);
  }
}

function connection(limit: number, n: number): { budget: OutputBudget; slots: ResponseSlot[] } {
  const budget = new OutputBudget(limit, READ);
  const slots = Array.from({ length: n }, () => {
    const slot = new ResponseSlot();
    slot.budget = budget;
    return slot;
  });
  budget.front = slots[0] as ResponseSlot;
  return { budget, slots };
}

test('credits: queued bytes plus a read per reading slot stay within the limit; the front reads whenever its slot is empty', () => {
  const { budget, slots: [front, a, b] } = connection(25, 3) as { budget: OutputBudget; slots: [ResponseSlot, ResponseSlot, ResponseSlot] };
  assert.ok(a.takeCredit(), 'room for one read');
  assert.ok(b.takeCredit(), 'and another');
  a.push(bytes(READ));
  assert.is(budget.queued, 10);
  assert.not.ok(b.takeCredit(), '10 queued + two credits of 10 would be 30 > 25: b keeps none');
  assert.not.ok(b.reading);
  assert.ok(a.takeCredit(), 'a may read on: 10 queued + its own credit');
  assert.ok(front.takeCredit(), 'the front, empty, reads whatever the others hold');
  front.push(bytes(READ));
  a.push(bytes(READ));
  assert.not.ok(front.takeCredit(), 'the front, not empty, is bound like the rest (30 queued)');
  assert.not.ok(a.takeCredit());
  assert.is(budget.readers, 0, 'every credit returned');
});

test('a producer without credit is granted one as bytes leave: the front first, then in the order they asked', () => {
  const { budget, slots: [front, a, b] } = connection(25, 3) as { budget: OutputBudget; slots: [ResponseSlot, ResponseSlot, ResponseSlot] };
  const log: string[] = [];
  a.push(bytes(10));
  front.push(bytes(10));
  assert.not.ok(a.takeCredit());
  a.awaitCredit(new Producer('a', log));
  assert.not.ok(b.takeCredit());
  b.awaitCredit(new Producer('b', log));
  assert.not.ok(front.takeCredit());
  front.awaitCredit(new Producer('front', log));
  budget.grant();
  assert.equal(log, [], 'nothing left yet');
  const out = front.tryRecv();
  assert.ok(out !== EMPTY && out !== CLOSED);
  budget.grant();
  assert.equal(log, ['front', 'a'], 'the front (empty now) first; then a: 10 queued + a credit of 10 fits 25, a second would not');
  assert.ok(front.reading && a.reading && !b.reading);
  front.close();
  assert.equal(log, ['front', 'a'], "the front's credit returned: still no room for b (10 queued + a's credit + b's)");
  a.close();
  assert.equal(log, ['front', 'a', 'b'], "a's credit returned (closing) is granted on");
});

test('a parked consumer gets a chunk straight away (unqueued), and CLOSED once the slot is closed and drained', () => {
  const slot = new ResponseSlot();
  slot.budget = new OutputBudget(10, READ);
  const got: (Buffer | typeof CLOSED)[] = [];
  const consumer: Receiver<Buffer> = { receive: (v) => got.push(v) };
  assert.is(slot.tryRecv(), EMPTY);
  slot.addReceiver(consumer);
  slot.push(bytes(500));
  assert.is(slot.budget.queued, 0, 'handed over, not queued');
  assert.is(got.length, 1);
  slot.push(bytes(3));
  slot.close();
  assert.ok(slot.tryRecv() !== CLOSED, 'queued bytes drain first');
  assert.is(slot.tryRecv(), CLOSED);
  assert.throws(() => slot.push(bytes(1)), /closed/);
});

test('closing a slot returns its credit and forgets a producer waiting for one', () => {
  const { budget, slots: [, a, b] } = connection(20, 3) as { budget: OutputBudget; slots: [ResponseSlot, ResponseSlot, ResponseSlot] };
  const log: string[] = [];
  assert.ok(a.takeCredit());
  assert.ok(b.takeCredit());
  assert.is(budget.readers, 2);
  b.push(bytes(10));
  assert.not.ok(b.takeCredit());
  b.awaitCredit(new Producer('b', log));
  b.close();
  a.close();
  assert.is(budget.readers, 0);
  budget.queued = 0;
  budget.grant();
  assert.equal(log, [], 'a closed slot is never granted');
});

test.run();
