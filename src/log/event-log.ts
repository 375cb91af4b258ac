/**
 * The error log: what went wrong or changed, as JSON lines through pino — backend failures and
 * ejections, refused requests, reloads. Not per successful request (that is the access log), so it
 * costs nothing on the hot path; each event is one pino call behind its level check.
 *
 * Lines look like {"level":"warn","time":"2026-11-24T18:00:00.000Z","event":"backend_failed",...,"msg":"..."}.
 */
import { pino, type Logger } from 'pino';
import { LogDestination } from './log-destination.js';
import type { ProxyError } from '../errors.js';
import type { LogLevel, LogTarget } from '../options/vocabulary.js';

/**
 * One per proxy for its whole life: pools keep a reference across reloads, and a reload that changes
 * the level or destination calls `reconfigure`, which swaps what is behind it.
 */
export class EventLog {
  #level: LogLevel;
  #target: LogTarget;
  #dest: LogDestination | null;
  #logger: Logger;

  readonly #workerId: number | 'primary' | undefined;

  /** `workerId`: the worker process's id, which every line then carries; the primary's lines say `primary`. */
  constructor(level: LogLevel, target: LogTarget, workerId?: number | 'primary') {
    this.#level = level;
    this.#target = target;
    this.#workerId = workerId;
    [this.#dest, this.#logger] = open(level, target, workerId);
  }

  get level(): LogLevel {
    return this.#level;
  }

  /** From now on log at `level` to `target`; the old destination is flushed and closed. Throws (and changes nothing) if `target` cannot be opened. */
  reconfigure(level: LogLevel, target: LogTarget): Promise<void> {
    if (level === this.#level && target === this.#target) return Promise.resolve();
    const [dest, logger] = open(level, target, this.#workerId);
    const old = this.#dest;
    this.#level = level;
    this.#target = target;
    this.#dest = dest;
    this.#logger = logger;
    return old?.close() ?? Promise.resolve();
  }

  /** A request a backend could not answer (502, 504, a cut response). */
  backendFailed(backend: string, error: ProxyError): void {
    if (!this.#logger.isLevelEnabled('warn')) return;
    this.#logger.warn({ event: 'backend_failed', backend, code: error.code, status: error.status }, error.message);
  }

  backendEjected(backend: string, failures: number, cooldownMs: number): void {
    this.#logger.error({ event: 'backend_ejected', backend, failures, cooldown_ms: cooldownMs },
      `backend ${backend} taken out of rotation after ${failures} failures in a row`);
  }

  backendReturned(backend: string): void {
    this.#logger.info({ event: 'backend_returned', backend }, `backend ${backend} back in rotation after its cool-down`);
  }

  /** A request answered by the proxy itself with an error (4xx/5xx) before any backend was involved. */
  refused(client: string, refusal: ProxyError): void {
    if (!this.#logger.isLevelEnabled('info')) return;
    this.#logger.info({ event: 'request_refused', client, code: refusal.code, status: refusal.status, reason: refusal.message },
      `refused a request from ${client}: ${refusal.status} ${refusal.message}`);
  }

  info(event: string, message: string, fields: Record<string, unknown> = {}): void {
    this.#logger.info({ event, ...fields }, message);
  }

  warn(event: string, message: string, fields: Record<string, unknown> = {}): void {
    this.#logger.warn({ event, ...fields }, message);
  }

  error(event: string, message: string, fields: Record<string, unknown> = {}): void {
    this.#logger.error({ event, ...fields }, message);
  }

  /** Call right after a write: resolves when every line so far has been written (for benchmarks). */
  caughtUp(): Promise<void> {
    return this.#dest?.caughtUp() ?? Promise.resolve();
  }

  close(): Promise<void> {
    return this.#dest?.close() ?? Promise.resolve();
  }
}

/** A silent log opens nothing. */
function open(level: LogLevel, target: LogTarget, workerId: number | 'primary' | undefined): [LogDestination | null, Logger] {
  const options = {
    level,
    base: workerId === undefined ? undefined : { worker: workerId },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (level === 'silent') return [null, pino(options)];
  const dest = new LogDestination('error log', target);
  return [dest, pino(options, dest.stream)];
}
