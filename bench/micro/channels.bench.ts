/*
 * How much does a message cost through Chan and Select, next to a plain array queue and a
 * promise-per-message queue? Every task moves N messages per call, so per-message rate = ops/s × N.
 */
import { Bench } from 'tinybench';
import { CLOSED, Chan, EMPTY } from '../../src/csp/chan.js';
import { Select } from '../../src/csp/select.js';

const N = 1000;

/** Keeps results observable so the loops are not optimised away; `| 0` keeps it a small integer (no heap numbers). */
let sink = 0;

function take(value: number | typeof EMPTY | typeof CLOSED): void {
  if (typeof value === 'number') sink = (sink + value) | 0;
}

/** Unbounded queue handing each message to an awaiting consumer through its own promise. */
class PromiseQueue<T> {
  readonly #items: T[] = [];
  #waiter: ((value: T) => void) | null = null;

  push(value: T): void {
    const waiter = this.#waiter;
    if (waiter === null) this.#items.push(value);
    else {
      this.#waiter = null;
      waiter(value);
    }
  }

  pop(): Promise<T> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift() as T);
    return new Promise((resolve) => (this.#waiter = resolve));
  }
}

export default async function channelsBench(): Promise<Bench> {
  const bench = new Bench({ name: 'channels', time: 500 });

  const buffered = new Chan<number>(1024);
  bench.add(`Chan trySend+tryRecv, cap 1024 (×${N})`, () => {
    for (let i = 0; i < N; i++) {
      buffered.trySend(i);
      take(buffered.tryRecv());
    }
  });

  const ready = new Chan<number>(1);
  bench.add(`Chan trySend + await recv(), value ready (×${N})`, async () => {
    for (let i = 0; i < N; i++) {
      ready.trySend(i);
      take(await ready.recv());
    }
  });

  const unbuffered = new Chan<number>();
  bench.add(`Chan await send()/recv(), unbuffered, 2 async loops (×${N})`, async () => {
    const consumer = (async () => {
      for (let i = 0; i < N; i++) take(await unbuffered.recv());
    })();
    for (let i = 0; i < N; i++) await unbuffered.send(i);
    await consumer;
  });

  const a = new Chan<number>(1);
  const b = new Chan<number>(1);
  const sel = new Select().recv(a).recv(b);
  const onReady = (index: number, value: unknown): void => {
    sink = (sink + index + (value as number)) | 0;
  };
  bench.add(`Select.once, 2 chans, case ready (×${N})`, () => {
    for (let i = 0; i < N; i++) {
      (i & 1 ? b : a).trySend(i);
      sel.once(onReady);
    }
  });

  const pa = new Chan<number>();
  const pb = new Chan<number>();
  const parked = new Select().recv(pa).recv(pb);
  bench.add(`Select.once parks, woken by trySend (×${N})`, () => {
    for (let i = 0; i < N; i++) {
      parked.once(onReady);
      (i & 1 ? pb : pa).trySend(i);
    }
  });

  const array: number[] = [];
  bench.add(`baseline: Array push+shift (×${N})`, () => {
    for (let i = 0; i < N; i++) {
      array.push(i);
      sink = (sink + (array.shift() as number)) | 0;
    }
  });

  const queue = new PromiseQueue<number>();
  bench.add(`baseline: promise-per-message queue, 2 async loops (×${N})`, async () => {
    const consumer = (async () => {
      for (let i = 0; i < N; i++) sink = (sink + (await queue.pop())) | 0;
    })();
    for (let i = 0; i < N; i++) {
      queue.push(i);
      await null;
    }
    await consumer;
  });

  await bench.run();
  return bench;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const bench = await channelsBench();
  console.table(bench.table());
}
