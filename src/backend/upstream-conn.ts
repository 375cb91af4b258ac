/**
 * One keep-alive socket to a backend and the exchange running on it: write the request head, stream
 * the request body, frame the response with llhttp, send its bytes to the job's output slot, then
 * go back to the pool (or be destroyed when the response or the job says it cannot be reused).
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
 *   every piece it read is accepted. When the backend socket cannot take more request body, the body
 *   channel is not read until it drains.
 * - Bytes from a backend with no exchange running (a response nobody asked for) destroy the socket.
 */
import type * as net from 'node:net';
import { CLOSED, EMPTY, type Receiver } from '../csp/chan.js';
import type { CreditWaiter } from '../exchange/response-slot.js';
import type { Clock } from '../clock.js';
import { Http1Parser, EV_NONE, EV_HEAD, EV_END, EV_UPGRADE, EV_ERROR } from '../http1/parser.js';
import { HeadScan } from '../http1/hop-by-hop.js';
import { responseHead } from '../http1/head.js';
import {
  ResponseFraming, declaredLength, decimalLength, decodedBytes, encodeChunked, BODY_CHUNKED, BODY_CLOSE, BODY_LENGTH,
} from '../http1/framing.js';
import type { Job, Exchange } from '../exchange/job.js';
import { clientBodyTimeout, clientStalled, backendBadResponse, backendClosed, backendConnectTimeout, backendRefused, backendTimeout, type ProxyError } from '../errors.js';

const CONNECTION_CLOSE = Buffer.from('Connection: close\r\n');
const CONNECTION_KEEP_ALIVE = Buffer.from('Connection: keep-alive\r\n');
const NO_LINE = Buffer.alloc(0);

function destroyQuietly(this: net.Socket): void {
  this.destroy();
}

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
  /** A reused socket died before any response byte: the job may be retried on a fresh one. */
  retry(job: Job): void;
}

/** Receives a socket's reads (`onread`): `buffer[0, nread)` is valid only during the call. */
export interface SocketReader {
  /** Returns false to pause the socket. */
  onRead(nread: number, buffer: Uint8Array): boolean;
}

/** The most a backend socket reads at once (the pool's read buffer): what a read credit is worth. */
export const MAX_READ = 64 * 1024;

export class UpstreamConn implements Exchange, Receiver<Buffer>, SocketReader, CreditWaiter {
  readonly socket: net.Socket;
  /** Has carried an exchange before (so a close before any response byte may be a keep-alive race). */
  reused = false;
  connected = false;
  /** Clock ms at the last progress (dial, connect, write, read): the sweep times slow connects, idle and silent sockets on it. */
  lastActive: number;
  job: Job | null = null;

  private readonly owner: UpstreamOwner;
  private readonly parser = new Http1Parser('response', { maxHeadBytes: 64 * 1024 });
  private readonly scan = new HeadScan();
  private readonly framing = new ResponseFraming();
  private responseStarted = false;
  private headPending = false;
  /** The current response's head has been parsed: bytes up to its end are body. */
  private inBody = false;
  /** The response being read is interim (1xx other than 101): the exchange goes on after it. */
  private interim = false;
  /** The backend answered 101 to an upgrade: after its head the socket becomes a tunnel. */
  private tunnelling = false;
  private closeClient = false;
  private bodyParked = false;
  private bodyBlocked = false;
  private closed = false;
  /** Paused until the client's slot grants a read credit (the client is not reading). */
  private awaitingCredit = false;

  /** The client socket this one relays to once it has become a tunnel. */
  private relayTo: net.Socket | null = null;

  constructor(owner: UpstreamOwner, open: (reader: SocketReader) => net.Socket) {
    this.owner = owner;
    this.lastActive = owner.clock.now;
    // Body spans are recorded for every response: which framing applies is known only at its head,
    // after llhttp has already read the body bytes that came with it.
    this.parser.decodeBody = true;
    const socket = open(this);
    this.socket = socket;
    socket.on('connect', this.onConnect);
    socket.on('drain', this.onDrain);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  /** Runs `job` on this connection (writing now, or once connected). */
  start(job: Job): void {
    this.job = job;
    job.exchange = this;
    this.responseStarted = false;
    this.headPending = false;
    this.inBody = false;
    this.interim = false;
    this.tunnelling = false;
    this.parser.expectNoBody = job.isHead;
    if (job.record !== null) job.record.sentAt = performance.now();
    this.lastActive = this.owner.clock.now;
    this.readOnlyWithCredit(job);
    if (this.connected) this.writeRequest(job);
  }

  /** The client went away mid-exchange: this socket's state is unknown, so it is not reused. */
  abort(): void {
    const job = this.job;
    if (job === null) return;
    this.fail(null);
  }

  /** The pool's sweep: the socket is still connecting after connectTimeoutMs. */
  connectTimedOut(): void {
    this.fail(backendConnectTimeout(this.owner.address, this.owner.connectTimeoutMs));
  }

  /** The pool's sweep: a running exchange that made no progress for responseTimeoutMs. */
  timedOut(): void {
    const body = this.job?.body;
    if (body !== null && body !== undefined && !body.closed) {
      // The client stopped sending its body: its fault, not the backend's (no health penalty).
      this.fail(clientBodyTimeout(this.owner.responseTimeoutMs));
      return;
    }
    if (this.awaitingCredit) {
      // The client stopped reading the response (as nginx's send_timeout): not the backend's fault either.
      this.fail(clientStalled(this.owner.responseTimeoutMs));
      return;
    }
    this.fail(this.responseStarted ? backendClosed(this.owner.address) : backendTimeout(this.owner.address, this.owner.responseTimeoutMs));
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.owner.discarded(this);
  }

  // ---- request ----

  private writeRequest(job: Job): void {
    const body = job.body;
    if (body === null) {
      this.socket.write(job.head);
      return;
    }
    this.socket.cork();
    this.socket.write(job.head);
    this.pumpBody();
    this.socket.uncork();
  }

  /** Moves request body chunks from the job to the socket until the channel is empty or the socket is full. */
  private pumpBody(): void {
    const body = this.job?.body;
    if (body === null || body === undefined) return;
    while (!this.bodyBlocked) {
      const chunk = body.tryRecv();
      if (chunk === EMPTY) {
        if (!this.bodyParked) {
          this.bodyParked = true;
          body.addReceiver(this);
        }
        return;
      }
      if (chunk === CLOSED) return;
      this.lastActive = this.owner.clock.now; // a body still arriving is progress, not silence
      if (!this.socket.write(chunk)) this.bodyBlocked = true;
    }
  }

  /** Receiver<Buffer>: a request body chunk (or the end of the body) arrived while parked. */
  receive(chunk: Buffer | typeof CLOSED): void {
    this.bodyParked = false;
    if (chunk === CLOSED || this.job === null) return;
    this.lastActive = this.owner.clock.now;
    if (!this.socket.write(chunk)) this.bodyBlocked = true;
    this.pumpBody();
  }

  private readonly onDrain = (): void => {
    if (!this.bodyBlocked) return;
    this.bodyBlocked = false;
    this.pumpBody();
  };

  // ---- response ----

  /**
   * SocketReader: bytes from the backend, in the shared read buffer. The parser copies what it keeps
   * of a head; every piece sent on (to the output slot, a tunnel) is copied out first.
   */
  onRead(nread: number, buffer: Uint8Array): boolean {
    const chunk = Buffer.from(buffer.buffer, buffer.byteOffset, nread);
    if (this.relayTo !== null) return this.relayTo.write(Buffer.from(chunk)); // false pauses until 'drain'
    if (this.job === null) {
      this.destroy(); // nothing was asked: the stream is out of step
      return false;
    }
    this.responseStarted = true;
    this.lastActive = this.owner.clock.now;
    this.parse(chunk, 0);
    return true;
  }

  private parse(chunk: Buffer, from: number): void {
    const parser = this.parser;
    let off = from;
    for (;;) {
      const job = this.job;
      if (job === null) return;
      const ev = parser.execute(chunk, off);
      const at = parser.at;
      switch (ev) {
        case EV_NONE:
          // Bytes of a head still arriving are the parser's to keep, not the client's yet.
          if (this.headPending || (this.inBody && at > off)) this.emit(chunk, off, at, false);
          return;
        case EV_HEAD:
          this.onHead(job);
          off = at;
          continue;
        case EV_END:
          if (at > off || this.headPending) this.emit(chunk, off, at, true);
          if (this.interim) {
            // 100 Continue and other interim responses: the final response follows on this exchange.
            this.interim = false;
            this.inBody = false;
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
    this.inBody = true;
    this.framing.decide(parser, this.scan, job.isHead, job.http10);
    if (parser.statusCode === 101) {
      if (!job.upgrade) {
        this.fail(backendBadResponse(this.owner.address, 'switched protocols without being asked to'));
        return;
      }
      this.tunnelling = true;
      return;
    }
    // Interim responses (100 Continue and friends) go through and the final one follows.
    if (parser.statusCode < 200) {
      this.interim = true;
      this.closeClient = false;
      return;
    }
    if (this.framing.refusal !== null) {
      this.fail(backendBadResponse(this.owner.address, this.framing.refusal));
      return;
    }
    this.closeClient = job.closeAfter || this.framing.out === BODY_CLOSE;
    if (this.closeClient) job.closeAfter = true;
  }

  /** The response (or the 101 before a tunnel) is complete at `at` in `chunk`. */
  private ended(chunk: Buffer, at: number): void {
    if (this.tunnelling) {
      this.handOver(Buffer.from(chunk.subarray(at)));
      return;
    }
    if (!this.finish()) return;
    if (at < chunk.length) this.destroy(); // bytes after a complete response: out of step
  }

  /** After 101 the socket leaves the pool and this object: it becomes the job's tunnel. */
  private handOver(head: Buffer): void {
    const job = this.job as Job;
    this.job = null;
    job.exchange = null;
    const socket = this.socket;
    socket.pause();
    socket.off('connect', this.onConnect);
    socket.off('drain', this.onDrain);
    socket.off('error', this.onError);
    socket.off('close', this.onClose);
    // Until the client connection reaches this response and joins the sockets, a reset must not
    // go unheard (an 'error' with no listener would end the process).
    socket.on('error', destroyQuietly);
    this.closed = true;
    this.owner.discarded(this);
    job.tunnel = { socket, head, relay: (client) => this.relay(client) };
    job.settle(null);
  }

  /** Tunnel: from now on the backend's bytes go to `client` (paused while it needs to drain). */
  private relay(client: net.Socket): void {
    this.relayTo = client;
    client.on('drain', () => this.socket.resume());
    this.socket.on('end', () => client.end());
    this.socket.resume();
  }


  /**
   * Sends the head (if pending) and the body of [from, to) to the output slot, framed as decided
   * (`end`: the response ends here); then reads on only with another read credit.
   */
  private emit(chunk: Buffer, from: number, to: number, end: boolean): void {
    const job = this.job as Job;
    // RFC 9110 §15.2: no 1xx response to an HTTP/1.0 client.
    if (this.interim && job.http10) {
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
      const connection = this.interim || this.tunnelling ? NO_LINE
        : this.closeClient ? CONNECTION_CLOSE : job.http10 ? CONNECTION_KEEP_ALIVE : NO_LINE;
      out = this.relayable(connection, body, from)
        ? Buffer.from(body.subarray(from - this.parser.head.length, to)) // nothing to rewrite: the bytes as they came
        : responseHead(this.parser, this.scan, this.tunnelling, this.framing.out, declaredLength(this.parser, this.framing.out),
          connection, body, from, to);
      if (!this.interim) job.finalStarted = true;
    } else {
      out = this.framing.decoded ? body : Buffer.from(body.subarray(from, to));
    }
    if (job.output.closed) return; // the client is gone; abort() follows from cancel()
    job.bytesOut += out.length;
    if (!this.interim) job.bodyBytesOut += to - from;
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
    if (this.job !== null && !this.closed) this.socket.resume();
  }

  /** The response is complete: settle the job and return the socket if it can carry another. */
  private finish(): boolean {
    const job = this.job as Job;
    if (job.record !== null) job.record.answeredAt = performance.now();
    this.job = null;
    job.exchange = null;
    this.reused = true;
    // Trailers that said `Connection: close` turned keepAlive off; the client never sees them.
    const reusable = this.parser.keepAlive && !job.cancelled && !this.bodyParked && (job.body === null || job.body.closed);
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
    if (job !== null) {
      job.exchange = null;
      if (this.bodyParked && job.body !== null) job.body.removeReceiver(this);
      this.bodyParked = false;
      if (error !== null && this.reused && !this.responseStarted && job.idempotent && job.body === null && !job.retried && !job.cancelled) {
        job.retried = true;
        this.destroy();
        this.owner.retry(job);
        return;
      }
      job.settle(error);
    }
    this.destroy();
  }

  // ---- socket events ----

  private readonly onConnect = (): void => {
    this.connected = true;
    this.lastActive = this.owner.clock.now;
    const job = this.job;
    if (job !== null) this.writeRequest(job);
  };


  private readonly onError = (err: Error): void => {
    if (!this.connected) {
      this.fail(backendRefused(this.owner.address, (err as NodeJS.ErrnoException).code ?? err.message));
      return;
    }
    this.fail(backendClosed(this.owner.address));
  };

  /** The backend closed its socket: a response that ends at close is complete; anything else was cut short. */
  private readonly onClose = (): void => {
    if (this.job !== null) {
      if (this.responseStarted && this.parser.finish() === EV_END) {
        if (this.headPending || this.framing.out === BODY_CHUNKED) this.emit(NO_LINE, 0, 0, true); // the head, or the last chunk
        this.finish();
        return;
      }
      this.fail(this.connected ? backendClosed(this.owner.address) : backendRefused(this.owner.address, 'closed'));
    }
    if (!this.closed) {
      this.closed = true;
      this.owner.discarded(this);
    }
  };
}
