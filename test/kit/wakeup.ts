// The one waiter of a socket reader (StreamReader, RawClient): woken by the next data, end or close.

export class Wakeup {
  private wake: (() => void) | null = null;

  /** Wakes the waiter, if there is one. */
  notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /** Resolves at the next notify(); rejects once `deadline` (Date.now() time) has passed. */
  wait(deadline: number, what: string): Promise<void> {
    const left = deadline - Date.now();
    if (left <= 0) return Promise.reject(new Error(`timed out waiting for ${what}`));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.wake = null;
        reject(new Error(`timed out waiting for ${what}`));
      }, left);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
