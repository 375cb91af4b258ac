/**
 * Test helper: a raw HTTP/1.1 client over one net.Socket. It writes whatever bytes a test gives it
 * (pipelined, split, malformed) and reads responses one at a time with the project's own
 * `Http1Parser` in response mode. Every wait has a deadline, so a proxy that never answers fails the
 * test instead of hanging the suite.
 */
import * as net from 'node:net';
import { Http1Parser, EV_NONE, EV_HEAD, EV_END, EV_UPGRADE, EV_ERROR } from '../../src/http1/parser.js';
import { Wakeup } from './wakeup.js';

export const DEFAULT_TIMEOUT_MS = 5_000;

/** A bare GET for `path` to host lb.test. */
export const GET = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: lb.test\r\n\r\n`;

export interface RawResponse {
  status: number;
  reason: string;
  /** `1.1`, `1.0`. */
  version: string;
  /** In arrival order, names as sent. */
  headers: [string, string][];
  /** The raw body bytes (for a chunked response: with the chunked framing). */
  body: Buffer;
  /** llhttp's verdict: the connection may carry another message after this one. */
  keepAlive: boolean;
}

/** The first value of header `name` (case-insensitive), or undefined. */
export function headerValue(res: RawResponse, name: string): string | undefined {
  const lower = name.toLowerCase();
  return res.headers.find(([n]) => n.toLowerCase() === lower)?.[1];
}

export interface ReadOptions {
  /** The response answers a HEAD request: it has no body whatever its headers say. */
  head?: boolean;
  timeoutMs?: number;
  /** Names the awaited response in error messages. */
  label?: string;
}

export class RawClient {
  readonly socket: net.Socket;
  private readonly parser = new Http1Parser('response', { maxHeadBytes: 1 << 20 });
  private readonly queue: Buffer[] = [];
  private chunk: Buffer | null = null;
  private off = 0;
  private ended = false;
  private destroyed = false;
  private socketError: Error | null = null;
  private readonly wakeup = new Wakeup();

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (data: Buffer) => {
      this.queue.push(data);
      this.wakeup.notify();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wakeup.notify();
    });
    socket.on('error', (err) => {
      this.socketError = err;
    });
    socket.on('close', () => {
      this.ended = true;
      this.wakeup.notify();
    });
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawClient(socket));
      });
    });
  }

  /** True once the peer has ended or closed the connection (its data before that may still be unread). */
  get peerEnded(): boolean {
    return this.ended;
  }

  /** The error the socket reported, if any (e.g. ECONNRESET). */
  get error(): Error | null {
    return this.socketError;
  }

  /** Writes bytes; resolves when they are handed to the kernel. */
  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data, (err) => {
        if (err) reject(err);
        else resolve();
      });
    });
  }

  /** Writes `data` in pieces of `pieceSize` bytes, one write each, yielding to the event loop between. */
  async writeInPieces(data: string | Buffer, pieceSize = 1): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    for (let i = 0; i < bytes.length; i += pieceSize) {
      await this.write(bytes.subarray(i, i + pieceSize));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Reads the next complete response. Rejects on a parse error, an early close, or the deadline. */
  async readResponse(options: ReadOptions = {}): Promise<RawResponse> {
    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const parser = this.parser;
    parser.expectNoBody = options.head === true;
    let res: RawResponse | null = null;
    const body: Buffer[] = [];
    const label = options.label === undefined ? '' : ` (${options.label})`;
    for (;;) {
      const chunk = this.chunk;
      if (chunk === null) {
        const next = this.queue.shift();
        if (next !== undefined) {
          this.chunk = next;
          this.off = 0;
          continue;
        }
        if (this.ended) {
          if (res !== null && parser.finish() === EV_END) {
            res.body = Buffer.concat(body);
            return res;
          }
          throw new Error(res === null
            ? `connection closed before a response${label}${this.socketError ? `: ${this.socketError.message}` : ''}`
            : `connection closed mid-response${label} (status ${res.status}, ${Buffer.concat(body).length} body bytes)`);
        }
        await this.wakeup.wait(deadline, res === null ? `a response${label}` : `the end of the ${res.status} response${label}`);
        continue;
      }
      const from = this.off;
      const ev = parser.execute(chunk, from);
      const at = parser.at;
      switch (ev) {
        case EV_NONE:
          if (res !== null && at > from) body.push(chunk.subarray(from, at));
          this.chunk = null; // every byte was consumed
          break;
        case EV_HEAD: {
          const d = parser.describe();
          res = {
            status: parser.statusCode,
            reason: d.status,
            version: `${parser.versionMajor}.${parser.versionMinor}`,
            headers: d.headers,
            body: Buffer.alloc(0),
            keepAlive: parser.keepAlive,
          };
          this.off = at;
          break;
        }
        case EV_END:
          if (res !== null && at > from) body.push(chunk.subarray(from, at));
          this.off = at;
          if (res === null) throw new Error('parser reported END before a head');
          res.body = Buffer.concat(body);
          return res;
        case EV_UPGRADE:
          throw new Error('unexpected upgrade in a response stream');
        case EV_ERROR:
          throw new Error(`malformed response: ${parser.errorName}: ${parser.errorReason}; bytes: ${JSON.stringify(chunk.toString('latin1', Math.max(0, at - 60), at + 60))}`);
      }
    }
  }

  /** Reads `n` responses in order. */
  async readResponses(n: number, options: ReadOptions = {}): Promise<RawResponse[]> {
    const out: RawResponse[] = [];
    for (let i = 0; i < n; i++) out.push(await this.readResponse(options));
    return out;
  }

  /** Resolves when the peer has ended or closed the connection; rejects at the deadline. */
  async waitForEnd(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) await this.wakeup.wait(deadline, 'the connection to close');
  }

  /**
   * Reads exactly `n` raw bytes not consumed by readResponse (e.g. tunnel bytes after a 101).
   * Rejects if the connection ends first or at the deadline. Do not call readResponse afterwards.
   */
  async readBytes(n: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    const parts: Buffer[] = [];
    let have = 0;
    while (have < n) {
      let chunk = this.chunk;
      if (chunk === null) {
        const next = this.queue.shift();
        if (next === undefined) {
          if (this.ended) throw new Error(`connection closed after ${have} of ${n} raw bytes: ${JSON.stringify(Buffer.concat(parts).toString('latin1'))}`);
          await this.wakeup.wait(deadline, `${n - have} more raw bytes (have ${have}: ${JSON.stringify(Buffer.concat(parts).toString('latin1').slice(0, 200))})`);
          continue;
        }
        chunk = next;
        this.chunk = next;
        this.off = 0;
      }
      const take = Math.min(n - have, chunk.length - this.off);
      parts.push(chunk.subarray(this.off, this.off + take));
      have += take;
      this.off += take;
      if (this.off >= chunk.length) this.chunk = null;
    }
    return Buffer.concat(parts);
  }

  /** Reads raw bytes until the peer closes; returns them all (e.g. a close-delimited body). */
  async readToEnd(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Buffer> {
    await this.waitForEnd(timeoutMs);
    const rest = this.unreadBytes();
    this.chunk = null;
    this.queue.length = 0;
    return rest;
  }

  /** Bytes received but not consumed by readResponse (e.g. a body sent after a HEAD response). */
  unreadBytes(): Buffer {
    const parts: Buffer[] = [];
    if (this.chunk !== null) parts.push(this.chunk.subarray(this.off));
    parts.push(...this.queue);
    return Buffer.concat(parts);
  }

  close(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.socket.destroy();
    this.parser.destroy();
  }
}
