/**
 * The access log: one line per completed response, as JSON (through pino) or in the Apache/nginx
 * combined format followed by `backend upstream_ms total_ms`. Both go through an asynchronous
 * sonic-boom destination, so `write()` only appends to an in-memory buffer.
 */
import { pino, type Logger } from 'pino';
import { LogDestination } from './log-destination.js';
import type { AccessLogFormat } from '../options/vocabulary.js';

export interface AccessEntry {
  time: number;
  client: string;
  /** The TLS version of an HTTPS request; '' for plain HTTP (then the field is left out). */
  tls: string;
  method: string;
  target: string;
  version: string;
  status: number;
  /** Response body bytes sent (nginx's $body_bytes_sent, the combined format's %b): the head not counted. */
  bytes: number;
  backend: string;
  upstreamMs: number;
  totalMs: number;
  referer: string;
  userAgent: string;
}

/** A TCP-mode connection, logged when it closes. */
export interface TcpEntry {
  time: number;
  client: string;
  pool: string;
  /** The backend it was piped to; '-' when none could be reached. */
  backend: string;
  /** How it ended: closed, no_backend, idle_timeout, error, shutdown. */
  result: string;
  /** Bytes from the client to the backend, and from the backend to the client. */
  bytesIn: number;
  bytesOut: number;
  /** From the accept to the backend's connect (-1: never connected), and to the close. */
  connectMs: number;
  totalMs: number;
}

export class AccessLog {
  readonly #dest: LogDestination;
  readonly #logger: Logger | undefined;
  /** ` worker=N` after a combined line, from worker process N; '' from the only process. */
  readonly #workerSuffix: string;
  #time = '';

  /**
   * `destination`: a file path to append to, or 1 for stdout. Writes are asynchronous (never block
   * the event loop). `workerId`: the worker process's id, which every line then carries.
   */
  constructor(format: AccessLogFormat, destination: string | 1, workerId?: number) {
    if (format !== 'json' && format !== 'combined') throw new Error(`access log: unknown format '${String(format)}'`);
    this.#dest = new LogDestination('access log', destination);
    this.#workerSuffix = workerId === undefined ? '' : ` worker=${workerId}`;
    this.#logger =
      format === 'json'
        ? pino(
            {
              base: workerId === undefined ? undefined : { worker: workerId },
              // pino cannot drop `level` cleanly: an empty level object leaves the line as `{` and the
              // next field adds a leading comma. So the timestamp, always emitted right after the
              // level, is written without one; it is the entry's time, set by write().
              formatters: { level: () => ({}) },
              timestamp: () => this.#time,
            },
            this.#dest.stream,
          )
        : undefined;
  }

  /** Entries dropped because the destination fell more than 16 MiB behind. */
  get dropped(): number {
    return this.#dest.dropped;
  }

  /**
   * A TCP-mode line: JSON with `mode: "tcp"`, or in the combined shape with `"TCP <pool>"` as the
   * request, the result as the status, bytes out as the size, then backend, connect and total ms and
   * `in=` the bytes the client sent.
   */
  writeTcp(e: TcpEntry): void {
    if (!this.#dest.writable) return;
    if (this.#logger === undefined) {
      const at = clfTime(e.time);
      this.#dest.write(`${e.client} - - [${at}] "TCP ${escapeField(e.pool)}" ${e.result} ${e.bytesOut} "-" "-" ${e.backend} ${e.connectMs < 0 ? '-' : e.connectMs} ${e.totalMs} in=${e.bytesIn}${this.#workerSuffix}\n`);
      return;
    }
    this.#time = `"time":"${new Date(e.time).toISOString()}"`;
    this.#logger.info({
      mode: 'tcp', client: e.client, pool: e.pool, backend: e.backend, result: e.result,
      bytes_in: e.bytesIn, bytes_out: e.bytesOut, connect_ms: e.connectMs, total_ms: e.totalMs,
    });
  }

  write(entry: AccessEntry): void {
    if (!this.#dest.writable) return;
    if (this.#logger === undefined) {
      this.#dest.write(combinedLine(entry) + (entry.tls === '' ? '' : ` tls=${entry.tls}`) + this.#workerSuffix + '\n');
      return;
    }
    this.#time = `"time":"${new Date(entry.time).toISOString()}"`;
    this.#logger.info({
      client: entry.client,
      method: entry.method,
      target: entry.target,
      version: entry.version,
      status: entry.status,
      bytes: entry.bytes,
      backend: entry.backend,
      upstream_ms: entry.upstreamMs,
      total_ms: entry.totalMs,
      referer: entry.referer,
      user_agent: entry.userAgent,
      tls: entry.tls === '' ? undefined : entry.tls,
    });
  }

  /** Call right after a write: resolves when every line so far has been written (for benchmarks). */
  caughtUp(): Promise<void> {
    return this.#dest.caughtUp();
  }

  /** Flushes and closes the destination. */
  close(): Promise<void> {
    return this.#dest.close();
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number): string => (n < 10 ? `0${n}` : `${n}`);

let stampSecond = -1;
let stampText = '';

/** `24/Nov/2026:16:20:43 +0000`, in UTC; cached per second since consecutive entries share it. */
function clfTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== stampSecond) {
    const d = new Date(second * 1000);
    stampText =
      `${pad2(d.getUTCDate())}/${MONTHS[d.getUTCMonth()] ?? ''}/${d.getUTCFullYear()}:` +
      `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} +0000`;
    stampSecond = second;
  }
  return stampText;
}

const HEX = '0123456789ABCDEF';
const hexByte = (b: number): string => `\\x${HEX[b >> 4] ?? ''}${HEX[b & 15] ?? ''}`;
const escaped = (c: number): boolean => c < 0x20 || c >= 0x7f || c === 0x22 || c === 0x5c;

/** nginx's escaping of quoted fields: `"`, `\`, control bytes and bytes >= 0x7f become `\xHH`. */
export function escapeField(s: string): string {
  let i = 0;
  while (i < s.length && !escaped(s.charCodeAt(i))) i++;
  if (i === s.length) return s;
  let out = s.slice(0, i);
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!escaped(c)) out += s[i];
    else if (c <= 0xff) out += hexByte(c); // head text is decoded as latin1: one char per byte
    else {
      const cp = s.codePointAt(i) ?? c;
      if (cp > 0xffff) i++;
      for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) out += hexByte(b);
    }
  }
  return out;
}

/** One line in the Apache/nginx combined format (exported for tests), without the trailing newline. */
export function combinedLine(e: AccessEntry): string {
  // The refused-request record has no request line to show.
  const request =
    e.method === '-' && e.target === '-' ? '-' : `${escapeField(e.method)} ${escapeField(e.target)} HTTP/${escapeField(e.version)}`;
  return (
    `${e.client} - - [${clfTime(e.time)}] "${request}" ${e.status} ${e.bytes === 0 ? '-' : e.bytes} ` +
    `"${e.referer === '' ? '-' : escapeField(e.referer)}" "${e.userAgent === '' ? '-' : escapeField(e.userAgent)}" ` +
    `${e.backend} ${e.upstreamMs < 0 ? '-' : e.upstreamMs} ${e.totalMs}`
  );
}
