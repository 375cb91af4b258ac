// An indexed binary min-heap in the shape of Go's container/heap, over items that keep their own slot.
//
// Invariants (after every public method returns):
//   - for every slot i > 0: !less(items[i], items[(i - 1) >> 1])  (no child is less than its parent);
//   - for every slot i: items[i].heapIndex === i;
//   - an item that is not in the heap (popped, removed, never pushed) has heapIndex === -1;
//   - an item is in at most one heap at a time (not checked: its heapIndex would belong to both).
// Sifting moves a hole instead of swapping, so each step writes one slot. push/pop/fix/remove do not
// allocate; only the backing array grows. Indices read inside the sift loops are in range by
// construction, hence the non-null assertions.

export interface HeapItem {
  /** The item's slot, maintained by the heap; -1 when the item is not in a heap. */
  heapIndex: number;
}

export class Heap<T extends HeapItem> {
  readonly #items: T[] = [];
  readonly #less: (a: T, b: T) => boolean;

  constructor(less: (a: T, b: T) => boolean) {
    this.#less = less;
  }

  get length(): number {
    return this.#items.length;
  }

  /** The minimum, without removing it. */
  peek(): T | undefined {
    return this.#items[0];
  }

  /** Whether item sits in this heap (its heapIndex points at itself). */
  has(item: T): boolean {
    const i = item.heapIndex;
    return i >= 0 && i < this.#items.length && this.#items[i] === item;
  }

  push(item: T): void {
    if (this.has(item)) throw new Error('Heap.push: item is already in this heap');
    this.#items.push(item);
    this.#up(item, this.#items.length - 1);
  }

  /** Removes and returns the minimum. */
  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    if (top === undefined) return undefined;
    const last = items.pop()!;
    if (last !== top) this.#down(last, 0);
    top.heapIndex = -1;
    return top;
  }

  /** Removes item from wherever it sits; false if it is not in this heap. */
  remove(item: T): boolean {
    if (!this.has(item)) return false;
    const i = item.heapIndex;
    const last = this.#items.pop()!;
    if (last !== item) {
      // The last item fills the hole; it may belong above or below it.
      if (!this.#down(last, i)) this.#up(last, i);
    }
    item.heapIndex = -1;
    return true;
  }

  /** Restores order after item's key changed (Go's heap.Fix: down, else up). */
  fix(item: T): void {
    if (!this.has(item)) throw new Error('Heap.fix: item is not in this heap');
    const i = item.heapIndex;
    if (!this.#down(item, i)) this.#up(item, i);
  }

  /** The item in slot i (0 is the minimum; the rest are in heap order, not sorted). */
  at(i: number): T {
    const item = this.#items[i];
    if (item === undefined) throw new RangeError(`Heap.at: index ${i} out of range 0..${this.#items.length - 1}`);
    return item;
  }

  /** Places item at slot i or above it. */
  #up(item: T, i: number): void {
    const items = this.#items;
    const less = this.#less;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = items[p]!;
      if (!less(item, parent)) break;
      items[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    items[i] = item;
    item.heapIndex = i;
  }

  /** Places item at slot i or below it; true if it moved down. */
  #down(item: T, i: number): boolean {
    const items = this.#items;
    const less = this.#less;
    const n = items.length;
    const start = i;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      let child = items[c]!;
      if (c + 1 < n) {
        const right = items[c + 1]!;
        if (less(right, child)) {
          c++;
          child = right;
        }
      }
      if (!less(child, item)) break;
      items[i] = child;
      child.heapIndex = i;
      i = c;
    }
    items[i] = item;
    item.heapIndex = i;
    return i > start;
  }
}
