// A keep-alive backend whose latency follows a schedule, for comparing balancing policies
// (bench/load/policies.ts): every request gets `200 Hello from <name>\n` after the delay the schedule
// gives at the moment its head arrived. Delays are timers, not work: a backend serves any number of
// requests at once, each in its own delay, so its latency does not depend on its load.
//
//   fixed:MS                          always MS (what --delay-ms N means)
//   flip:FAST:SLOW:EVERY              FAST for EVERY ms, then SLOW for EVERY ms, and so on
//   spells:FAST:SLOW:EVERY:CHANCE[:SEED]  time cut into EVERY-ms slots; each slot is SLOW with
//                                     probability CHANCE (0-1), decided by hashing (SEED, slot)
//
// The schedule counts from start-up, or from the last `GET /__variable/reset`, so that a benchmark
// can give every run the same sequence of fast and slow spells. `GET /__variable/stats` answers
// JSON `VariableStats`; reset answers the stats it cleared. Neither is counted as a request.
// Like fast.ts it serves requests without bodies only (400 and close otherwise).
// `node dist/backends/variable.js --port 9001 --name 1 [--host H] [--delay-ms N | --pattern P]`
import net from 'node:net';
import { isMain, runCli, takeFlag } from './cli.js';
import { serve, type BackendHandle, type ListenOptions } from './serve.js';

export type Schedule =
  | { kind: 'fixed'; ms: number }
  | { kind: 'flip'; fastMs: number; slowMs: number; everyMs: number }
  | { kind: 'spells'; fastMs: number; slowMs: number; everyMs: number; chance: number; seed: number };

export interface VariableOptions extends ListenOptions {
  name: string;
  schedule: Schedule;
}

export interface VariableStats {
  name: string;
  schedule: string;
  /** Requests answered or waiting for their delay since start or the last reset. */
  requests: number;
  /** Of those, the ones that got the schedule's slow delay. */
  slow: number;
  /** ms since start or the last reset. */
  elapsedMs: number;
}

export interface VariableHandle extends BackendHandle<net.Server> {
  stats(): VariableStats;
  /** Clears the counters and restarts the schedule; returns the stats it cleared. */
  reset(): VariableStats;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const MAX_HEAD = 16 * 1024;
const IDLE_MS = 5000; // like Node's keepAliveTimeout; the proxy's pool must close idle sockets first
const CONTROL = '/__variable/';

function nonNegative(text: string | undefined, what: string): number {
  const n = text !== undefined && /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(n)) throw new Error(`${what} must be a non-negative number, got '${text ?? ''}'`);
  return n;
}

/** Parses `fixed:MS`, `flip:FAST:SLOW:EVERY` or `spells:FAST:SLOW:EVERY:CHANCE[:SEED]`; a bare number is fixed. */
export function parseSchedule(text: string): Schedule {
  const [kind, ...parts] = text.split(':');
  if (parts.length === 0 && kind !== undefined && /^\d+$/.test(kind)) return { kind: 'fixed', ms: Number(kind) };
  if (kind === 'fixed' && parts.length === 1) return { kind, ms: nonNegative(parts[0], 'fixed: MS') };
  if ((kind === 'flip' && parts.length === 3) || (kind === 'spells' && (parts.length === 4 || parts.length === 5))) {
    const fastMs = nonNegative(parts[0], `${kind}: FAST`);
    const slowMs = nonNegative(parts[1], `${kind}: SLOW`);
    const everyMs = nonNegative(parts[2], `${kind}: EVERY`);
    if (everyMs < 1) throw new Error(`${kind}: EVERY must be at least 1 ms`);
    if (kind === 'flip') return { kind, fastMs, slowMs, everyMs };
    const chance = nonNegative(parts[3], 'spells: CHANCE');
    if (chance > 1) throw new Error(`spells: CHANCE must be between 0 and 1, got ${chance}`);
    const seed = parts[4] === undefined ? 1 : nonNegative(parts[4], 'spells: SEED');
    return { kind, fastMs, slowMs, everyMs, chance, seed };
  }
  throw new Error(`'${text}' is not a schedule: use MS, fixed:MS, flip:FAST:SLOW:EVERY or spells:FAST:SLOW:EVERY:CHANCE[:SEED]`);
}

/** Short human description, e.g. `1↔50 ms every 1 s`. */
export function describeSchedule(s: Schedule): string {
  const every = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`);
  if (s.kind === 'fixed') return `${s.ms} ms`;
  if (s.kind === 'flip') return `${s.fastMs}↔${s.slowMs} ms every ${every(s.everyMs)}`;
  return `${s.fastMs} ms, ${s.slowMs} ms in ${Math.round(s.chance * 100)}% of ${every(s.everyMs)} slots`;
}

/** A 32-bit integer hash of (seed, slot) mapped to [0, 1): the same spells after every reset. */
function unitHash(seed: number, slot: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(slot + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return ((h ^ (h >>> 16)) >>> 0) / 2 ** 32;
}

/** The delay for a request arriving `t` ms into the schedule, and whether it is the slow one. */
export function delayAt(s: Schedule, t: number): { ms: number; slow: boolean } {
  if (s.kind === 'fixed') return { ms: s.ms, slow: false };
  const slot = Math.floor(t / s.everyMs);
  const slow = s.kind === 'flip' ? slot % 2 === 1 : unitHash(s.seed, slot) < s.chance;
  return { ms: slow ? s.slowMs : s.fastMs, slow };
}

interface Head {
  path: string;
  minor: 0 | 1;
  close: boolean;
  bad: boolean;
}

function parseHead(text: string): Head {
  const lines = text.split('\r\n');
  const m = /^[A-Z]+ (\S+) HTTP\/1\.([01])$/.exec(lines[0] ?? '');
  if (m === null) return { path: '', minor: 1, close: true, bad: true };
  const minor = m[2] === '0' ? 0 : 1;
  let close = minor === 0;
  let keepAlive = false;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim().toLowerCase();
    if (name === 'transfer-encoding' || (name === 'content-length' && value !== '0')) return { path: '', minor, close: true, bad: true };
    if (name === 'connection') {
      if (value.includes('close')) close = true;
      else if (value.includes('keep-alive')) keepAlive = true;
    }
  }
  return { path: m[1] ?? '/', minor, close: close && !(minor === 0 && keepAlive), bad: false };
}

/** One response waiting for its delay; written when it and every earlier one on its socket are ready. */
interface Slot {
  bytes: Buffer;
  ready: boolean;
  close: boolean;
}

export async function startVariable(opts: VariableOptions): Promise<VariableHandle> {
  const { schedule, name } = opts;
  const body = Buffer.from(`Hello from ${name}\n`);
  const head = (extra: string): Buffer =>
    Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nContent-Type: text/plain\r\nX-Backend: ${name}\r\n${extra}\r\n`);
  const heads = { keepAlive: head(''), keepAlive10: head('Connection: keep-alive\r\n'), close: head('Connection: close\r\n') };
  const badRequest = Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');

  let origin = performance.now();
  let requests = 0;
  let slow = 0;
  const stats = (): VariableStats => ({
    name,
    schedule: describeSchedule(schedule),
    requests,
    slow,
    elapsedMs: Math.round(performance.now() - origin),
  });
  const reset = (): VariableStats => {
    const before = stats();
    origin = performance.now();
    requests = 0;
    slow = 0;
    return before;
  };
  const json = (value: unknown, close: boolean): Buffer => {
    const text = Buffer.from(JSON.stringify(value) + '\n');
    const connection = close ? 'Connection: close\r\n' : '';
    return Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${text.length}\r\nContent-Type: application/json\r\n${connection}\r\n`), text]);
  };

  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => {});
    socket.setTimeout(IDLE_MS, () => {
      if (queue.length === 0) socket.destroy();
    });
    const queue: Slot[] = [];
    const timers = new Set<NodeJS.Timeout>();
    let pending: Buffer | null = null;
    let closing = false; // a response that closes the connection is queued: read no more

    const flush = (): void => {
      while (queue.length > 0 && (queue[0] as Slot).ready) {
        const slot = queue.shift() as Slot;
        if (slot.close) {
          socket.end(slot.bytes);
          return;
        }
        if (!socket.write(slot.bytes)) {
          socket.pause();
          socket.once('drain', () => socket.resume());
        }
      }
    };
    const answer = (bytes: Buffer, close: boolean, delayMs: number): void => {
      const slot: Slot = { bytes, ready: delayMs === 0, close };
      queue.push(slot);
      if (close) closing = true;
      if (slot.ready) return;
      const timer = setTimeout(() => {
        timers.delete(timer);
        slot.ready = true;
        flush();
      }, delayMs);
      timers.add(timer);
    };
    socket.once('close', () => timers.forEach(clearTimeout));

    socket.on('data', (chunk: Buffer) => {
      if (closing) return;
      const buf = pending === null ? chunk : Buffer.concat([pending, chunk]);
      pending = null;
      let start = 0;
      for (let end = buf.indexOf(CRLFCRLF); end !== -1 && !closing; end = buf.indexOf(CRLFCRLF, start)) {
        const h = parseHead(buf.toString('latin1', start, end));
        start = end + 4;
        if (h.bad) answer(badRequest, true, 0);
        else if (h.path.startsWith(CONTROL)) {
          const what = h.path.slice(CONTROL.length);
          answer(what === 'stats' ? json(stats(), h.close) : what === 'reset' ? json(reset(), h.close) : badRequest, h.close || (what !== 'stats' && what !== 'reset'), 0);
        } else {
          const d = delayAt(schedule, performance.now() - origin);
          requests++;
          if (d.slow) slow++;
          const bytes = Buffer.concat([h.close ? heads.close : h.minor === 0 ? heads.keepAlive10 : heads.keepAlive, body]);
          answer(bytes, h.close, d.ms);
        }
      }
      if (!closing && start < buf.length) {
        pending = buf.subarray(start);
        if (pending.length > MAX_HEAD) answer(badRequest, true, 0);
      }
      flush();
    });
  });
  const handle = await serve(server, opts);
  return { ...handle, stats, reset };
}

if (isMain(import.meta.url)) {
  const { value: pattern, rest } = takeFlag(process.argv.slice(2), 'pattern');
  let schedule: Schedule | undefined;
  try {
    if (pattern !== undefined && rest.some((a) => a === '--delay-ms' || a.startsWith('--delay-ms='))) throw new Error('give --delay-ms or --pattern, not both');
    if (pattern !== undefined) schedule = parseSchedule(pattern);
  } catch (err) {
    process.stderr.write(`variable: ${(err as Error).message}\n`);
    process.exit(2);
  }
  runCli('variable', rest, ['port', 'name', 'host', 'delay-ms'], (flags) =>
    startVariable({ ...flags, schedule: schedule ?? { kind: 'fixed', ms: flags.delayMs } }),
  );
}
