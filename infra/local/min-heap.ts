/**
 * A binary min-heap, used for the timers of the local queue and scheduler: `peek`/`pop` return the
 * smallest item by `compare` (equal items in no set order). `push` and `pop` are O(log n).
 *
 * @typeParam T - the item type
 */
export class MinHeap<T> {
  private readonly items: T[] = [];

  /** @param compare - negative when `a` comes before `b`, as for `Array.prototype.sort`. */
  constructor(private readonly compare: (a: T, b: T) => number) {}

  /** The smallest item, left in the heap; undefined when empty. */
  peek(): T | undefined {
    return this.items[0];
  }

  /** Adds an item. */
  push(item: T): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent];
      if (p === undefined || this.compare(item, p) >= 0) break;
      items[i] = p;
      i = parent;
    }
    items[i] = item;
  }

  /** Removes and returns the smallest item; undefined when empty. */
  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      let smallestItem = last;
      const l = items[left];
      if (l !== undefined && this.compare(l, smallestItem) < 0) {
        smallest = left;
        smallestItem = l;
      }
      const r = items[right];
      if (r !== undefined && this.compare(r, smallestItem) < 0) {
        smallest = right;
        smallestItem = r;
      }
      if (smallest === i) break;
      items[i] = smallestItem;
      i = smallest;
    }
    items[i] = last;
    return top;
  }
}
