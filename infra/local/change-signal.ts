/**
 * Lets loops that poll local state (drain, waiting for deliveries) sleep until something changed
 * instead of for a fixed interval.
 *
 * @example
 * const changed = new ChangeSignal();
 * // waiting side
 * while (!idle()) await changed.wait(100);
 * // changing side
 * changed.notify();
 */
export class ChangeSignal {
  private readonly waiters = new Set<() => void>();

  /** Resolves at the next `notify()`, or after `ms` milliseconds if none comes first. Never rejects. */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  /** Wakes every pending `wait`. */
  notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
