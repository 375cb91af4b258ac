import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CLOSED, Chan, EMPTY } from '../../../src/csp/chan.js';
import { Select } from '../../../src/csp/select.js';
import { got } from '../../kit/settle.js';

type Fired = [index: number, value: unknown];

function collector(): { fired: Fired[]; onReady: (index: number, value: unknown) => void } {
  const fired: Fired[] = [];
  return { fired, onReady: (index, value) => fired.push([index, value]) };
}

test('a ready case runs synchronously inside once', () => {
  const a = new Chan<string>(1);
  const b = new Chan<string>(1);
  b.trySend('b1');
  const sel = new Select().recv(a).recv(b);
  const { fired, onReady } = collector();
  sel.once(onReady);
  assert.equal(fired, [[1, 'b1']]);
  assert.not.ok(sel.parked);
  assert.is(a.waitingReceivers, 0);
});

test('parks on every case; the first to become ready wins and the others are un-parked', () => {
  const a = new Chan<string>();
  const b = new Chan<string>();
  const sel = new Select().recv(a).recv(b);
  const { fired, onReady } = collector();
  sel.once(onReady);
  assert.ok(sel.parked);
  assert.equal(fired, []);
  assert.is(a.waitingReceivers, 1);
  assert.is(b.waitingReceivers, 1);

  assert.ok(b.trySend('b1'));
  assert.equal(fired, [[1, 'b1']]);
  assert.not.ok(sel.parked);
  assert.is(a.waitingReceivers, 0);
  // The select no longer listens on a: a value sent there is not consumed.
  assert.not.ok(a.trySend('a1'), 'unbuffered a has no receiver left');
  const buffered = new Chan<string>(1);
  const sel2 = new Select().recv(buffered).recv(b);
  sel2.once(onReady);
  b.trySend('b2');
  assert.ok(buffered.trySend('x'));
  assert.is(buffered.size, 1);
  assert.is(buffered.tryRecv(), 'x');
  assert.equal(fired, [
    [1, 'b1'],
    [1, 'b2'],
  ]);
});

test('onReady fires exactly once even if several channels become ready', () => {
  const a = new Chan<number>(1);
  const b = new Chan<number>(1);
  const sel = new Select().recv(a).recv(b);
  const { fired, onReady } = collector();
  sel.once(onReady);
  a.trySend(1);
  b.trySend(2);
  a.trySend(3);
  assert.equal(fired, [[0, 1]]);
  assert.is(b.size, 1);
  assert.is(a.size, 1);
});

test('once while parked throws; poll and next too', async () => {
  const sel = new Select().recv(new Chan<number>());
  sel.once(() => {});
  assert.throws(() => sel.once(() => {}), /already parked/);
  assert.throws(() => sel.poll(), /already parked/);
  await sel.next().then(
    () => assert.unreachable(),
    (e: unknown) => assert.match(String(e), /already parked/),
  );
});

test('park after a poll that found nothing: parks on every case without polling, and throws when parked', () => {
  const a = new Chan<string>(1);
  const b = new Chan<string>(1);
  const sel = new Select().recv(a).recv(b);
  assert.is(sel.poll(), -1);
  const { fired, onReady } = collector();
  sel.park(onReady);
  assert.ok(sel.parked);
  assert.is(a.waitingReceivers, 1);
  assert.is(b.waitingReceivers, 1);
  assert.throws(() => sel.park(onReady), /already parked/);
  assert.ok(b.trySend('b1'));
  assert.equal(fired, [[1, 'b1']]);
  assert.is(a.waitingReceivers, 0);
  assert.not.ok(sel.parked);
});

test('onReady may call once again (the dispatch loop pattern)', () => {
  const work = new Chan<number>(8);
  const done = new Chan<string>(8);
  const sel = new Select().recv(work).recv(done);
  const seen: unknown[] = [];
  const loop = (index: number, value: unknown): void => {
    seen.push([index, value]);
    sel.once(loop);
  };
  sel.once(loop);
  for (let i = 0; i < 5; i++) {
    work.trySend(i);
    done.trySend(`d${i}`);
  }
  assert.equal(seen, [
    [0, 0],
    [1, 'd0'],
    [0, 1],
    [1, 'd1'],
    [0, 2],
    [1, 'd2'],
    [0, 3],
    [1, 'd3'],
    [0, 4],
    [1, 'd4'],
  ]);
  assert.ok(sel.parked);
  assert.is(work.size + done.size, 0, 'every value was delivered once');
});

test('fairness: two always-ready channels are both picked a fair share', () => {
  const a = new Chan<string>(4);
  const b = new Chan<string>(4);
  const sel = new Select().recv(a).recv(b);
  const counts = [0, 0];
  const onReady = (index: number): void => {
    counts[index]!++;
  };
  for (let i = 0; i < 1000; i++) {
    while (a.trySend('a'));
    while (b.trySend('b'));
    sel.once(onReady);
  }
  assert.ok(counts[0]! >= 400 && counts[1]! >= 400, `counts ${counts}`);
});

test('fairness with three cases: no ready case is starved', () => {
  const chans = [new Chan<number>(2), new Chan<number>(2), new Chan<number>(2)];
  const sel = new Select().recv(chans[0]!).recv(chans[1]!).recv(chans[2]!);
  const counts = [0, 0, 0];
  for (let i = 0; i < 900; i++) {
    while (chans[0]!.trySend(0));
    while (chans[2]!.trySend(2));
    const index = sel.poll();
    counts[index]!++;
  }
  assert.equal(counts, [450, 0, 450]);
});

test('fairness: a case chosen by a parked wake-up also goes to the back of the turn', () => {
  const a = new Chan<number>(2);
  const b = new Chan<number>(2);
  const sel = new Select().recv(a).recv(b);
  const { fired, onReady } = collector();
  sel.once(onReady);
  a.trySend(1);
  a.trySend(2);
  b.trySend(3);
  sel.once(onReady);
  assert.equal(fired, [
    [0, 1],
    [1, 3],
  ]);
});

test('poll returns -1 when nothing is ready and the index and value when something is', () => {
  const a = new Chan<number>(1);
  const b = new Chan<number>(1);
  const sel = new Select().recv(a).recv(b);
  assert.is(sel.poll(), -1);
  assert.not.ok(sel.parked);
  b.trySend(9);
  assert.is(sel.poll(), 1);
  assert.is(sel.value, 9);
  assert.is(b.size, 0);
  assert.is(sel.poll(), -1);
});

test('select on a closed channel: ready with CLOSED, parked receivers woken with CLOSED', () => {
  const a = new Chan<number>();
  const b = new Chan<number>();
  const sel = new Select().recv(a).recv(b);
  const { fired, onReady } = collector();
  sel.once(onReady);
  b.close();
  assert.equal(fired, [[1, CLOSED]]);
  assert.is(a.waitingReceivers, 0);
  sel.once(onReady);
  assert.equal(fired[1], [1, CLOSED], 'a closed channel stays ready');
});

test('select drains a closed channel before reporting CLOSED', () => {
  const a = new Chan<number>(2);
  a.trySend(1);
  a.close();
  const sel = new Select().recv(a);
  assert.is(sel.poll(), 0);
  assert.is(sel.value, 1);
  assert.is(sel.poll(), 0);
  assert.is(sel.value, CLOSED);
});

test('next: promise form resolves with the first ready case', async () => {
  const a = new Chan<number>();
  const b = new Chan<number>();
  const sel = new Select().recv(a).recv(b);
  const p = sel.next();
  a.trySend(5);
  assert.equal(await got(p), { index: 0, value: 5 });
  assert.is(b.waitingReceivers, 0);
  assert.not.ok(b.trySend(6), 'b was un-parked');
});

test('cancel un-parks without consuming anything', () => {
  const a = new Chan<number>();
  const sel = new Select().recv(a);
  const { fired, onReady } = collector();
  assert.not.ok(sel.cancel());
  sel.once(onReady);
  assert.ok(sel.cancel());
  assert.not.ok(sel.parked);
  assert.is(a.waitingReceivers, 0);
  assert.not.ok(a.trySend(1));
  assert.equal(fired, []);
});

test('send case: ready when a receiver waits or the buffer has room; thunk evaluated only when chosen', () => {
  const out = new Chan<string>(1);
  const other = new Chan<number>(1);
  let evaluated = 0;
  const sel = new Select().send(out, () => `v${evaluated++}`).recv(other);
  const { fired, onReady } = collector();
  sel.once(onReady);
  assert.equal(fired, [[0, undefined]]);
  assert.is(out.tryRecv(), 'v0');

  out.trySend('full');
  other.trySend(1);
  sel.once(onReady); // out is full: the receive case wins, the thunk is not run
  assert.equal(fired[1], [1, 1]);
  assert.is(evaluated, 1);
});

test('send case: parks, and completes when a receiver takes the value', async () => {
  const out = new Chan<string>();
  const inbox = new Chan<number>();
  let evaluated = 0;
  const sel = new Select().send(out, () => `v${evaluated++}`).recv(inbox);
  const { fired, onReady } = collector();
  sel.once(onReady);
  assert.ok(sel.parked);
  assert.is(out.waitingSenders, 1);
  assert.is(evaluated, 0, 'not evaluated while parked');
  assert.is(await got(out.recv()), 'v0');
  assert.equal(fired, [[0, undefined]]);
  assert.is(inbox.waitingReceivers, 0);

  // Now the receive case wins: the parked sender is withdrawn unevaluated.
  sel.once(onReady);
  inbox.trySend(3);
  assert.equal(fired[1], [1, 3]);
  assert.is(out.waitingSenders, 0);
  assert.is(out.tryRecv(), EMPTY);
  assert.is(evaluated, 1);
});

test('send case on a closed channel reports CLOSED, parked or not', () => {
  const out = new Chan<number>();
  const sel = new Select().send(out, () => 1);
  const { fired, onReady } = collector();
  sel.once(onReady);
  out.close();
  assert.equal(fired, [[0, CLOSED]]);
  sel.once(onReady);
  assert.equal(fired[1], [0, CLOSED]);
});

test('a failed park leaves nothing parked', () => {
  const ch = new Chan<number>();
  const sel = new Select().recv(ch).send(ch, () => 1);
  assert.throws(() => sel.once(() => {}), /trySend first/);
  assert.not.ok(sel.parked);
  assert.is(ch.waitingReceivers, 0);
});

test.run();
