/**
 * The primary's worker processes (node:cluster): N slots, each holding one process. A process that
 * dies is replaced in its slot, at once the first time and then with a backoff while it keeps dying
 * young, without touching the others. The primary talks to them through messages.ts: broadcasts,
 * questions every ready process answers (status, metrics, admin actions), and all-or-nothing reloads.
 */
import cluster, { type Worker as ProcessHandle } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { OpenError } from '../errors.js';
import type { EventLog } from '../log/event-log.js';
import type { DnsSet } from '../dns/discovery.js';
import type { CheckVerdict } from '../balancer/active-health.js';
import type { Address, ProxyOptions } from '../options/options.js';
import { isToPrimary, type ToPrimary, type ToWorker } from './messages.js';

/** A process that dies younger than this counts towards the backoff; one that lived longer resets it. */
const YOUNG_MS = 5_000;
const BACKOFF_FIRST_MS = 250;
const BACKOFF_MAX_MS = 30_000;
/** How long a question waits for every process's answer; those that have not answered are left out. */
const ANSWER_WAIT_MS = 2_000;
/** How long a reload waits for every process to apply it. */
const RELOAD_WAIT_MS = 15_000;

/**
 * How long to wait before starting a slot's process again, after `youngDeaths` deaths in a row each
 * within YOUNG_MS of its start: at once after the first, then 250 ms doubling up to 30 s, so a
 * process that cannot live (a bad backend address crashes nothing, but a bug might) does not spin.
 */
export function restartDelay(youngDeaths: number): number {
  return youngDeaths <= 1 ? 0 : Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (youngDeaths - 2));
}

interface Slot {
  id: number;
  process: ProcessHandle | null;
  ready: boolean;
  /** The options generation it was started or reloaded with. */
  generation: number;
  startedAt: number;
  restarts: number;
  youngDeaths: number;
  timer: NodeJS.Timeout | null;
}

interface Question {
  answers: Map<number, unknown>;
  waiting: Set<number>;
  done: () => void;
}

const ended = (code: number | null, signal: string | null): string => (signal !== null ? `killed by ${signal}` : `exited with code ${code}`);

export interface FleetEvents {
  /** Verdicts for a process that starts: every health check's state now. */
  verdicts(): CheckVerdict[];
  /** The DNS names' sets now, for a worker that starts. */
  dnsSets(): DnsSet[];
  /** Rate-limit tokens a process asks for: what to grant. */
  lease(limiter: string, client: string, want: number): { granted: number; retryAfter: number };
  /** Where deaths and replacements are logged. */
  log: EventLog;
}

export class Fleet {
  private readonly slots: Slot[];
  private options: ProxyOptions;
  private generation = 0;
  private readonly reusePort: boolean;
  private readonly events: FleetEvents;
  private stopping = false;
  private seq = 0;
  private readonly questions = new Map<number, Question>();
  private readonly reloads = new Map<number, { pending: Set<number>; errors: string[]; done: () => void }>();
  private exited: (() => void) | null = null;
  /**
   * One TLS session ticket key for every process, so a session resumes on whichever takes it. Node's
   * cluster shares the first worker's keys at listen, but a reload's new secure context would make
   * new ones per worker; and a reusePort listener is not shared through the primary at all.
   */
  private readonly ticketKeys = randomBytes(48);

  constructor(count: number, options: ProxyOptions, reusePort: boolean, events: FleetEvents) {
    this.options = options;
    this.reusePort = reusePort;
    this.events = events;
    this.slots = Array.from({ length: count }, (_, i) => ({
      id: i + 1, process: null, ready: false, generation: 0, startedAt: 0, restarts: 0, youngDeaths: 0, timer: null,
    }));
  }

  get readyCount(): number {
    return this.slots.filter((s) => s.ready).length;
  }

  get restarts(): number {
    return this.slots.reduce((a, s) => a + s.restarts, 0);
  }

  /** Starts every process; resolves with the first one's listening addresses, or rejects with why one could not start. */
  start(): Promise<Address[]> {
    return new Promise((resolve, reject) => {
      let left = this.slots.length;
      let addresses: Address[] = [];
      for (const slot of this.slots) {
        this.fork(slot, (msg) => {
          if (msg.t === 'failed') {
            reject(msg.open ? new OpenError(msg.message) : new Error(msg.message));
            return;
          }
          if (slot.id === 1) addresses = msg.addresses;
          if (--left === 0) resolve(addresses);
        });
      }
    });
  }

  /** The pid and restarts of each slot's process. */
  summaries(): { id: number; pid: number; restarts: number }[] {
    return this.slots.map((s) => ({ id: s.id, pid: s.process?.process.pid ?? 0, restarts: s.restarts }));
  }

  broadcast(msg: ToWorker): void {
    for (const slot of this.slots) if (slot.ready) slot.process?.send(msg);
  }

  /** Asks every ready process; resolves with the answers by slot id (those that answered in time). */
  ask(make: (seq: number) => ToWorker): Promise<Map<number, unknown>> {
    const seq = ++this.seq;
    const ready = this.slots.filter((s) => s.ready && s.process !== null);
    return new Promise((resolve) => {
      const answers = new Map<number, unknown>();
      const timer = setTimeout(() => finish(), ANSWER_WAIT_MS);
      const finish = (): void => {
        clearTimeout(timer);
        this.questions.delete(seq);
        resolve(answers);
      };
      const question: Question = { answers, waiting: new Set(ready.map((s) => s.id)), done: finish };
      this.questions.set(seq, question);
      if (ready.length === 0) finish();
      for (const slot of ready) slot.process?.send(make(seq));
    });
  }

  /**
   * Applies `options` to every process, all or nothing: if any refuses (a listener it cannot open),
   * those that took it go back to the options before, and the error is thrown.
   */
  async reload(options: ProxyOptions): Promise<void> {
    const ready = this.slots.filter((s) => s.ready && s.process !== null);
    const errors = await this.reloadOn(ready, options);
    if (errors.length === 0) {
      this.options = options;
      this.generation++;
      for (const slot of ready) slot.generation = this.generation;
      // A process that became ready meanwhile (a replacement) started with the options before.
      for (const slot of this.slots) {
        if (!slot.ready || slot.generation === this.generation) continue;
        slot.generation = this.generation;
        slot.process?.send({ t: 'reload', seq: 0, options } satisfies ToWorker);
      }
      return;
    }
    await this.reloadOn(ready, this.options);
    throw new Error(errors[0]);
  }

  private reloadOn(slots: Slot[], options: ProxyOptions): Promise<string[]> {
    const seq = ++this.seq;
    return new Promise((resolve) => {
      const pending = new Set(slots.map((s) => s.id));
      const errors: string[] = [];
      const timer = setTimeout(() => {
        errors.push(`worker ${[...pending].join(', ')} did not apply the reload within ${RELOAD_WAIT_MS} ms`);
        done();
      }, RELOAD_WAIT_MS);
      const done = (): void => {
        clearTimeout(timer);
        this.reloads.delete(seq);
        resolve(errors);
      };
      this.reloads.set(seq, { pending, errors, done });
      if (pending.size === 0) done();
      for (const slot of slots) slot.process?.send({ t: 'reload', seq, options });
    });
  }

  /** Every process finishes what it has in flight (at most `timeoutMs`) and exits; resolves when all have. */
  shutdown(timeoutMs: number): Promise<void> {
    return this.stop({ t: 'shutdown', timeoutMs }, timeoutMs + 2_000);
  }

  /** Every process cuts its connections and exits now. */
  close(): Promise<void> {
    return this.stop({ t: 'close' }, 2_000);
  }

  private stop(msg: ToWorker, killAfterMs: number): Promise<void> {
    this.stopping = true;
    for (const slot of this.slots) {
      if (slot.timer !== null) clearTimeout(slot.timer);
      slot.timer = null;
      if (slot.process?.isConnected() === true) slot.process.send(msg);
    }
    const kill = setTimeout(() => {
      for (const slot of this.slots) slot.process?.process.kill('SIGKILL');
    }, killAfterMs);
    return new Promise<void>((resolve) => {
      this.exited = () => {
        if (this.slots.some((s) => s.process !== null)) return;
        clearTimeout(kill);
        resolve();
      };
      this.exited();
    });
  }

  private fork(slot: Slot, firstAnswer: ((msg: Extract<ToPrimary, { t: 'ready' | 'failed' }>) => void) | null): void {
    const proc = cluster.fork();
    slot.process = proc;
    slot.ready = false;
    slot.startedAt = Date.now();
    // A send to a worker that has just died (its 'hello' answered after it was killed, say) fails
    // with EPIPE as an 'error' event: without a listener that crashed the primary. Its 'exit' follows.
    proc.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ERR_IPC_CHANNEL_CLOSED') {
        this.events.log.error('worker_ipc_failed', `worker ${slot.id}: ${err.message}`, { worker_id: slot.id });
      }
    });
    proc.on('message', (msg: unknown) => {
      if (!isToPrimary(msg)) return;
      if (msg.t === 'hello') {
        // Forked just before a stop: the stop message reached no one, so this one is not started.
        if (this.stopping) {
          proc.process.kill('SIGTERM');
          return;
        }
        slot.generation = this.generation;
        proc.send({
          t: 'start', id: slot.id, options: this.options, reusePort: this.reusePort, verdicts: this.events.verdicts(), dns: this.events.dnsSets(), ticketKeys: this.ticketKeys,
        } satisfies ToWorker);
        return;
      }
      if (msg.t === 'ready' || msg.t === 'failed') {
        if (msg.t === 'ready') {
          slot.ready = true;
          // Broadcasts go to ready processes only: what changed since its start message, it gets now.
          proc.send({ t: 'checks', verdicts: this.events.verdicts() } satisfies ToWorker);
          for (const set of this.events.dnsSets()) proc.send({ t: 'dns', set } satisfies ToWorker);
          // Started before a reload finished: bring it to the options now in force.
          if (slot.generation !== this.generation) {
            slot.generation = this.generation;
            proc.send({ t: 'reload', seq: 0, options: this.options } satisfies ToWorker);
          }
        }
        if (firstAnswer !== null) firstAnswer(msg);
        else if (msg.t === 'failed') this.events.log.error('worker_failed', `worker ${slot.id} could not start: ${msg.message}`, { worker_id: slot.id });
        firstAnswer = null;
        return;
      }
      this.answered(slot, msg);
    });
    proc.once('exit', (code, signal) => {
      // Gone before its first answer while the fleet starts: start-up fails, as a lone process's
      // would (its replacement would have no one to answer to, and start() would never settle).
      if (firstAnswer !== null) firstAnswer({ t: 'failed', message: `worker ${slot.id} ${ended(code, signal)} before it was ready`, open: false });
      firstAnswer = null;
      this.died(slot, proc, code, signal);
    });
  }

  private answered(slot: Slot, msg: ToPrimary): void {
    if (msg.t === 'lease') {
      const { granted, retryAfter } = this.events.lease(msg.limiter, msg.client, msg.want);
      slot.process?.send({ t: 'leased', seq: msg.seq, granted, retryAfter } satisfies ToWorker);
    } else if (msg.t === 'answer') {
      const q = this.questions.get(msg.seq);
      if (q === undefined) return;
      q.answers.set(slot.id, msg.value);
      q.waiting.delete(slot.id);
      if (q.waiting.size === 0) q.done();
    } else if (msg.t === 'reloaded') {
      // A catch-up reload (seq 0: a process that started with the options before) has no one waiting.
      if (msg.seq === 0 && msg.error !== null) {
        this.events.log.error('worker_reload_failed', `worker ${slot.id} could not take the configuration in force: ${msg.error}`, { worker_id: slot.id });
        slot.process?.process.kill('SIGTERM'); // replaced, and its replacement starts with the options in force
        return;
      }
      const r = this.reloads.get(msg.seq);
      if (r === undefined) return;
      if (msg.error !== null) r.errors.push(`worker ${slot.id}: ${msg.error}`);
      r.pending.delete(slot.id);
      if (r.pending.size === 0) r.done();
    }
  }

  private died(slot: Slot, proc: ProcessHandle, code: number | null, signal: string | null): void {
    if (slot.process !== proc) return;
    slot.process = null;
    slot.ready = false;
    // A question or reload it had not answered does not wait for it.
    for (const q of this.questions.values()) if (q.waiting.delete(slot.id) && q.waiting.size === 0) q.done();
    for (const r of this.reloads.values()) if (r.pending.delete(slot.id) && r.pending.size === 0) r.done();
    if (this.stopping) {
      this.exited?.();
      return;
    }
    const lived = Date.now() - slot.startedAt;
    slot.youngDeaths = lived < YOUNG_MS ? slot.youngDeaths + 1 : 0;
    const delay = restartDelay(slot.youngDeaths);
    this.events.log.error('worker_died', `worker ${slot.id} (pid ${proc.process.pid}) ${ended(code, signal)} after ${lived} ms; replacing it${delay > 0 ? ` in ${delay} ms` : ''}`,
      { worker_id: slot.id, pid: proc.process.pid, code, signal, delay_ms: delay });
    slot.timer = setTimeout(() => {
      slot.timer = null;
      slot.restarts++;
      this.fork(slot, null);
    }, delay);
  }
}
