/**
 * Slow start: a backend back in service (health recovered, ejection over, added by a reload) takes
 * its weight linearly from 1% over `durationMs`, in steps of 1% or of the clock's tick (whose sweep
 * moves it), whichever is longer, so a cold backend (empty caches, unwarmed JIT, no pooled
 * connections) is not handed its full share at once. As HAProxy's
 * `slowstart`, it never applies when the proxy starts: only to a return.
 */
export class SlowStart {
  readonly durationMs: number;
  /** The configured weight (an operator may change it at run time). */
  weight: number;
  /** When the ramp began (clock ms); -1: not ramping. */
  private since = -1;

  constructor(durationMs: number, weight: number) {
    this.durationMs = durationMs;
    this.weight = weight;
  }

  get ramping(): boolean {
    return this.since >= 0;
  }

  /** The backend returned at `now` (nothing when slow start is off). */
  begin(now: number): void {
    if (this.durationMs > 0) this.since = now;
  }

  /** The effective weight at `now`: the configured one once the ramp is over. */
  weightAt(now: number): number {
    if (this.since < 0) return this.weight;
    const percent = Math.floor((100 * (now - this.since)) / this.durationMs);
    if (percent >= 100) {
      this.since = -1;
      return this.weight;
    }
    return (this.weight * Math.max(1, percent)) / 100;
  }
}
