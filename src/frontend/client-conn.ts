/**
 * One client socket: bytes in → llhttp (request mode) → a Job per request on the work channel;
 * each job's output slot drained in request order → bytes out.
 *
 * Invariants:
 * - `pipeline` holds this connection's jobs in request order; only the front one is written, so
 *   pipelined responses go out in order even when later ones finish first (they wait in their slots).
 * - Reading stops (`blocked`, socket paused, the rest of the chunk kept in `stash`) while the work
 *   channel or a request body channel is full, or `maxPipeline` requests are in flight; it resumes
 *   from the stash when the blocker clears. Writing stops while the socket needs to drain, so a slow
 *   reader fills the slots and that pauses the backend socket.
 * - After an error response or a `Connection: close` exchange no further request is read; what the
 *   client still sends is read and discarded for a bounded time and amount (a lingering close, as
 *   nginx's), so our close does not reset the connection before the client has read the response.
 * - At most `OUTPUT_BUDGET` bytes of response wait in the jobs' slots (response-slot.ts), plus what
 *   the socket buffers before `write` says stop (its 16 KiB high-water mark, and the chunk that
 *   crossed it: one backend read, at most 64 KiB).
 * - When the socket closes, every job not yet settled is cancelled: its backend socket is destroyed,
 *   never pooled, and its worker's pending count still comes back down.
 */
import type * as net from 'node:net';
import { CLOSED, EMPTY, type Chan, type Receiver, type Sender } from '../csp/chan.js';
import { Ring } from '../csp/ring.js';
import { Http1Parser, EV_NONE, EV_HEAD, EV_END, EV_UPGRADE, EV_ERROR } from '../http1/parser.js';
import { HeadScan } from '../http1/hop-by-hop.js';
import { requestHead, type ForwardedLines } from '../http1/head.js';
import { cannedResponse, cannedBodyLength } from '../http1/canned.js';
import { requestBody, encodeChunked, BODY_CHUNKED } from '../http1/framing.js';
import { Job, type Tunnel } from '../exchange/job.js';
import { OutputBudget } from '../exchange/response-slot.js';
import { MAX_READ } from '../backend/upstream-conn.js';
import { isIdempotent, METHOD_HEAD } from '../http1/methods.js';
import { ProxyError } from '../errors.js';
import { tunnel } from '../tunnel/tunnel.js';
import { Admission, parseRefusal, type AdmissionLimits } from './admission.js';
import type { Clock } from '../clock.js';
import type { AccessLog } from '../log/access-log.js';
import type { EventLog } from '../log/event-log.js';
import type { Routing } from '../routing/routing.js';
import type { TrustedProxies } from './trusted-proxies.js';
import { requestRecord, refusedRecord, accessEntry } from '../log/request-record.js';

export interface ClientLimits extends AdmissionLimits {
  maxPipeline: number;
  /** A client that has begun a request head must finish it within this (slowloris): 408 and close. */
  headerTimeoutMs: number;
  /** A client connection with nothing in flight closes after this. */
  keepAliveTimeoutMs: number;
}

/** Response bytes one client connection may hold queued for it (see the file comment). */
export const OUTPUT_BUDGET = 128 * 1024;
/**
 * A connection closing after its last response (an error, `Connection: close`) reads and discards
 * what the client still sends for this long and this much at most, so the client reads the
 * response before our close resets the connection (nginx's lingering close).
 */
export const LINGER_MS = 5_000;
const LINGER_BYTES = 4 * 1024 * 1024;

/**
 * What every client connection of one proxy shares. A reload replaces `routing`, the limits and the
 * logs: each request reads them when its head is complete, so requests in flight keep what they had;
 * the header and keep-alive timeouts apply to every connection from then on.
 */
export interface ClientContext {
  routing: Routing;
  limits: ClientLimits;
  clock: Clock;
  accessLog: AccessLog | null;
  eventLog: EventLog | null;
  trustedProxies: TrustedProxies | null;
}

/** Who the client is and where it connected: its address, and the X-Forwarded-* lines made once per connection. */
export interface ClientAddress {
  address: string;
  forwarded: ForwardedLines;
  /** The listening port the connection arrived on (routes may match it). */
  port: number;
}

/** What resumes after the blocked send is taken. */
const AFTER_NOTHING = 0;
const AFTER_BODY_END = 1;

export class ClientConn implements Receiver<Buffer> {
  private readonly socket: net.Socket;
  private readonly limits: ClientLimits;
  private readonly fwd: ForwardedLines;
  /** Shared with every connection of the proxy; its access log is read per request (it closes at shutdown). */
  private readonly context: ClientContext;
  private readonly parser: Http1Parser;
  private readonly scan = new HeadScan();
  private readonly admission: Admission;
  private readonly pipeline = new Ring<Job>(4);
  private readonly budget = new OutputBudget(OUTPUT_BUDGET, MAX_READ);
  /** The request whose body is being read (null between requests). */
  private reading: Job | null = null;
  /** The most recent job (the last in `pipeline` while it is there). */
  private newest: Job | null = null;
  private readingDone = false;
  private closed = false;
  private draining = false;
  /** Bytes the client sent after an upgrade request: the start of the tunnel, if there is one. */
  private upgradeRest: Buffer | null = null;

  // Timeouts: clock ms when each wait began.
  private readonly clock: Clock;
  private lastActive: number;
  private headSince = -1;
  /** Since when the connection has been closing (our FIN sent), discarding what the client sends; -1 before. */
  private lingerSince = -1;
  private discarded = 0;

  // Input backpressure.
  private blocked = false;
  private stash: Buffer | null = null;
  private stashAt = 0;
  private afterBlocked = AFTER_NOTHING;
  /** The job whose body END waits behind a blocked body chunk. */
  private bodyEnded: Job | null = null;
  private readonly workSend: ParkedSend<Job>;
  private readonly bodySend: ParkedSend<Buffer>;

  // Output.
  private outputParked = false;
  private writeBlocked = false;

  constructor(socket: net.Socket, context: ClientContext, client: ClientAddress) {
    this.socket = socket;
    this.clock = context.clock;
    this.lastActive = context.clock.now;
    this.limits = context.limits;
    this.context = context;
    this.fwd = client.forwarded;
    this.admission = new Admission(client);
    this.parser = new Http1Parser('request', { maxHeadBytes: context.limits.maxHeadBytes });
    this.parser.decodeBody = true; // the body limit counts payload, not chunk framing
    this.workSend = new ParkedSend<Job>(this);
    this.bodySend = new ParkedSend<Buffer>(this);
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('drain', this.onDrain);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  get inFlight(): number {
    return this.pipeline.length;
  }

  /** Response bytes this connection holds for its client: queued in slots, and in the socket. */
  get bufferedOutput(): number {
    return this.budget.queued + this.socket.writableLength;
  }

  /** Closes the connection now (server shutdown past its deadline). */
  destroy(): void {
    this.socket.destroy();
  }

  /**
   * Graceful shutdown: requests already read (or being read) are answered, the last with
   * `Connection: close` where its head has not gone out yet; no further request is read. An idle
   * connection stays open until `closeIfIdle()` (a short grace): a request already on its way is
   * answered, with `Connection: close`, rather than lost to the race with our FIN.
   */
  drain(): void {
    if (this.closed || this.draining) return;
    this.draining = true;
    if (this.pipeline.length > 0 && !this.parser.inMessage) {
      this.readingDone = true;
      if (this.newest !== null) this.newest.closeAfter = true;
    }
  }

  /** Draining, with nothing in flight and no request begun: close. */
  closeIfIdle(): void {
    if (this.closed || !this.draining || this.readingDone || this.pipeline.length > 0 || this.parser.inMessage) return;
    this.readingDone = true;
    this.socket.end();
  }

  /** The proxy's sweep: a head begun and not finished in time gets 408; an idle connection closes. */
  sweep(now: number): void {
    if (this.closed) return;
    if (this.lingerSince >= 0) {
      if (now - this.lingerSince >= LINGER_MS) this.socket.destroy();
      return;
    }
    if (this.upgradeRest !== null) return;
    if (this.headSince >= 0 && now - this.headSince >= this.context.limits.headerTimeoutMs) {
      this.headSince = -1;
      this.refuse(new ProxyError('PRX_ERR_HEAD_TIMEOUT', 'the request head was not complete in time'));
    } else if (this.pipeline.length === 0 && !this.parser.inMessage && now - this.lastActive >= this.context.limits.keepAliveTimeoutMs) {
      this.socket.destroy();
    }
  }

  // ---- reading requests ----

  private readonly onData = (chunk: Buffer): void => {
    if (this.readingDone) {
      // Closing: discard, within bounds (see lingerSince).
      this.discarded += chunk.length;
      if (this.discarded > LINGER_BYTES) this.socket.destroy();
      return;
    }
    this.lastActive = this.clock.now;
    this.parse(chunk, 0);
    if (!this.parser.readingHead) this.headSince = -1;
    else if (this.headSince < 0) this.headSince = this.clock.now;
  };

  private parse(chunk: Buffer, from: number): void {
    const parser = this.parser;
    let off = from;
    while (!this.readingDone) {
      if (this.pipeline.length >= this.limits.maxPipeline && this.reading === null && off < chunk.length) {
        this.block(chunk, off, AFTER_NOTHING); // resumed when the front response is written
        return;
      }
      const ev = parser.execute(chunk, off);
      const at = parser.at;
      switch (ev) {
        case EV_NONE:
          if (at > off && this.reading !== null) this.sendBody(this.reading, chunk, off, at, AFTER_NOTHING, false);
          return;
        case EV_HEAD:
          off = at;
          if (!this.onHead(chunk, off)) return;
          continue;
        case EV_END: {
          const job = this.reading;
          this.reading = null;
          // Trailers that said `Connection: close` end this connection (the client's parser has
          // stopped); the backend never sees them (framing.ts forwards no hop-by-hop trailer field).
          if (job !== null && parser.closedByTrailers) job.closeAfter = true;
          if (job !== null && job.body !== null) {
            if ((at > off || job.chunkedBody) && !this.sendBody(job, chunk, off, at, AFTER_BODY_END, true)) {
              this.bodyEnded = job;
              return;
            }
            if (!job.body.closed) job.body.close();
          }
          off = at;
          // Draining: the request being read when shutdown began is the last one.
          if (this.draining && this.newest !== null) this.newest.closeAfter = true;
          // An upgrade request ends in EV_UPGRADE next, which keeps the bytes after it for the tunnel.
          if (this.newest !== null && this.newest.closeAfter && !this.newest.upgrade) this.readingDone = true;
          continue;
        }
        case EV_UPGRADE:
          // What follows belongs to the tunnel if the backend agrees (101), else to nobody: the
          // connection closes after the response. Stop reading until then.
          this.readingDone = true;
          this.upgradeRest = chunk.subarray(at);
          this.socket.pause();
          return;
        case EV_ERROR:
          this.abortRequest(this.reading, parseRefusal(parser, this.limits.maxHeadBytes));
          return;
      }
    }
  }

  /** A request head is complete: admit it, make its job and send it on the work channel. */
  private onHead(chunk: Buffer, bodyStart: number): boolean {
    const p = this.parser;
    const scan = this.scan;
    scan.scan(p);
    const admission = this.admission;
    const refusal = admission.admit(p, scan, this.context, performance.now());
    const route = admission.route;
    if (refusal !== null || route === null) {
      this.refuse(refusal ?? new ProxyError('PRX_ERR_NO_ROUTE', 'no route'), admission.retryAfter, admission.client);
      return false;
    }
    const bodyMode = requestBody(p);
    const hasBody = bodyMode === BODY_CHUNKED || p.contentLength > 0;
    // A tunnel is offered only by a request without a body (a WebSocket handshake has none); one
    // with a body (h2c from curl --http2) goes as an ordinary request, the connection closing after.
    const upgrade = p.upgrade && !hasBody;
    const job = new Job({
      head: requestHead(p, scan, admission.target, this.fwd, upgrade, bodyMode, p.contentLength),
      hasBody,
      isHead: p.method === METHOD_HEAD,
      idempotent: isIdempotent(p.method),
      // After an upgrade request only a tunnel can follow: if the backend declines, close.
      closeAfter: !p.keepAlive || p.upgrade,
      http10: p.versionMajor === 1 && p.versionMinor === 0,
      upgrade,
      chunkedBody: bodyMode === BODY_CHUNKED,
    });
    job.output.budget = this.budget;
    if (this.context.accessLog !== null) job.record = requestRecord(p, admission.client);
    this.pipeline.push(job);
    this.newest = job;
    if (hasBody) this.reading = job;
    if (this.pipeline.length === 1) this.writeFront();
    const work = route.pool.work;
    if (work.trySend(job)) return true;
    this.block(chunk, bodyStart, AFTER_NOTHING);
    this.workSend.park(work, job);
    return false;
  }

  /**
   * Sends request body bytes [from, to) of `chunk` to the reading job, as the backend gets them: as
   * they are under Content-Length, re-chunked under chunked (`end`: with the last chunk and the
   * trailers). False if the body channel is full (reading blocks).
   */
  private sendBody(job: Job, chunk: Buffer, from: number, to: number, after: number, end: boolean): boolean {
    const body = job.body;
    if (body === null || body.closed) return true; // the exchange already ended
    job.bodyBytes += this.parser.bodyBytes;
    if (job.bodyBytes > this.limits.maxBodyBytes) {
      this.abortRequest(job, new ProxyError('PRX_ERR_BODY_TOO_LARGE', 'request body over the body limit'));
      return false;
    }
    const piece = job.chunkedBody ? encodeChunked(this.parser, chunk, end) : chunk.subarray(from, to);
    if (piece === null || body.trySend(piece)) return true;
    this.block(chunk, to, after);
    this.bodySend.park(body, piece);
    return false;
  }

  private block(chunk: Buffer, at: number, after: number): void {
    this.blocked = true;
    this.stash = chunk;
    this.stashAt = at;
    this.afterBlocked = after;
    this.socket.pause();
  }

  /** A blocked send was taken (ok) or its channel closed; or the pipeline has room again. */
  unblock(): void {
    if (!this.blocked || this.closed) return;
    this.blocked = false;
    const chunk = this.stash as Buffer;
    this.stash = null;
    if (this.afterBlocked === AFTER_BODY_END) {
      const job = this.bodyEnded;
      this.bodyEnded = null;
      if (job !== null && job.body !== null && !job.body.closed) job.body.close();
      if (job !== null && job.closeAfter) this.readingDone = true;
    }
    this.parse(chunk, this.stashAt);
    if (!this.blocked && !this.closed) this.socket.resume();
  }

  /**
   * The request being read cannot go on (malformed, too large): its exchange, if it started, is
   * cancelled (the backend socket is destroyed, so the backend never sees it complete), and the
   * client gets `status` after the responses before it, unless a response had already begun.
   */
  private abortRequest(job: Job | null, refusal: ProxyError): void {
    this.reading = null;
    if (job !== null) job.cancel();
    this.refuse(refusal);
  }

  /** Answers a bad request with the refusal's status after the responses before it, and reads no more. */
  private refuse(refusal: ProxyError, retryAfter = 0, client = this.admission.peer.address): void {
    this.readingDone = true;
    this.context.eventLog?.refused(client, refusal.status, refusal.message);
    // A refused HEAD request (its head parsed far enough to know) gets the error without a body.
    const job = localResponse(refusal.status, this.parser.methodSoFar === METHOD_HEAD, retryAfter);
    job.output.budget = this.budget;
    if (this.context.accessLog !== null) job.record = refusedRecord(this.parser, client);
    this.pipeline.push(job);
    if (this.pipeline.length === 1) this.writeFront();
  }

  // ---- writing responses ----

  /** Writes the front job's buffered output; parks on its slot when it is empty. */
  private writeFront(): void {
    for (;;) {
      const job = this.pipeline.peek();
      if (job === undefined || this.writeBlocked || this.outputParked || this.closed) return;
      if (this.budget.front !== job.output) {
        this.budget.front = job.output;
        this.budget.grant();
      }
      const chunk = job.output.tryRecv();
      if (chunk === EMPTY) {
        this.outputParked = true;
        job.output.addReceiver(this);
        return;
      }
      if (chunk === CLOSED) {
        this.frontDone(job);
        continue;
      }
      this.write(chunk);
      this.budget.grant();
    }
  }

  /** Receiver<Buffer>: the front job's slot produced a chunk, or closed. */
  receive(chunk: Buffer | typeof CLOSED): void {
    this.outputParked = false;
    const job = this.pipeline.peek();
    if (job === undefined) return;
    if (chunk === CLOSED) this.frontDone(job);
    else this.write(chunk);
    this.writeFront();
  }

  private write(chunk: Buffer): void {
    if (!this.socket.write(chunk)) this.writeBlocked = true;
  }

  private readonly onDrain = (): void => {
    this.writeBlocked = false;
    this.writeFront();
  };

  private frontDone(job: Job): void {
    this.pipeline.shift();
    const log = this.context.accessLog;
    // A request cancelled before any response (refused mid-body) is logged by its refusal, once.
    if (log !== null && job.record !== null && !(job.cancelled && !job.finalStarted)) log.write(accessEntry(job));
    this.lastActive = this.clock.now;
    if (job.tunnel !== null) {
      this.startTunnel(job.tunnel);
      return;
    }
    if (job.aborted || (job.cancelled && job.finalStarted)) {
      this.socket.destroy(); // the response was cut short: never let it look complete
      return;
    }
    if (job.closeAfter) {
      this.readingDone = true;
      // Reading may be paused (a declined upgrade, a blocked pipeline): resume, discarding, so the
      // client's own FIN is seen and the socket closes; the sweep cuts one that lingers too long.
      this.upgradeRest = null;
      this.lingerSince = this.clock.now;
      this.socket.resume();
      this.socket.end();
      return;
    }
    if (this.blocked && this.afterBlocked === AFTER_NOTHING && this.workSend.chan === null && this.bodySend.chan === null) {
      this.unblock();
    }
  }

  /** The backend agreed to switch protocols: from here on the two sockets are one byte pipe. */
  private startTunnel(t: Tunnel): void {
    const socket = this.socket;
    socket.off('data', this.onData);
    socket.off('drain', this.onDrain);
    socket.off('end', this.onEnd);
    socket.off('error', this.onError);
    tunnel(socket, this.upgradeRest ?? Buffer.alloc(0), t);
    this.upgradeRest = null;
  }

  // ---- socket end ----

  private readonly onEnd = (): void => {
    // The client half-closed: answer what it sent, then close. A request cut short by the FIN can
    // never complete: its exchange is cancelled and it is answered 400.
    if (this.upgradeRest !== null) return; // the tunnel (or the close after a declined upgrade) decides
    if (!this.readingDone && (this.reading !== null || this.parser.inMessage)) {
      this.abortRequest(this.reading, new ProxyError('PRX_ERR_CLIENT_CLOSED', 'the client closed its side mid-request'));
      return;
    }
    this.readingDone = true;
    if (this.pipeline.length === 0) this.socket.end();
    else if (this.newest !== null) this.newest.closeAfter = true;
  };

  private readonly onError = (): void => {
    // 'close' follows; ECONNRESET and friends need no answer.
  };

  private readonly onClose = (): void => {
    this.closed = true;
    this.readingDone = true;
    for (let job = this.pipeline.shift(); job !== undefined; job = this.pipeline.shift()) job.cancel();
    if (this.blocked) {
      this.workSend.cancel();
      this.bodySend.cancel();
      this.blocked = false;
      this.stash = null;
    }
    this.parser.destroy();
  };
}

const NO_HEAD = Buffer.alloc(0);

/** A response made here (an error), already complete in its slot. */
function localResponse(status: number, toHead: boolean, retryAfter: number): Job {
  const job = new Job({ head: NO_HEAD, hasBody: false, isHead: toHead, idempotent: false, closeAfter: true, http10: false, upgrade: false, chunkedBody: false });
  const canned = cannedResponse(status, toHead, retryAfter);
  job.output.push(canned);
  job.status = status;
  job.bytesOut = canned.length;
  job.bodyBytesOut = toHead ? 0 : cannedBodyLength(status);
  job.finalStarted = true;
  job.settle(null);
  return job;
}

/** A send a blocked connection waits on (one on the work channel, one on a body channel). */
class ParkedSend<T> implements Sender<T> {
  value!: T; // set by park() before the channel can read it
  chan: Chan<T> | null = null;
  private readonly conn: ClientConn;

  constructor(conn: ClientConn) {
    this.conn = conn;
  }

  park(chan: Chan<T>, value: T): void {
    this.chan = chan;
    this.value = value;
    chan.addSender(this);
  }

  sent(_ok: boolean): void {
    this.chan = null;
    this.conn.unblock();
  }

  cancel(): void {
    const chan = this.chan;
    this.chan = null;
    if (chan !== null) chan.removeSender(this);
  }
}
