/**
 * Test and bench helper for big bodies: a deterministic byte pattern that can be produced and
 * checked as a stream (never held whole in memory), written with backpressure, and a small socket
 * reader that takes a head and then streams a body of known length into a hash.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import type * as net from 'node:net';
import { Wakeup } from './wakeup.js';

export const BLOCK = 64 * 1024;

/**
 * `size` bytes made of 64 KiB blocks: one random block with each block's index written into its
 * first 8 bytes, so lost, repeated or reordered blocks change the hash.
 */
export class Pattern {
  readonly size: number;
  private readonly base: Buffer;

  constructor(size: number, base: Buffer = randomBytes(BLOCK)) {
    this.size = size;
    this.base = base;
  }

  get blocks(): number {
    return Math.ceil(this.size / BLOCK);
  }

  /** A fresh buffer with block `i` (the last one may be short). */
  block(i: number): Buffer {
    const length = Math.min(BLOCK, this.size - i * BLOCK);
    const out = Buffer.allocUnsafe(length);
    this.base.copy(out, 0, 0, length);
    const index = Buffer.alloc(8);
    index.writeBigUInt64BE(BigInt(i));
    index.copy(out, 0, 0, Math.min(8, length));
    return out;
  }

  /** The sha256 of the whole pattern (computed block by block). */
  sha256(): string {
    const hash = createHash('sha256');
    for (let i = 0; i < this.blocks; i++) hash.update(this.block(i));
    return hash.digest('hex');
  }
}

/** Progress of a streaming writer: bytes given to write() and bytes the kernel has taken. */
export class WriteProgress {
  queued = 0;
  done = false;
  constructor(private readonly socket: net.Socket) {}
  /** Bytes handed to the kernel (queued minus Node's own write buffer). */
  get sent(): number {
    return this.queued - this.socket.writableLength;
  }
}

/**
 * Writes `prefix` and then the pattern to `socket`, waiting for 'drain' whenever write() says the
 * buffer is full. Resolves when the last byte was handed to the kernel; rejects if the socket closes.
 */
export async function writePattern(socket: net.Socket, prefix: Buffer, pattern: Pattern, progress = new WriteProgress(socket)): Promise<void> {
  const drain = (): Promise<void> => new Promise<void>((resolve, reject) => {
    const onDrain = (): void => { socket.off('close', onClose); resolve(); };
    const onClose = (): void => { socket.off('drain', onDrain); reject(new Error(`socket closed after ${progress.sent} bytes`)); };
    socket.once('drain', onDrain);
    socket.once('close', onClose);
  });
  if (prefix.length > 0) {
    progress.queued += prefix.length;
    if (!socket.write(prefix)) await drain();
  }
  for (let i = 0; i < pattern.blocks; i++) {
    if (socket.destroyed) throw new Error(`socket destroyed after ${progress.sent} bytes`);
    const block = pattern.block(i);
    progress.queued += block.length;
    if (!socket.write(block)) await drain();
  }
  await new Promise<void>((resolve, reject) => socket.write(Buffer.alloc(0), (err) => (err ? reject(err) : resolve())));
  progress.done = true;
}

/**
 * Reads a socket as a stream of bytes under the caller's control: a head up to CRLFCRLF, then
 * bodies streamed into a hash. The socket can be paused (`hold`) to stop reading entirely.
 */
export class StreamReader {
  readonly socket: net.Socket;
  /** Body bytes taken by readBody so far (for progress). */
  bodyBytes = 0;
  private readonly queue: Buffer[] = [];
  private ended = false;
  private readonly wakeup = new Wakeup();

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => { this.queue.push(d); this.wakeup.notify(); });
    socket.on('end', () => { this.ended = true; this.wakeup.notify(); });
    socket.on('close', () => { this.ended = true; this.wakeup.notify(); });
    socket.on('error', () => {});
  }

  /** Stops reading from the socket (the kernel buffers fill, then the peer is blocked). */
  hold(): void {
    this.socket.pause();
  }

  release(): void {
    this.socket.resume();
  }

  /** Reads up to and including the first CRLFCRLF; returns the head as latin1 text (without it). */
  async readHead(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let acc = Buffer.alloc(0);
    for (;;) {
      const next = this.queue.shift();
      if (next !== undefined) {
        acc = Buffer.concat([acc, next]);
        const end = acc.indexOf('\r\n\r\n');
        if (end >= 0) {
          if (end + 4 < acc.length) this.queue.unshift(acc.subarray(end + 4));
          return acc.toString('latin1', 0, end);
        }
        continue;
      }
      if (this.ended) throw new Error(`connection ended before a complete head: ${JSON.stringify(acc.toString('latin1'))}`);
      await this.wakeup.wait(deadline, 'a head');
    }
  }

  /** Streams exactly `length` body bytes into `hash` (a new sha256 if omitted); returns its hex digest. */
  async readBody(length: number, timeoutMs: number, hash: Hash = createHash('sha256')): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let left = length;
    while (left > 0) {
      const next = this.queue.shift();
      if (next !== undefined) {
        const take = Math.min(left, next.length);
        hash.update(take === next.length ? next : next.subarray(0, take));
        if (take < next.length) this.queue.unshift(next.subarray(take));
        left -= take;
        this.bodyBytes += take;
        continue;
      }
      if (this.ended) throw new Error(`connection ended after ${length - left} of ${length} body bytes`);
      await this.wakeup.wait(deadline, `${left} more body bytes`);
    }
    return hash.digest('hex');
  }

  /** Reads exactly `n` bytes (small bodies). */
  async readExactly(n: number, timeoutMs: number): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    const parts: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const next = this.queue.shift();
      if (next !== undefined) {
        const take = Math.min(left, next.length);
        parts.push(next.subarray(0, take));
        if (take < next.length) this.queue.unshift(next.subarray(take));
        left -= take;
        continue;
      }
      if (this.ended) throw new Error(`connection ended after ${n - left} of ${n} bytes`);
      await this.wakeup.wait(deadline, `${left} more bytes`);
    }
    return Buffer.concat(parts);
  }
}

/** A header's value in a head read by StreamReader.readHead (first match, case-insensitive). */
export function headField(head: string, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).toLowerCase() === lower) return line.slice(colon + 1).trim();
  }
  return undefined;
}

/**
 * Waits until `progress()` has not changed for `quietMs` (the writer is blocked by backpressure)
 * or `done()` is true; returns the value it settled at. Throws at the deadline.
 */
export async function waitForStall(progress: () => number, done: () => boolean, quietMs: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = progress();
  let since = Date.now();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const now = progress();
    if (done()) return now;
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return now;
    }
    if (Date.now() > deadline) throw new Error(`no stall within ${timeoutMs} ms (progress ${now})`);
  }
}
