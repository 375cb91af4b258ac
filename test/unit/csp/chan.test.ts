import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CLOSED, Chan, ChanClosedError, EMPTY, type Receiver, type Sender } from '../../../src/csp/chan.js';
import { got, settle } from '../../kit/settle.js';

async function state(p: Promise<unknown>): Promise<string> {
  return (await settle(p)).state;
}

function recorder<T>(log: unknown[], name: string): Receiver<T> {
  return { receive: (value) => log.push([name, value]) };
}

test('constructor checks capacity; capacity is exact, not the ring size', () => {
  assert.throws(() => new Chan(-1), RangeError);
  assert.throws(() => new Chan(0.5), RangeError);
  const ch = new Chan<number>(3);
  assert.is(ch.capacity, 3);
  assert.ok(ch.trySend(1));
  assert.ok(ch.trySend(2));
  assert.ok(ch.trySend(3));
  assert.not.ok(ch.trySend(4), 'a capacity-3 channel holds 3');
  assert.is(ch.size, 3);
  assert.is(new Chan().capacity, 0);
});

test('buffered values come out FIFO, across wrap-around', () => {
  const ch = new Chan<number>(3);
  const out: unknown[] = [];
  let next = 0;
  for (let round = 0; round < 5; round++) {
    while (ch.trySend(next)) next++;
    out.push(ch.tryRecv(), ch.tryRecv());
  }
  for (let v = ch.tryRecv(); v !== EMPTY; v = ch.tryRecv()) out.push(v);
  assert.equal(out, Array.from({ length: next }, (_, i) => i));
  assert.is(ch.tryRecv(), EMPTY);
});

test('send blocks when the buffer is full and resumes when a receiver takes', async () => {
  const ch = new Chan<string>(1);
  await got(ch.send('a'));
  const b = ch.send('b');
  const c = ch.send('c');
  assert.is(await state(b), 'pending');
  assert.is(ch.waitingSenders, 2);
  assert.is(ch.tryRecv(), 'a');
  // b moved into the freed slot; c still waits
  assert.is(await state(b), 'fulfilled');
  assert.is(await state(c), 'pending');
  assert.is(ch.size, 1);
  assert.is(await got(ch.recv()), 'b');
  assert.is(await state(c), 'fulfilled');
  assert.is(ch.tryRecv(), 'c');
  assert.is(ch.tryRecv(), EMPTY);
});

test('recv blocks when empty and wakes on send; receivers are woken FIFO', async () => {
  const ch = new Chan<number>(4);
  const r1 = ch.recv();
  const r2 = ch.recv();
  assert.is(await state(r1), 'pending');
  assert.is(ch.waitingReceivers, 2);
  assert.ok(ch.trySend(1));
  assert.ok(ch.trySend(2));
  assert.ok(ch.trySend(3));
  assert.is(await got(r1), 1);
  assert.is(await got(r2), 2);
  assert.is(ch.size, 1, 'only the value without a waiting receiver is buffered');
});

test('trySend hands the value to a parked receiver synchronously', () => {
  const ch = new Chan<number>(2);
  const log: unknown[] = [];
  ch.addReceiver(recorder(log, 'r'));
  assert.ok(ch.trySend(7));
  assert.equal(log, [['r', 7]]);
  assert.is(ch.size, 0);
});

test('unbuffered: trySend fails with no receiver; send completes only when received', async () => {
  const ch = new Chan<number>();
  assert.not.ok(ch.trySend(1));
  assert.is(ch.tryRecv(), EMPTY);
  const s = ch.send(2);
  assert.is(await state(s), 'pending');
  assert.is(ch.size, 0);
  assert.is(ch.tryRecv(), 2);
  assert.is(await state(s), 'fulfilled');
  const r = ch.recv();
  assert.ok(ch.trySend(3));
  assert.is(await got(r), 3);
});

test('unbuffered: parked senders are taken FIFO', async () => {
  const ch = new Chan<number>();
  const sends = [ch.send(1), ch.send(2), ch.send(3)];
  assert.equal([await got(ch.recv()), ch.tryRecv(), await ch.recv()], [1, 2, 3]);
  for (const s of sends) assert.is(await state(s), 'fulfilled');
});

test('values may be undefined', async () => {
  const ch = new Chan<undefined>(1);
  assert.ok(ch.trySend(undefined));
  assert.is(ch.tryRecv(), undefined);
  assert.is(ch.tryRecv(), EMPTY);
  const r = ch.recv();
  ch.trySend(undefined);
  assert.is(await got(r), undefined);
});

test('close wakes parked receivers with CLOSED', async () => {
  const ch = new Chan<number>();
  const r1 = ch.recv();
  const r2 = ch.recv();
  ch.close();
  assert.is(await got(r1), CLOSED);
  assert.is(await got(r2), CLOSED);
  assert.is(ch.waitingReceivers, 0);
  assert.is(await got(ch.recv()), CLOSED);
});

test('close rejects parked senders with ChanClosedError', async () => {
  const ch = new Chan<number>(1);
  ch.trySend(1);
  const s = ch.send(2);
  ch.close();
  const result = await settle(s);
  assert.is(result.state, 'rejected');
  const error = result.state === 'rejected' ? result.error : undefined;
  assert.instance(error, ChanClosedError);
  assert.is((error as ChanClosedError).code, 'PRX_ERR_CHAN_CLOSED');
  assert.is(ch.waitingSenders, 0);
  assert.is(ch.tryRecv(), 1, 'the value buffered before close still drains');
  assert.is(ch.tryRecv(), CLOSED, 'the rejected value was not delivered');
});

test('close drains the buffer before reporting CLOSED', async () => {
  const ch = new Chan<number>(3);
  ch.trySend(1);
  ch.trySend(2);
  ch.close();
  assert.ok(ch.closed);
  assert.is(ch.tryRecv(), 1);
  assert.is(await got(ch.recv()), 2);
  assert.is(ch.tryRecv(), CLOSED);
  assert.is(await got(ch.recv()), CLOSED);
});

test('sending on a closed channel: trySend throws, send rejects', async () => {
  const ch = new Chan<number>(1);
  ch.close();
  assert.throws(() => ch.trySend(1), (e: unknown) => e instanceof ChanClosedError);
  assert.is(await state(ch.send(1)), 'rejected');
  assert.not.ok(ch.canSend());
  assert.is(ch.size, 0);
});

test('double close throws', () => {
  const ch = new Chan<number>();
  ch.close();
  assert.throws(() => ch.close(), (e: unknown) => e instanceof ChanClosedError);
});

test('removeReceiver: a removed receiver is never woken, the rest keep FIFO order', () => {
  const ch = new Chan<number>();
  const log: unknown[] = [];
  const a = recorder<number>(log, 'a');
  const b = recorder<number>(log, 'b');
  const c = recorder<number>(log, 'c');
  ch.addReceiver(a);
  ch.addReceiver(b);
  ch.addReceiver(c);
  assert.ok(ch.removeReceiver(b));
  assert.not.ok(ch.removeReceiver(b));
  ch.trySend(1);
  ch.trySend(2);
  assert.not.ok(ch.trySend(3), 'no receiver left');
  assert.equal(log, [
    ['a', 1],
    ['c', 2],
  ]);
});

test('removeSender: a removed sender is never taken nor told', () => {
  const ch = new Chan<string>();
  const log: unknown[] = [];
  const sender = (value: string): Sender<string> => ({ value, sent: (ok) => log.push([value, ok]) });
  const a = sender('a');
  const b = sender('b');
  ch.addSender(a);
  ch.addSender(b);
  assert.ok(ch.removeSender(a));
  assert.not.ok(ch.removeSender(a));
  assert.is(ch.tryRecv(), 'b');
  assert.is(ch.tryRecv(), EMPTY);
  assert.equal(log, [['b', true]]);
});

test('addReceiver/addSender refuse to park when the operation could proceed', () => {
  const buffered = new Chan<number>(1);
  buffered.trySend(1);
  assert.throws(() => buffered.addReceiver(recorder([], 'r')), /tryRecv first/);
  const empty = new Chan<number>(1);
  assert.throws(() => empty.addSender({ value: 1, sent: () => {} }), /trySend first/);
  const closed = new Chan<number>();
  closed.close();
  assert.throws(() => closed.addReceiver(recorder([], 'r')), /tryRecv first/);
  assert.throws(() => closed.addSender({ value: 1, sent: () => {} }), (e: unknown) => e instanceof ChanClosedError);
});

test('a throwing waiter does not stop close from waking the others', () => {
  const ch = new Chan<number>();
  const log: unknown[] = [];
  ch.addReceiver({
    receive: () => {
      throw new Error('boom');
    },
  });
  ch.addReceiver(recorder(log, 'b'));
  assert.throws(() => ch.close(), /boom/);
  assert.equal(log, [['b', CLOSED]]);
  assert.is(ch.waitingReceivers, 0);
});

// ---- Property: the channel behaves like a queue + capacity + FIFO parked lists ----

type Cmd = 'trySend' | 'send' | 'tryRecv' | 'recv' | 'close';

const cmdArb = fc.oneof(
  { arbitrary: fc.constantFrom<Cmd>('trySend', 'send', 'tryRecv', 'recv'), weight: 16 },
  { arbitrary: fc.constant<Cmd>('close'), weight: 1 },
);

class Model {
  readonly buf: number[] = [];
  readonly parkedSend: { value: number; step: number }[] = [];
  readonly parkedRecv: number[] = [];
  closed = false;
  constructor(
    readonly capacity: number,
    readonly outcomes: unknown[],
  ) {}

  trySend(value: number): boolean | 'throws' {
    if (this.closed) return 'throws';
    const r = this.parkedRecv.shift();
    if (r !== undefined) {
      this.outcomes[r] = value;
      return true;
    }
    if (this.buf.length < this.capacity) {
      this.buf.push(value);
      return true;
    }
    return false;
  }

  tryRecv(): number | typeof EMPTY | typeof CLOSED {
    const head = this.buf.shift();
    if (head !== undefined) {
      const s = this.parkedSend.shift();
      if (s !== undefined) {
        this.buf.push(s.value);
        this.outcomes[s.step] = 'fulfilled';
      }
      return head;
    }
    const s = this.parkedSend.shift();
    if (s !== undefined) {
      this.outcomes[s.step] = 'fulfilled';
      return s.value;
    }
    return this.closed ? CLOSED : EMPTY;
  }

  close(): 'ok' | 'throws' {
    if (this.closed) return 'throws';
    this.closed = true;
    for (const r of this.parkedRecv.splice(0)) this.outcomes[r] = CLOSED;
    for (const s of this.parkedSend.splice(0)) this.outcomes[s.step] = 'rejected';
    return 'ok';
  }
}

function attempt<R>(fn: () => R): R | 'throws' {
  try {
    return fn();
  } catch {
    return 'throws';
  }
}

test('property: matches the queue model; values arrive in send order, none lost or duplicated', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 4 }), fc.array(cmdArb, { maxLength: 60 }), async (capacity, cmds) => {
      const ch = new Chan<number>(capacity);
      const expected: unknown[] = [];
      const actual: unknown[] = [];
      const model = new Model(capacity, expected);
      const accepted = new Set<number>(); // values whose send succeeded
      const received: { step: number; value: number }[] = [];
      let nextValue = 0;

      cmds.forEach((cmd, step) => {
        switch (cmd) {
          case 'trySend': {
            const value = nextValue++;
            expected[step] = model.trySend(value);
            actual[step] = attempt(() => ch.trySend(value));
            if (actual[step] === true) accepted.add(value);
            break;
          }
          case 'send': {
            const value = nextValue++;
            const now = model.trySend(value);
            if (now === 'throws') expected[step] = 'rejected';
            else if (now) expected[step] = 'fulfilled';
            else {
              expected[step] = 'pending';
              model.parkedSend.push({ value, step });
            }
            actual[step] = 'pending';
            ch.send(value).then(
              () => {
                actual[step] = 'fulfilled';
                accepted.add(value);
              },
              () => (actual[step] = 'rejected'),
            );
            break;
          }
          case 'tryRecv': {
            expected[step] = model.tryRecv();
            const v = ch.tryRecv();
            actual[step] = v;
            if (typeof v === 'number') received.push({ step, value: v });
            break;
          }
          case 'recv': {
            const now = model.tryRecv();
            if (now === EMPTY) {
              expected[step] = 'pending';
              model.parkedRecv.push(step);
            } else expected[step] = now;
            actual[step] = 'pending';
            void ch.recv().then((v) => {
              actual[step] = v;
              if (typeof v === 'number') received.push({ step, value: v });
            });
            break;
          }
          case 'close':
            expected[step] = model.close();
            actual[step] = attempt(() => {
              ch.close();
              return 'ok';
            });
            break;
        }
      });
      await new Promise((resolve) => setImmediate(resolve));

      assert.equal(actual, expected);
      assert.is(ch.size, model.buf.length);
      assert.is(ch.waitingSenders, model.parkedSend.length);
      assert.is(ch.waitingReceivers, model.parkedRecv.length);

      // Model-independent: what was taken (in command order), then what is left, is exactly the
      // accepted values in send order: strictly increasing, nothing lost or duplicated.
      received.sort((a, b) => a.step - b.step);
      const delivered = received.map((r) => r.value);
      for (let v = ch.tryRecv(); typeof v === 'number'; v = ch.tryRecv()) delivered.push(v);
      await new Promise((resolve) => setImmediate(resolve)); // drained parked senders now count as accepted
      assert.equal(
        delivered,
        [...accepted].sort((a, b) => a - b),
      );
    }),
    { numRuns: 300 },
  );
});

test.run();
