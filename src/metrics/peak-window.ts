/**
 * The highest value of a gauge (a backend's pending requests) over the last second or so, for the
 * status page: a once-a-second sample of pending misses the bursts between samples. The request path
 * only compares and stores; the window rolls when it is read, so no timer runs. A read reports the
 * highest since the window before the one under way began: at least the last second, more when
 * nothing read it for a while (the status page reads it every second).
 */
export const PEAK_WINDOW_MS = 1000;

export class PeakWindow {
  /** The highest in the window under way, and in the one before it. */
  private current = 0;
  private previous = 0;
  private startedAt = -Infinity;

  /** The gauge rose to `value` (hot path). */
  note(value: number): void {
    if (value > this.current) this.current = value;
  }

  /** The peak over the last window and the one under way; `now` and `value`: the time (ms) and the gauge now. */
  read(now: number, value: number): number {
    if (now - this.startedAt >= PEAK_WINDOW_MS) {
      this.previous = this.current;
      this.current = value;
      this.startedAt = now;
    }
    return Math.max(this.previous, this.current, value);
  }
}
