/*
 * Ring: a FIFO circular buffer over a power-of-two array.
 *
 * Invariants:
 *  - slots.length is a power of two and mask === slots.length - 1.
 *  - The live values are slots[(head + i) & mask] for 0 <= i < length; every other slot is undefined,
 *    so a value that left the ring is not retained by it.
 *  - push never fails: a full ring doubles (copying the values to the front of the new array). The
 *    channel buffer never reaches that point because Chan bounds its own size; the waiter queues do.
 */

/** Smallest power of two >= n (n >= 1). */
function ceilPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * `size` empty slots, allocated at their exact size. Not `new Array(size).fill(undefined)`: a ring is
 * made per request (response slots, body channels), and fill is a call into the runtime that cost
 * about 0.2 µs per request in the running proxy (make profile); nor pushes onto `[]`, which
 * over-allocates the backing store.
 */
function emptySlots<T>(size: number): (T | undefined)[] {
  const slots = new Array<T | undefined>(size);
  for (let i = 0; i < size; i++) slots[i] = undefined;
  return slots;
}

export class Ring<T> {
  #slots: (T | undefined)[];
  #mask: number;
  #head = 0;
  #length = 0;

  /** `capacity` is a hint (rounded up to a power of two); the ring grows when it is exceeded. */
  constructor(capacity = 8) {
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new RangeError(`Ring capacity must be a non-negative integer, got ${capacity}`);
    }
    const size = ceilPow2(Math.max(1, capacity));
    this.#slots = emptySlots<T>(size);
    this.#mask = size - 1;
  }

  get length(): number {
    return this.#length;
  }

  /** Slots currently allocated (a power of two). */
  get capacity(): number {
    return this.#slots.length;
  }

  push(value: T): void {
    if (this.#length === this.#slots.length) this.#grow();
    this.#slots[(this.#head + this.#length) & this.#mask] = value;
    this.#length++;
  }

  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const head = this.#head;
    const value = this.#slots[head];
    this.#slots[head] = undefined;
    this.#head = (head + 1) & this.#mask;
    this.#length--;
    return value;
  }

  peek(): T | undefined {
    return this.#length === 0 ? undefined : this.#slots[this.#head];
  }

  /** Removes the first occurrence of `value` (by identity), keeping the order of the rest. O(length). */
  remove(value: T): boolean {
    const slots = this.#slots;
    const mask = this.#mask;
    const head = this.#head;
    const length = this.#length;
    let i = 0;
    while (i < length && slots[(head + i) & mask] !== value) i++;
    if (i === length) return false;
    for (; i < length - 1; i++) slots[(head + i) & mask] = slots[(head + i + 1) & mask];
    slots[(head + length - 1) & mask] = undefined;
    this.#length = length - 1;
    return true;
  }

  clear(): void {
    for (let i = 0; i < this.#length; i++) this.#slots[(this.#head + i) & this.#mask] = undefined;
    this.#head = 0;
    this.#length = 0;
  }

  #grow(): void {
    const old = this.#slots;
    const size = old.length * 2;
    const slots = emptySlots<T>(size);
    for (let i = 0; i < this.#length; i++) slots[i] = old[(this.#head + i) & this.#mask];
    this.#slots = slots;
    this.#mask = size - 1;
    this.#head = 0;
  }
}
