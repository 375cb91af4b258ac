/**
 * Where a log goes: a file (appended to) or a standard stream, written asynchronously through
 * sonic-boom (pino's destination), so a write only appends to an in-memory buffer.
 *
 * Invariants:
 * - A bad path fails in the constructor (start-up, or a reload that is then refused), never later.
 * - Memory is bounded: data more than 16 MiB behind the disk is dropped, and that is reported once.
 * - A write error is reported once and stops this log; the file is let go. Left alone, sonic-boom
 *   would retry on every write, and pino's exit hook would retry forever on 'beforeExit'.
 * - close() flushes what is buffered and resolves when the descriptor is closed (or never opened).
 * - Once closed or failed, every write is dropped, whichever logger makes it: sonic-boom throws on a
 *   write after its end, and a late event (an exchange cut at shutdown) must not crash the process.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino } from 'pino';
import { OpenError } from '../errors.js';
import type { LogTarget } from '../options/vocabulary.js';

type Destination = ReturnType<typeof pino.destination>;

const MAX_BUFFERED = 16 * 1024 * 1024;

export const targetName = (target: LogTarget): string =>
  target === 1 ? 'stdout' : target === 2 ? 'stderr' : `'${target}'`;

export class LogDestination {
  /** What a logger writes to (pino's destination): every write goes through write()'s check. */
  readonly stream: pino.DestinationStream = { write: (text: string) => this.write(text) };
  readonly #sonic: Destination;
  readonly #done: Promise<void>;
  #closed = false;
  #opened = false;
  #failed = false;
  #dropped = 0;

  /** `what` names the log in the one-line reports ("access log", "log"). */
  constructor(what: string, target: LogTarget) {
    if (typeof target === 'string') {
      // Open once synchronously so a bad path fails now, not in an 'error' event later.
      try {
        mkdirSync(dirname(target), { recursive: true });
        closeSync(openSync(target, 'a'));
      } catch (err) {
        throw new OpenError(`${what}: cannot open '${target}' for appending: ${(err as Error).message}`, { cause: err });
      }
    }
    const dest = pino.destination({ dest: target, sync: false, mkdir: true, maxLength: MAX_BUFFERED });
    this.#sonic = dest;
    let finish = (): void => {};
    this.#done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    dest.once('close', finish);
    dest.once('ready', () => {
      this.#opened = true;
    });
    dest.on('error', (err: Error) => {
      if (!this.#failed) {
        this.#failed = true;
        process.stderr.write(`chanlb: ${what} ${targetName(target)}: ${err.message}; logging stopped\n`);
      }
      if (!this.#opened) return finish();
      try {
        dest.destroy(); // emits 'close' once the fd is closed
      } catch {
        finish(); // already destroyed: closing the fd itself failed
      }
    });
    dest.on('drop', () => {
      if (this.#dropped++ === 0) process.stderr.write(`chanlb: ${what} ${targetName(target)} is not keeping up; dropping entries\n`);
    });
  }

  /** False once closed or failed: writing then does nothing. */
  get writable(): boolean {
    return !this.#closed && !this.#failed;
  }

  /** Writes dropped because the destination fell more than 16 MiB behind. */
  get dropped(): number {
    return this.#dropped;
  }

  write(text: string): void {
    if (this.writable) this.#sonic.write(text);
  }

  /**
   * Call right after a write: resolves when the destination has written everything (sonic-boom's
   * 'drain'; with nothing to write it would wait for the next write). For benchmarks.
   */
  caughtUp(): Promise<void> {
    if (!this.writable) return Promise.resolve();
    return new Promise((resolve) => this.#sonic.once('drain', () => resolve()));
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      // sonic-boom flushes, then closes a file's descriptor; it leaves stdout and stderr open.
      if (!this.#failed) this.#sonic.end();
    }
    return this.#done;
  }
}
