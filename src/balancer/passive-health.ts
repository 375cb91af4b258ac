/**
 * Passive health of one backend: `failuresToEject` backend failures in a row (refused, timed out,
 * malformed or cut-short responses; not client aborts) eject it, and after `cooldownMs` it returns
 * on probation: one more failure ejects it again at once, a success makes it healthy.
 *
 * Decisions only: the worker tells the balancer and the log about each change.
 */
export interface HealthOptions {
  failuresToEject: number;
  cooldownMs: number;
}

export class PassiveHealth {
  readonly options: HealthOptions;
  /** Out of rotation until `returnAt` (clock ms). */
  ejected = false;
  failuresInARow = 0;
  private returnAt = 0;

  constructor(options: HealthOptions) {
    this.options = options;
  }

  succeeded(): void {
    this.failuresInARow = 0;
  }

  /** A backend failure at `now`; true when it ejects the backend. */
  failed(now: number): boolean {
    if (++this.failuresInARow < this.options.failuresToEject || this.ejected) return false;
    this.ejected = true;
    this.returnAt = now + this.options.cooldownMs;
    return true;
  }

  /** The clock's sweep; true when the cool-down is over and the backend returns (on probation). */
  sweep(now: number): boolean {
    if (!this.ejected || now < this.returnAt) return false;
    this.ejected = false;
    this.failuresInARow = this.options.failuresToEject - 1;
    return true;
  }
}
