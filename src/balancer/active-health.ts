/**
 * Active health checks: each backend checked on its own schedule, once however many pools share
 * it (with the same check). A backend in service that fails `fall` checks in a row goes down (out of
 * rotation in every pool); one that is down comes back after `rise` passes in a row. Defaults as
 * HAProxy's: every 2 s, rise 2, fall 3. Passive health (passive-health.ts) goes on beside it: a
 * backend is in rotation when neither takes it out.
 *
 * Checks run on the proxy's clock: the server's sweep starts those due and fails those past their
 * timeout. Each interval is moved at random by up to `jitter` percent, so checks do not march in step.
 */
import { probe, type ProbeSpec } from '../backend/health-probe.js';
import type { EventLog } from '../log/event-log.js';
import type { Address, PoolSettings, ProxyOptions } from '../options/options.js';
import type { SendProxy } from '../options/vocabulary.js';

export interface CheckOptions {
  type: 'http' | 'tcp';
  method: string;
  path: string;
  /** The Host of an HTTP check; null: the backend's `host:port`. */
  hostHeader: string | null;
  expect: readonly (readonly [number, number])[];
  intervalMs: number;
  timeoutMs: number;
  rise: number;
  fall: number;
  /** Percent of the interval. */
  jitter: number;
  /** The pool's send_proxy: a check's connection begins with a LOCAL (v2) or UNKNOWN (v1) header. */
  sendProxy: SendProxy;
}

/** The check a pool's settings give (`health_check`), or null when its type is `off`. */
export function checkOptionsOf(s: PoolSettings): CheckOptions | null {
  if (s.healthCheck === 'off') return null;
  return {
    type: s.healthCheck,
    method: s.healthCheckMethod,
    path: s.healthCheckPath,
    hostHeader: s.healthCheckHost,
    expect: s.healthCheckExpect,
    intervalMs: s.healthCheckIntervalMs,
    timeoutMs: s.healthCheckTimeoutMs,
    rise: s.healthCheckRise,
    fall: s.healthCheckFall,
    jitter: s.healthCheckJitter,
    sendProxy: s.sendProxy,
  };
}

/** A check's state as the primary process sends it to worker processes (which run no probes). */
export interface CheckVerdict {
  key: string;
  up: boolean;
  lastOk: boolean;
  lastWhy: string;
  /** How long before sending the last check ended (-1: none yet). */
  agoMs: number;
}

/** What a check tells about its backend going down or coming back. */
export interface CheckSubscriber {
  checkChanged(check: ActiveCheck): void;
}

export class ActiveCheck {
  readonly key: string;
  readonly address: string;
  /** In service, as far as the checks say. */
  up = true;
  /** The last check: passed or not, why, and when it ended (clock ms; -1 before the first). */
  lastOk = true;
  lastWhy = '';
  lastAt = -1;
  private readonly spec: ProbeSpec;
  private readonly options: CheckOptions;
  private readonly log: EventLog | null;
  private readonly subscribers = new Set<CheckSubscriber>();
  /** Told after every check (the primary process forwards it); null: nobody. */
  private readonly onResult: ((check: ActiveCheck) => void) | null;
  private inARow = 0;
  private nextAt: number;
  private startedAt = -1;
  private cancel: (() => void) | null = null;

  constructor(key: string, target: CheckTarget, options: CheckOptions, now: number, log: EventLog | null,
    onResult: ((check: ActiveCheck) => void) | null = null) {
    this.key = key;
    this.onResult = onResult;
    this.address = `${target.host}:${target.port}`;
    this.options = options;
    this.log = log;
    this.spec = {
      type: options.type, host: target.host, port: target.port, tls: target.tls, method: options.method, path: options.path,
      hostHeader: options.hostHeader ?? this.address, expect: options.expect, sendProxy: options.sendProxy,
    };
    // The first check at a random point of the first interval: checks of many backends spread out.
    this.nextAt = now + Math.random() * options.intervalMs;
  }

  get subscribed(): number {
    return this.subscribers.size;
  }

  subscribe(s: CheckSubscriber): void {
    this.subscribers.add(s);
  }

  unsubscribe(s: CheckSubscriber): void {
    this.subscribers.delete(s);
  }

  /** The clock's sweep: start a check that is due; fail one past its timeout. */
  sweep(now: number): void {
    if (this.cancel !== null) {
      if (now - this.startedAt >= this.options.timeoutMs) {
        this.cancel();
        this.finished(false, `no answer within ${this.options.timeoutMs} ms`, now);
      }
      return;
    }
    if (now < this.nextAt) return;
    this.startedAt = now;
    this.cancel = probe(this.spec, (ok, why) => this.finished(ok, why, performance.now()));
  }

  stop(): void {
    this.cancel?.();
    this.cancel = null;
  }

  verdict(now: number): CheckVerdict {
    return { key: this.key, up: this.up, lastOk: this.lastOk, lastWhy: this.lastWhy, agoMs: this.lastAt < 0 ? -1 : now - this.lastAt };
  }

  /** Takes the state a check elsewhere reached (a worker process runs no probes of its own). */
  apply(v: CheckVerdict, now: number): void {
    this.lastOk = v.lastOk;
    this.lastWhy = v.lastWhy;
    this.lastAt = v.agoMs < 0 ? -1 : now - v.agoMs;
    if (v.up === this.up) return;
    this.up = v.up;
    for (const s of this.subscribers) s.checkChanged(this);
  }

  private finished(ok: boolean, why: string, now: number): void {
    this.cancel = null;
    this.lastOk = ok;
    this.lastWhy = why;
    this.lastAt = now;
    const { intervalMs, jitter } = this.options;
    this.nextAt = now + intervalMs * (1 + ((Math.random() * 2 - 1) * jitter) / 100);
    // Counts passes while down and failures while up: what it takes to change state.
    this.inARow = ok !== this.up ? this.inARow + 1 : 0;
    if (this.up && this.inARow >= this.options.fall) this.change(false, why);
    else if (!this.up && this.inARow >= this.options.rise) this.change(true, why);
    this.onResult?.(this);
  }

  private change(up: boolean, why: string): void {
    this.up = up;
    this.inARow = 0;
    if (up) this.log?.info('backend_up', `backend ${this.address} passed ${this.options.rise} health checks: back in rotation`, { backend: this.address });
    else this.log?.error('backend_down', `backend ${this.address} failed ${this.options.fall} health checks in a row (${why}): out of rotation`, { backend: this.address, reason: why });
    for (const s of this.subscribers) s.checkChanged(this);
  }
}

/** What a check connects to: a backend, over TLS for an https:// one (verified against `ca`, PEM; null: the system CAs). */
export interface CheckTarget {
  host: string;
  port: number;
  tls: { ca: string | null } | null;
}

export function checkTargetOf(backend: Address, settings: Pick<PoolSettings & ProxyOptions, 'backendCa'>): CheckTarget {
  return { host: backend.host, port: backend.port, tls: backend.https === true ? { ca: settings.backendCa?.pem ?? null } : null };
}

/** A check's identity: the same backend with the same check, in every process. */
export const checkKey = (target: CheckTarget, options: CheckOptions): string => JSON.stringify([target, options]);

/**
 * The checks of every backend, one per backend and check definition, shared by the pools that use
 * them. In a worker process (`remote`), the checks run no probes: the primary's verdicts come in
 * through apply(), so each backend is checked once however many worker processes there are.
 */
export class HealthChecks {
  private readonly checks = new Map<string, ActiveCheck>();
  private readonly log: EventLog | null;
  private readonly remote: boolean;
  private readonly onResult: ((check: ActiveCheck) => void) | null;
  /** The latest verdict for each key, kept for a check a reload makes later (remote only). */
  private readonly verdicts = new Map<string, CheckVerdict>();

  constructor(log: EventLog | null, options: { remote?: boolean; onResult?: (check: ActiveCheck) => void } = {}) {
    this.log = log;
    this.remote = options.remote ?? false;
    this.onResult = options.onResult ?? null;
  }

  /** The check of `host:port` with `options`, made the first time it is asked for. */
  checkOf(target: CheckTarget, options: CheckOptions, now: number): ActiveCheck {
    const key = checkKey(target, options);
    let check = this.checks.get(key);
    if (check === undefined) {
      check = new ActiveCheck(key, target, options, now, this.remote ? null : this.log, this.onResult);
      this.checks.set(key, check);
      const known = this.verdicts.get(key);
      if (known !== undefined) check.apply(known, now);
    }
    return check;
  }

  /** Every check's state now (the primary sends these to a worker process that starts). */
  states(now: number): CheckVerdict[] {
    return [...this.checks.values()].map((c) => c.verdict(now));
  }

  /** A verdict from the primary. */
  apply(v: CheckVerdict, now: number): void {
    this.verdicts.set(v.key, v);
    this.checks.get(v.key)?.apply(v, now);
  }

  /** The clock's sweep; a check no pool uses any more stops. */
  sweep(now: number): void {
    for (const [key, check] of this.checks) {
      if (check.subscribed === 0) {
        check.stop();
        this.checks.delete(key);
        this.verdicts.delete(key);
        continue;
      }
      if (!this.remote) check.sweep(now);
    }
  }

  stop(): void {
    for (const check of this.checks.values()) check.stop();
    this.checks.clear();
  }
}
