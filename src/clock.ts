/**
 * One coarse clock for every timeout the proxy keeps (as undici's timers.js): `now` is
 * performance.now(), read once per tick, and the tick runs one sweep, which checks every timeout.
 * A timeout is kept by noting `clock.now` when something happens and comparing in the sweep, so it
 * fires within one tick of its length, and the hot path reads a number instead of the time or
 * arming a timer per socket. `now` may be up to a tick old when noted, so such a timeout may also
 * fire up to a tick early; where that must not happen (a backend's response wait: a 504 never
 * before --response-timeout) the start is noted with performance.now() instead.
 *
 * The tick is a quarter of the shortest timeout in use, between 10 ms and 1 s; a reload that changes
 * the timeouts retunes it.
 */

/** The timeout classes: each bounds one kind of wait, in ms (the options give their lengths). */
export interface Timeouts {
  /** A backend's TCP connect. */
  connect: number;
  /** A backend silent after a request, or mid-response; a client that reads none of its response. */
  response: number;
  /** An idle pooled backend socket. */
  backendIdle: number;
  /** A client's request head, once begun. */
  header: number;
  /** An idle client connection. */
  keepAlive: number;
  /** A TCP-mode connection with no bytes either way. */
  tcpIdle: number;
  /** A closing client connection that still sends (lingering close). */
  linger: number;
  /** An ejected backend out of rotation. */
  ejectCooldown: number;
  /** The shortest interval or timeout of an active health check (Infinity: no checks). */
  healthCheck: number;
  /** The shortest time between two lookups of a `dns:` backend's name (Infinity: none). */
  dns: number;
}

const MIN_TICK_MS = 10;
const MAX_TICK_MS = 1000;

/** A quarter of the shortest timeout, between 10 ms and 1 s. */
export function tickFor(timeouts: Timeouts): number {
  const shortest = Math.min(...Object.values(timeouts));
  return Math.max(MIN_TICK_MS, Math.min(MAX_TICK_MS, Math.floor(shortest / 4)));
}

export class Clock {
  /** Milliseconds (performance.now()) as of the last tick: what every timeout compares against. */
  now = performance.now();
  private tickMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly sweep: (now: number) => void;

  constructor(sweep: (now: number) => void) {
    this.sweep = sweep;
  }

  get tick(): number {
    return this.tickMs;
  }

  /** Starts ticking for `timeouts`, or retunes a running clock when the shortest one changed. */
  tune(timeouts: Timeouts): void {
    const tickMs = tickFor(timeouts);
    if (tickMs === this.tickMs && this.timer !== null) return;
    this.tickMs = tickMs;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = setInterval(this.onTick, tickMs).unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private readonly onTick = (): void => {
    this.now = performance.now();
    this.sweep(this.now);
  };
}
