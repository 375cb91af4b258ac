/**
 * One keep-alive socket to a backend and the exchange running on it: the request goes out through
 * its RequestWriter; the response is framed with llhttp and its bytes sent to the job's output slot;
 * then the socket goes back to the pool (or is destroyed when the response or the job says it cannot
 * be reused). Its state is two values: where the socket is (connecting, open, gone) and where the
 * exchange's response is (awaiting, head, interim, final, switching to a tunnel).
 *
 * The client gets a response framed by the proxy (framing.ts decides, for the rewritten head and the
 * verbatim relay alike): status line `HTTP/1.1`, the body as it came under one canonical
 * Content-Length, else re-chunked (to an HTTP/1.1 client) or decoded and delimited by close (to an
 * HTTP/1.0 client). A Transfer-Encoding other than chunked is a bad response (502).
 *
 * Invariants:
 * - At most one job at a time (no pipelining to backends: a failure would be ambiguous).
 * - Every exchange ends in exactly one of: `finish` (response complete) or `fail` (error, abort,
 *   timeout); both settle the job, and only a complete keep-alive response returns the socket.
 * - Backpressure: the socket reads only while the job's response slot holds a read credit (room in
 *   the client connection's budget for one more read); without one it is paused until granted, so
 *   every piece it read is accepted. The request body follows the socket's own backpressure.
 * - A failed attempt may run again, on a fresh socket or another backend (exchange/retry.ts).
 * - Bytes from a backend with no exchange running (a response nobody asked for) destroy the socket.
 */
import type * as net from 'node:net';
import * as tls from 'node:tls';
import type { CreditWaiter } from '../exchange/response-slot.js';
import type { Clock } from '../clock.js';
import { Http1Parser, EV_NONE, EV_HEAD, EV_END, EV_UPGRADE, EV_ERROR } from '../http1/parser.js';
import { HeadScan, switchesToRequested } from '../http1/hop-by-hop.js';
import { responseHead } from '../http1/head.js';
import {
  ResponseFraming, declaredLength, decimalLength, decodedBytes, encodeChunked, BODY_CHUNKED, BODY_CLOSE, BODY_LENGTH,
} from '../http1/framing.js';
import type { Job, Exchange, SocketReader } from '../exchange/job.js';
import type { AttemptProgress } from '../exchange/retry.js';
import { RequestWriter } from './request-writer.js';
import type { Addresses } from '../proxy-protocol/types.js';
import { clientBodyTimeout, clientStalled, backendBadResponse, backendStatus, backendClosed, backendConnectTimeout, backendRefused, backendTimeout, backendTlsFailed, type ProxyError } from '../errors.js';

const CONNECTION_CLOSE = Buffer.from('Connection: close\r\n');
const CONNECTION_KEEP_ALIVE = Buffer.from('Connection: keep-alive\r\n');
const NO_LINE = Buffer.alloc(0);

/** What a connection reports to the pool that owns it. */
export interface UpstreamOwner {
  readonly address: string;
  readonly connectTimeoutMs: number;
  readonly responseTimeoutMs: number;
  /** The proxy's coarse clock: `now` is cheaper on the hot path than reading the time. */
  readonly clock: Clock;
  /** The exchange ended and the socket can carry another. */
  released(conn: UpstreamConn): void;
  /** The socket is gone (closed, failed or not reusable). `job` is set when it dies mid-exchange. */
  discarded(conn: UpstreamConn): void;
  /** An attempt failed: true if the job goes again (exchange/retry.ts), false if it is to be settled with `error`. */
  retry(job: Job, error: ProxyError, progress: AttemptProgress): boolean;
  /** Whether a response with `status` sends the job to another backend instead of to the client (the pool opts in). */
  retriesOnStatus(job: Job, status: number, progress: AttemptProgress): boolean;
}


/** The most a backend socket reads at once (the pool's read buffer): what a read credit is worth. */
export const MAX_READ = 64 * 1024;

/** Where the socket is. */
const CONNECTING = 0;
const OPEN = 1;
/** Destroyed, or handed over as a tunnel: either way no longer the pool's. */
const GONE = 2;

/** Where the current exchange's response is (one value, set back for each exchange). */
const AWAITING = 0; // no byte of a response yet
const HEAD = 1; // bytes of a head have come, not all of it
const INTERIM = 2; // a 1xx head was read: its end, then the final response, follow
const FINAL = 3; // the final head was read: its body is relayed
const SWITCHING = 4; // a 101 head was read: at its end the socket becomes a tunnel

export class UpstreamConn implements Exchange, SocketReader, CreditWaiter {
  readonly socket: net.Socket;
  /** Exchanges this socket has carried to their end (after one, a close before any response byte may be a keep-alive race). */
  exchanges = 0;
  /** Clock ms at the last progress (dial, connect, write, read): the sweep times slow connects, idle and silent sockets on it. */
  lastActive: number;
  job: Job | null = null;
  /** The client connection whose addresses this socket's PROXY header gave (null: none was sent). */
  origin: Addresses | null = null;

  private readonly owner: UpstreamOwner;
  private readonly writer: RequestWriter;
  private readonly parser = new Http1Parser('response', { maxHeadBytes: 64 * 1024 });
  private readonly scan = new HeadScan();
  private readonly framing = new ResponseFraming();
  private state = CONNECTING;
  private response = AWAITING;
  /** A head was parsed and not yet sent on (it goes with the body bytes of the same read). */
  private headPending = false;
  /** Paused until the client's slot grants a read credit (the client is not reading). */
  private awaitingCredit = false;
  /** Once the socket has become a tunnel: where its reads go. */
  private tunnelReader: SocketReader | null = null;
  private readonly connectEvent: 'connect' | 'secureConnect';

  constructor(owner: UpstreamOwner, open: (reader: SocketReader) => net.Socket) {
    this.owner = owner;
    this.lastActive = owner.clock.now;
    // Body spans are recorded for every response: which framing applies is known only at its head,
    // after llhttp has already read the body bytes that came with it.
    this.parser.decodeBody = true;
    const socket = open(this);
    this.socket = socket;
    this.writer = new RequestWriter(socket, this.madeProgress);
    // A TLS backend is connected once its handshake is done, not at the TCP connect.
    this.connectEvent = socket instanceof tls.TLSSocket ? 'secureConnect' : 'connect';
    socket.on(this.connectEvent, this.onConnect);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  get connected(): boolean {
    return this.state === OPEN;
  }

  /** Runs `job` on this connection (writing now, or once connected). */
  start(job: Job): void {
    this.job = job;
    job.exchange = this;
    this.response = AWAITING;
    this.headPending = false;
    this.writer.reset();
    this.parser.expectNoBody = job.isHead;
    // The wait for the response is timed from the exact time, not the last tick's: the coarse
    // clock's stamp may be up to a tick old, and a 504 must never come before the timeout.
    const now = performance.now();
    if (job.record !== null) job.record.sentAt = now;
    this.lastActive = now;
    this.readOnlyWithCredit(job);
    if (this.state === OPEN) this.writer.write(job);
  }

  /** The client went away mid-exchange: this socket's state is unknown, so it is not reused. */
  abort(): void {
    if (this.job !== null) this.fail(null);
  }

  /** The pool's sweep: the socket is still connecting after connectTimeoutMs. */
  connectTimedOut(): void {
    this.fail(backendConnectTimeout(this.owner.address, this.owner.connectTimeoutMs));
  }

  /** The pool's sweep: a running exchange that made no progress for responseTimeoutMs. */
  timedOut(): void {
    if (this.writer.unfinished) {
      // The client stopped sending its body: its fault, not the backend's (no health penalty).
      this.fail(clientBodyTimeout(this.owner.responseTimeoutMs));
      return;
    }
    if (this.awaitingCredit) {
      // The client stopped reading the response (as nginx's send_timeout): not the backend's fault either.
      this.fail(clientStalled(this.owner.responseTimeoutMs));
      return;
    }
    const address = this.owner.address;
    this.fail(this.response === AWAITING ? backendTimeout(address, this.owner.responseTimeoutMs) : backendClosed(address));
  }

  destroy(): void {
    if (this.state === GONE) return;
    this.state = GONE;
    this.socket.destroy();
    this.owner.discarded(this);
  }

  /** The request writer sent more (the head, a body chunk): the response wait starts again, exactly timed (see start). */
  private readonly madeProgress = (): void => {
    this.lastActive = performance.now();
  };

  // ---- response ----

  /**
   * SocketReader: bytes from the backend, in the shared read buffer. The parser copies what it keeps
   * of a head; every piece sent on (to the output slot, a tunnel) is copied out first.
   */
  onRead(nread: number, buffer: Uint8Array): boolean {
    if (this.tunnelReader !== null) return this.tunnelReader.onRead(nread, buffer);
    if (this.job === null) {
      this.destroy(); // nothing was asked: the stream is out of step
      return false;
    }
    if (this.response === AWAITING) this.response = HEAD;
    this.lastActive = this.owner.clock.now;
    this.parse(Buffer.from(buffer.buffer, buffer.byteOffset, nread));
    return true;
  }

  private parse(chunk: Buffer): void {
    const parser = this.parser;
    let off = 0;
    for (;;) {
      const job = this.job;
      if (job === null) return;
      const ev = parser.execute(chunk, off);
      const at = parser.at;
      switch (ev) {
        case EV_NONE:
          // Bytes of a head still arriving are the parser's to keep, not the client's yet.
          if (this.headPending || (this.response >= INTERIM && at > off)) this.emit(chunk, off, at, false);
          return;
        case EV_HEAD:
          this.onHead(job);
          off = at;
          continue;
        case EV_END:
          if (at > off || this.headPending) this.emit(chunk, off, at, true);
          if (this.response === INTERIM) {
            // 100 Continue and other interim responses: the final response follows on this exchange.
            this.response = HEAD;
            off = at;
            continue;
          }
          this.ended(chunk, at);
          return;
        case EV_UPGRADE:
          this.ended(chunk, at);
          return;
        case EV_ERROR:
          this.fail(backendBadResponse(this.owner.address, `${parser.errorName}: ${parser.errorReason}`));
          return;
      }
    }
  }

  private onHead(job: Job): void {
    const parser = this.parser;
    this.scan.scan(parser);
    job.status = parser.statusCode; // an interim status is replaced by the final one
    this.headPending = true;
    this.framing.decide(parser, this.scan, job.isHead, job.http10);
    if (parser.statusCode === 101) {
      if (!job.upgrade) {
        this.fail(backendBadResponse(this.owner.address, 'switched protocols without being asked to'));
        return;
      }
      if (!switchesToRequested(job.upgradeTo, parser, this.scan)) {
        this.fail(backendBadResponse(this.owner.address, `switched to a protocol other than the ${job.upgradeTo} asked for`));
        return;
      }
      this.response = SWITCHING;
      return;
    }
    // Interim responses (100 Continue and friends) go through and the final one follows.
    if (parser.statusCode < 200) {
      this.response = INTERIM;
      return;
    }
    if (this.framing.refusal !== null) {
      this.fail(backendBadResponse(this.owner.address, this.framing.refusal));
      return;
    }
    // A 502/503/504 the pool retries on goes to another backend, not to the client (the socket with
    // the rest of it is not reused).
    if (parser.statusCode >= 502 && parser.statusCode <= 504 && this.owner.retriesOnStatus(job, parser.statusCode, this.progress())) {
      this.fail(backendStatus(this.owner.address, parser.statusCode));
      return;
    }
    this.response = FINAL;
    if (this.framing.out === BODY_CLOSE) job.closeAfter = true;
  }

  /** The response (or the 101 before a tunnel) is complete at `at` in `chunk`. */
  private ended(chunk: Buffer, at: number): void {
    if (this.response === SWITCHING) {
      this.handOver(Buffer.from(chunk.subarray(at)));
      return;
    }
    if (!this.finish()) return;
    if (at < chunk.length) this.destroy(); // bytes after a complete response: out of step
  }

  /** After 101 the socket leaves the pool and this object: it becomes the job's tunnel (tunnel/). */
  private handOver(early: Buffer): void {
    const job = this.job as Job;
    this.job = null;
    job.exchange = null;
    const socket = this.socket;
    socket.pause();
    this.writer.detach();
    socket.off(this.connectEvent, this.onConnect);
    socket.off('error', this.onError);
    socket.off('close', this.onClose);
    // Until the client connection reaches this response and joins the sockets, a reset must not
    // go unheard (an 'error' with no listener would end the process).
    socket.on('error', () => socket.destroy());
    this.state = GONE;
    this.owner.discarded(this);
    job.tunnel = { socket, early, readInto: (reader) => { this.tunnelReader = reader; } };
    job.settle(null);
  }

  /**
   * Sends the head (if pending) and the body of [from, to) to the output slot, framed as decided
   * (`end`: the response ends here); then reads on only with another read credit.
   */
  private emit(chunk: Buffer, from: number, to: number, end: boolean): void {
    const job = this.job as Job;
    const interim = this.response === INTERIM;
    // RFC 9110 §15.2: no 1xx response to an HTTP/1.0 client.
    if (interim && job.http10) {
      this.headPending = false;
      return;
    }
    // What the client gets of [from, to): the bytes as they are, or decoded and perhaps re-chunked.
    let body = chunk;
    if (this.framing.decoded) {
      body = this.framing.out === BODY_CHUNKED ? encodeChunked(this.parser, chunk, end) ?? NO_LINE : decodedBytes(this.parser, chunk);
      from = 0;
      to = body.length;
    }
    let out: Buffer;
    if (this.headPending) {
      this.headPending = false;
      const connection = this.response !== FINAL ? NO_LINE
        : job.closeAfter ? CONNECTION_CLOSE : job.http10 ? CONNECTION_KEEP_ALIVE : NO_LINE;
      out = this.relayable(connection, body, from)
        ? Buffer.from(body.subarray(from - this.parser.head.length, to)) // nothing to rewrite: the bytes as they came
        : responseHead(this.parser, this.scan, this.response === SWITCHING, this.framing.out, declaredLength(this.parser, this.framing.out),
          connection, body, from, to);
      if (!interim) job.finalStarted = true;
    } else {
      out = this.framing.decoded ? body : Buffer.from(body.subarray(from, to));
    }
    if (job.output.closed) return; // the client is gone; abort() follows from cancel()
    job.bytesOut += out.length;
    if (!interim) job.bodyBytesOut += to - from;
    if (out.length === 0) return;
    job.output.push(out);
    if (!end) this.readOnlyWithCredit(job);
  }

  /** Keeps the socket reading if the job's slot holds a read credit; else pauses it until one is granted. */
  private readOnlyWithCredit(job: Job): void {
    if (job.output.takeCredit()) return;
    this.awaitingCredit = true;
    this.socket.pause();
    job.output.awaitCredit(this);
  }

  /**
   * Whether the head the backend sent can go to the client byte for byte, with the body after it in
   * one copy: HTTP/1.1, one canonical Content-Length (no leading zero, no trailing whitespace), no
   * Transfer-Encoding, nothing to drop or add, and the head contiguous with the body in the read.
   */
  private relayable(connection: Buffer, body: Buffer, from: number): boolean {
    const p = this.parser;
    const scan = this.scan;
    if (connection !== NO_LINE || this.framing.out !== BODY_LENGTH || this.framing.decoded || p.transferEncoding) return false;
    if (p.versionMajor !== 1 || p.versionMinor !== 1 || scan.dropped !== 0 || scan.upgradeIndex >= 0) return false;
    const i = scan.contentLengthIndex;
    const length = p.valueLength(i);
    if (length !== decimalLength(p.contentLength) || (length > 1 && p.head[p.valueStart(i)] === 0x30)) return false;
    const head = p.head;
    return head.buffer === body.buffer && head.byteOffset + head.length === body.byteOffset + from;
  }

  /** CreditWaiter: the client's slot has room for another read again. */
  creditGranted(): void {
    this.awaitingCredit = false;
    this.lastActive = this.owner.clock.now;
    if (this.job !== null && this.state !== GONE) this.socket.resume();
  }

  /** The response is complete: settle the job and return the socket if it can carry another. */
  private finish(): boolean {
    const job = this.job as Job;
    if (job.record !== null) job.record.answeredAt = performance.now();
    this.job = null;
    job.exchange = null;
    this.exchanges++;
    // Trailers that said `Connection: close` turned keepAlive off; the client never sees them.
    const reusable = this.parser.keepAlive && !job.cancelled && !this.writer.unfinished;
    this.writer.stop();
    job.settle(null);
    this.awaitingCredit = false;
    if (!reusable) {
      this.destroy();
      return false;
    }
    this.lastActive = this.owner.clock.now;
    if (this.socket.isPaused()) this.socket.resume();
    this.owner.released(this);
    return true;
  }

  /** Ends the exchange with `error` (null: nothing to tell the client) and destroys the socket. */
  private fail(error: ProxyError | null): void {
    const job = this.job;
    this.job = null;
    this.writer.stop();
    if (job !== null) {
      job.exchange = null;
      if (error !== null && this.owner.retry(job, error, this.progress())) {
        this.destroy();
        return;
      }
      job.settle(error);
    }
    this.destroy();
  }

  /** What this attempt has done, for the retry rule. */
  private progress(): AttemptProgress {
    return { reusedSocket: this.exchanges > 0, written: this.writer.written, bodyRead: this.writer.bodyTaken, answered: this.response !== AWAITING };
  }

  // ---- socket events ----

  private readonly onConnect = (): void => {
    this.state = OPEN;
    this.lastActive = performance.now(); // the response wait starts here: exactly timed (see start)
    const job = this.job;
    if (job !== null) this.writer.write(job);
  };

  private readonly onError = (err: Error): void => {
    if (this.state === CONNECTING) {
      const e = err as NodeJS.ErrnoException;
      // No syscall: not the TCP connect but the TLS handshake (a certificate that did not verify, ...).
      const tlsFailed = this.connectEvent === 'secureConnect' && e.syscall === undefined;
      this.fail((tlsFailed ? backendTlsFailed : backendRefused)(this.owner.address, e.code ?? err.message));
      return;
    }
    this.fail(backendClosed(this.owner.address));
  };

  /** The backend closed its socket: a response that ends at close is complete; anything else was cut short. */
  private readonly onClose = (): void => {
    if (this.job !== null) {
      if (this.response !== AWAITING && this.parser.finish() === EV_END) {
        if (this.headPending || this.framing.out === BODY_CHUNKED) this.emit(NO_LINE, 0, 0, true); // the head, or the last chunk
        this.finish();
        return;
      }
      this.fail(this.state === OPEN ? backendClosed(this.owner.address) : backendRefused(this.owner.address, 'closed'));
    }
    if (this.state !== GONE) {
      this.state = GONE;
      this.owner.discarded(this);
    }
  };
}
