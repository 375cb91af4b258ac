/**
 * One client socket: bytes in → llhttp (request mode) → admission → a Job per request on its
 * pool's work channel; the responses written in request order by its ResponseQueue.
 *
 * The reading side is in one phase at a time:
 *   READING    requests are parsed and sent on (`blocked` while a channel is full, `maxPipeline`
 *              requests are in flight or a rate limit shared with other processes is asking for a
 *              token: the socket paused, the rest of the chunk kept in `stash`)
 *   UPGRADING  an upgrade request was read: reading is paused, the bytes after it kept, until its
 *              response says whether a tunnel follows (101) or the connection closes
 *   CLOSING    no further request is read: after an error, a `Connection: close` exchange, the
 *              client's FIN or a shutdown. Once the last response is written, what the client
 *              still sends is read and discarded within bounds (a lingering close, as nginx's),
 *              so our close does not reset the connection before the client has read it
 *   TUNNEL     the socket belongs to the tunnel module
 *   CLOSED     the socket closed; every job not yet settled was cancelled (its backend socket
 *              destroyed, never pooled; its worker's pending count still comes back down)
 */
import type * as net from 'node:net';
import type { Chan, Sender } from '../csp/chan.js';
import { EV_NONE, EV_HEAD, EV_END, EV_UPGRADE, EV_ERROR, type Http1Parser } from '../http1/parser.js';
import type { HeadScan } from '../http1/hop-by-hop.js';
import { requestHead, type ForwardedLines } from '../http1/head.js';
import { requestBody, encodeChunked, BODY_CHUNKED } from '../http1/framing.js';
import { isIdempotent, METHOD_HEAD } from '../http1/methods.js';
import { Job, type JobInit } from '../exchange/job.js';
import { OutputBudget } from '../exchange/response-slot.js';
import { ProxyError } from '../errors.js';
import type { Clock } from '../clock.js';
import { MAX_READ } from '../backend/upstream-conn.js';
import { joinTunnel } from '../tunnel/tunnel.js';
import type { AccessLog } from '../log/access-log.js';
import type { EventLog } from '../log/event-log.js';
import { requestRecord, refusedRecord, accessEntry } from '../log/request-record.js';
import type { RequestMeter } from '../metrics/request-meter.js';
import type { Routing } from '../routing/routing.js';
import type { LeaseWaiter } from '../routing/client-limiter.js';
import { Admission, parseRefusal, type AdmissionLimits } from './admission.js';
import { ResponseQueue, type FrontOwner } from './response-queue.js';
import { giveParser, restingParser, restingScan, takeParser } from './parser-pool.js';
import type { TrustedProxies } from './trusted-proxies.js';
import type { Addresses } from '../proxy-protocol/types.js';

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
  /** Requests the proxy refused itself, for the metrics; null: metrics off (and requests are not timed). */
  refusals: RequestMeter | null;
  /** Told once a connection's socket has closed (after the connection let go of everything). */
  closed?: (client: ClientConn) => void;
}

/** Who the client is and where it connected: its address, and the X-Forwarded-* lines made once per connection. */
export interface ClientAddress {
  address: string;
  forwarded: ForwardedLines;
  /** The listening port the connection arrived on (routes may match it). */
  port: number;
  /** The TLS version of an HTTPS connection (`TLSv1.3`), for the access log; '' for plain HTTP. */
  tls: string;
  /** The client's TCP addresses (from a PROXY header, else the socket's): what a pool's send_proxy writes. */
  origin: Addresses;
}

const NO_HEAD = Buffer.alloc(0);
/**
 * What the next Job is made from, filled in by forward() and copied by the Job constructor at once:
 * one object for the process rather than one per request (or per connection).
 */
const jobInit: JobInit = {
  head: NO_HEAD, hasBody: false, isHead: false, idempotent: false, closeAfter: false, http10: false, upgrade: false, upgradeTo: '', chunkedBody: false,
};

/**
 * Every client socket's listeners are these few functions, shared, finding their connection through
 * the socket: a closure per listener and connection would cost an idle connection about 400 bytes.
 */
const CONN = Symbol('chanlb.clientConn');
interface ClientSocket extends net.Socket {
  [CONN]: ClientConn;
}
const connOf = (socket: net.Socket): ClientConn => (socket as ClientSocket)[CONN];
function onSocketData(this: net.Socket, chunk: Buffer): void {
  connOf(this).onData(chunk);
}
function onSocketEnd(this: net.Socket): void {
  connOf(this).onEnd();
}
function onSocketError(): void {
  // 'close' follows; ECONNRESET and friends need no answer.
}
function onSocketClose(this: net.Socket): void {
  connOf(this).onClose();
}
function onSocketDrain(this: net.Socket): void {
  connOf(this).responses.drained();
}

/** What resumes after the blocked send is taken. */
const AFTER_NOTHING = 0;
const AFTER_BODY_END = 1;

const READING = 0;
const UPGRADING = 1;
const CLOSING = 2;
const TUNNEL = 3;
const CLOSED = 4;

export class ClientConn implements LeaseWaiter, FrontOwner {
  private readonly socket: net.Socket;
  private readonly limits: ClientLimits;
  private readonly fwd: ForwardedLines;
  private readonly origin: Addresses;
  /** Shared with every connection of the proxy; a reload replaces what is in it. */
  private readonly context: ClientContext;
  /** restingParser() while nothing is in flight (parser-pool.ts); a pooled one from the first byte read. */
  private parser: Http1Parser;
  private scan: HeadScan;
  private readonly admission: Admission;
  /** Its socket's 'drain' goes here (onSocketDrain). */
  readonly responses: ResponseQueue;
  private phase = READING;
  /** Shutdown: the request being read now is the last. */
  private draining = false;
  /** The request whose body is being read (null between requests). */
  private reading: Job | null = null;
  /** The most recent job. */
  private newest: Job | null = null;
  /** UPGRADING: the bytes the client sent after its upgrade request (the start of the tunnel, if there is one). */
  private upgradeRest: Buffer | null = null;

  // Timeouts: clock ms when each wait began (-1: not waiting).
  private readonly clock: Clock;
  private lastActive: number;
  private headSince = -1;
  /** CLOSING: since when our FIN is out and what the client sends is discarded. */
  private lingerSince = -1;
  private discarded = 0;

  /** parse() is running (restIfIdle waits). */
  private parsing = false;

  // Input backpressure (READING).
  private blocked = false;
  private stash: Buffer | null = null;
  private stashAt = 0;
  private afterBlocked = AFTER_NOTHING;
  /** The job whose body END waits behind a blocked body chunk. */
  private bodyEnded: Job | null = null;
  /** Blocked on the rate limiter's answer for the request whose head was read last (see leased). */
  private leaseWait = false;
  /** Made at the first send that has to wait: most connections never block. */
  private workSend: ParkedSend<Job> | null = null;
  private bodySend: ParkedSend<Buffer> | null = null;

  /** See ClientAddress.tls. */
  private readonly tls: string;

  constructor(socket: net.Socket, context: ClientContext, client: ClientAddress) {
    this.socket = socket;
    this.clock = context.clock;
    this.lastActive = context.clock.now;
    this.limits = context.limits;
    this.context = context;
    this.fwd = client.forwarded;
    this.tls = client.tls;
    this.origin = client.origin;
    this.admission = new Admission(client, this);
    this.responses = new ResponseQueue(socket, new OutputBudget(OUTPUT_BUDGET, MAX_READ), this);
    // A parser is taken up at the first byte (onData): a connection that has sent nothing holds none.
    this.parser = restingParser();
    this.scan = restingScan();
    socket.setNoDelay(true);
    (socket as ClientSocket)[CONN] = this;
    socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    socket.on('drain', onSocketDrain);
  }

  /** Nothing in flight: its parser set aside (parser-pool.ts). */
  get resting(): boolean {
    return this.parser === restingParser();
  }

  get inFlight(): number {
    return this.responses.length;
  }

  /** Response bytes this connection holds for its client: queued in slots, and in the socket. */
  get bufferedOutput(): number {
    return this.responses.buffered;
  }

  /** Bytes read before this connection took the socket (after a PROXY header): the start of its HTTP stream. */
  feed(early: Buffer): void {
    if (early.length > 0) this.onData(early);
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
    if (this.phase === CLOSED || this.draining) return;
    this.draining = true;
    if (this.responses.length > 0 && !this.parser.inMessage) {
      this.stopReading();
      if (this.newest !== null) this.newest.closeAfter = true;
    }
  }

  /** Draining, with nothing in flight and no request begun: close. */
  closeIfIdle(): void {
    if (this.phase !== READING || !this.draining || this.responses.length > 0 || this.parser.inMessage) return;
    this.phase = CLOSING;
    this.socket.end();
  }

  /** The proxy's sweep: a head begun and not finished in time gets 408; an idle connection closes; a lingering close ends. */
  sweep(now: number): void {
    if (this.phase === CLOSED || this.phase === TUNNEL || this.phase === UPGRADING) return;
    if (this.lingerSince >= 0) {
      if (now - this.lingerSince >= LINGER_MS) this.socket.destroy();
      return;
    }
    if (this.headSince >= 0 && now - this.headSince >= this.context.limits.headerTimeoutMs) {
      this.headSince = -1;
      this.refuse(new ProxyError('PRX_ERR_HEAD_TIMEOUT', 'the request head was not complete in time'));
    } else if (this.responses.length === 0 && !this.parser.inMessage && now - this.lastActive >= this.context.limits.keepAliveTimeoutMs) {
      this.socket.destroy();
    } else {
      this.restIfIdle();
    }
  }

  /**
   * Nothing in flight, nothing begun, nothing held back: the parser and scanner go back to the spares
   * (parser-pool.ts) until the next byte, so a connection holds them only while it has a request. Not
   * while parse() runs (a response written at once, inside it, must not take its parser away).
   */
  private restIfIdle(): void {
    if (this.parsing || this.parser === restingParser() || this.responses.length !== 0 || this.reading !== null || this.blocked
      || this.leaseWait || this.headSince >= 0 || !this.parser.atRest) return;
    giveParser(this.parser, this.scan);
    this.parser = restingParser();
    this.scan = restingScan();
  }

  // ---- reading requests ----

  /** The socket's 'data' (onSocketData). */
  onData(chunk: Buffer): void {
    if (this.phase !== READING) {
      // Closing: discard, within bounds (see lingerSince).
      this.discarded += chunk.length;
      if (this.discarded > LINGER_BYTES) this.socket.destroy();
      return;
    }
    this.lastActive = this.clock.now;
    if (this.parser === restingParser()) ({ parser: this.parser, scan: this.scan } = takeParser(this.limits.maxHeadBytes));
    this.parse(chunk, 0);
    if (!this.parser.readingHead) this.headSince = -1;
    else if (this.headSince < 0) this.headSince = this.clock.now;
    this.restIfIdle();
  }

  /** No further request is read (responses already owed are still written). */
  private stopReading(): void {
    if (this.phase === READING || this.phase === UPGRADING) this.phase = CLOSING;
  }

  private parse(chunk: Buffer, from: number): void {
    this.parsing = true;
    try {
      this.parseFrom(chunk, from);
    } finally {
      this.parsing = false;
    }
  }

  private parseFrom(chunk: Buffer, from: number): void {
    const parser = this.parser;
    let off = from;
    while (this.phase === READING) {
      if (this.responses.length >= this.limits.maxPipeline && this.reading === null && off < chunk.length) {
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
          if (this.newest !== null && this.newest.closeAfter && !this.newest.upgrade) this.stopReading();
          continue;
        }
        case EV_UPGRADE:
          // What follows belongs to the tunnel if the backend agrees (101), else to nobody: the
          // connection closes after the response. Stop reading until then.
          this.phase = UPGRADING;
          this.upgradeRest = chunk.subarray(at);
          this.socket.pause();
          return;
        case EV_ERROR:
          this.abortRequest(this.reading, parseRefusal(parser, this.limits.maxHeadBytes));
          return;
      }
    }
  }

  /** A request head is complete: admit it, and forward it or refuse it (or wait for the rate limiter). */
  private onHead(chunk: Buffer, bodyStart: number): boolean {
    this.scan.scan(this.parser);
    const refusal = this.admission.admit(this.parser, this.scan, this.context);
    if (this.admission.waiting) {
      // Nothing more is read (its body, the next request) until the limiter tells leased().
      this.leaseWait = true;
      this.block(chunk, bodyStart, AFTER_NOTHING);
      return false;
    }
    return this.forward(refusal, chunk, bodyStart);
  }

  /** The rate limiter's answer for the request waiting in onHead: forward or refuse it, then read on. */
  leased(retryAfter: number): void {
    this.leaseWait = false;
    if (this.phase !== READING) return; // closed, or closing after an earlier response, meanwhile
    this.forward(this.admission.leased(retryAfter), this.stash as Buffer, this.stashAt);
    if (this.workSend === null || this.workSend.chan === null) this.unblock(); // else when the work channel takes the job
  }

  /** Makes the admitted request's job and sends it to its pool (true: read on), or answers the refusal. */
  private forward(refusal: ProxyError | null, chunk: Buffer, bodyStart: number): boolean {
    const p = this.parser;
    const scan = this.scan;
    const admission = this.admission;
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
    const init = jobInit;
    init.head = requestHead(p, scan, admission.target, this.fwd, upgrade, bodyMode, p.contentLength);
    init.hasBody = hasBody;
    init.isHead = p.method === METHOD_HEAD;
    init.idempotent = isIdempotent(p.method);
    // After an upgrade request only a tunnel can follow: if the backend declines, close.
    init.closeAfter = !p.keepAlive || p.upgrade;
    init.http10 = p.versionMajor === 1 && p.versionMinor === 0;
    init.upgrade = upgrade;
    init.upgradeTo = upgrade ? p.head.toString('latin1', p.valueStart(scan.upgradeIndex), p.valueStart(scan.upgradeIndex) + p.valueLength(scan.upgradeIndex)) : '';
    init.chunkedBody = bodyMode === BODY_CHUNKED;
    const job = new Job(init);
    init.head = NO_HEAD; // the job has it; nothing else keeps a request's bytes
    if (this.context.accessLog !== null) job.record = requestRecord(p, admission.client, this.tls);
    if (this.context.refusals !== null) job.startedAt = performance.now();
    job.origin = this.origin;
    this.newest = job;
    if (hasBody) this.reading = job;
    this.responses.push(job);
    const work = route.pool.work;
    if (work.trySend(job)) return true;
    this.block(chunk, bodyStart, AFTER_NOTHING);
    (this.workSend ??= new ParkedSend<Job>(this)).park(work, job);
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
    (this.bodySend ??= new ParkedSend<Buffer>(this)).park(body, piece);
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
    if (!this.blocked || this.phase === CLOSED) return;
    this.blocked = false;
    const chunk = this.stash as Buffer;
    this.stash = null;
    if (this.afterBlocked === AFTER_BODY_END) {
      const job = this.bodyEnded;
      this.bodyEnded = null;
      if (job !== null && job.body !== null && !job.body.closed) job.body.close();
      if (job !== null && job.closeAfter) this.stopReading();
    }
    this.parse(chunk, this.stashAt);
    if (!this.blocked && this.phase !== CLOSED) this.socket.resume();
    this.restIfIdle();
  }

  /**
   * The request being read cannot go on (malformed, too large): its exchange, if it started, is
   * cancelled (the backend socket is destroyed, so the backend never sees it complete), and the
   * client gets the refusal after the responses before it, unless a response had already begun.
   */
  private abortRequest(job: Job | null, refusal: ProxyError): void {
    this.reading = null;
    if (job !== null) {
      job.refused = true; // counted (and logged) by its refusal, once
      job.cancel();
    }
    this.refuse(refusal);
  }

  /** Answers a bad request with the refusal's status after the responses before it, and reads no more. */
  private refuse(refusal: ProxyError, retryAfter = 0, client = this.admission.peerAddress): void {
    this.stopReading();
    this.context.eventLog?.refused(client, refusal);
    // A refused HEAD request (its head parsed far enough to know) gets the error without a body.
    const job = Job.local(refusal.status, this.parser.methodSoFar === METHOD_HEAD, retryAfter);
    this.context.refusals?.done(job.status, -1, 0, job.bytesOut);
    if (this.context.accessLog !== null) job.record = refusedRecord(this.parser, client, this.tls);
    this.responses.push(job);
  }

  // ---- responses written ----

  /** FrontOwner: the front response is written (or cut); false stops the queue (the connection closes or switches). */
  frontDone(job: Job): boolean {
    // An idle connection keeps no finished job (its head, its slot): only a job in flight can still be told to close after.
    if (job === this.newest) this.newest = null;
    const log = this.context.accessLog;
    // A request cancelled before any response (refused mid-body) is logged by its refusal, once.
    if (log !== null && job.record !== null && !(job.cancelled && !job.finalStarted)) log.write(accessEntry(job));
    this.lastActive = this.clock.now;
    if (job.tunnel !== null) {
      // The backend agreed to switch protocols: from here on the two sockets are one byte pipe.
      this.phase = TUNNEL;
      this.socket.off('data', onSocketData);
      this.socket.off('end', onSocketEnd);
      this.socket.off('error', onSocketError);
      this.socket.off('drain', onSocketDrain);
      joinTunnel(this.socket, this.upgradeRest ?? Buffer.alloc(0), job.tunnel);
      this.upgradeRest = null;
      return false;
    }
    if (job.aborted || (job.cancelled && job.finalStarted)) {
      this.socket.destroy(); // the response was cut short: never let it look complete
      return false;
    }
    if (job.closeAfter) {
      this.stopReading();
      // Reading may be paused (a declined upgrade, a blocked pipeline): resume, discarding, so the
      // client's own FIN is seen and the socket closes; the sweep cuts one that lingers too long.
      this.upgradeRest = null;
      this.lingerSince = this.clock.now;
      this.socket.resume();
      this.socket.end();
      return false;
    }
    if (this.blocked && this.afterBlocked === AFTER_NOTHING && this.workSend?.chan == null && this.bodySend?.chan == null && !this.leaseWait) {
      this.unblock();
    }
    this.restIfIdle();
    return true;
  }

  // ---- socket end ----

  /** The socket's 'end' (onSocketEnd). */
  onEnd(): void {
    // The client half-closed: answer what it sent, then close. A request cut short by the FIN can
    // never complete: its exchange is cancelled and it is answered 400.
    if (this.phase === UPGRADING) return; // the tunnel (or the close after a declined upgrade) decides
    if (this.phase === READING && (this.reading !== null || this.parser.inMessage)) {
      this.abortRequest(this.reading, new ProxyError('PRX_ERR_CLIENT_CLOSED', 'the client closed its side mid-request'));
      return;
    }
    this.stopReading();
    if (this.responses.length === 0) this.socket.end();
    else if (this.newest !== null) this.newest.closeAfter = true;
  }

  /** The socket's 'close' (onSocketClose). */
  onClose(): void {
    this.phase = CLOSED;
    this.responses.cancelAll();
    if (this.blocked) {
      this.workSend?.cancel();
      this.bodySend?.cancel();
      this.blocked = false;
      this.stash = null;
    }
    if (this.parser !== restingParser()) this.parser.destroy();
    this.context.closed?.(this);
  }
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
