/**
 * A Job is one proxied request: the forwarded head, the request body as a channel of chunks (already
 * framed for the backend), and the response slot that the client connection drains in request order.
 *
 * Lifecycle: created by the client connection at the end of the request head; sent on the work
 * channel; dispatched by the balancer to a worker (`worker` set, that worker's pending +1); run by the
 * worker on a backend connection; `settle()` once, which closes the output slot and reports the worker
 * done (pending -1). A job refused before dispatch is settled without a worker.
 *
 * Invariants:
 * - settle() runs exactly once per job, whatever happens (response, backend failure, client abort):
 *   that is what brings every pending count back to zero.
 * - The output slot is closed only by settle() or cancel(); writers check `output.closed` first.
 * - `aborted` means the response was cut short after bytes reached the client: the client connection
 *   must be closed, never left looking complete.
 */
import type * as net from 'node:net';
import { Chan } from '../csp/chan.js';
import type { ProxyError } from '../errors.js';
import { cannedResponse, cannedBodyLength } from '../http1/canned.js';
import { ResponseSlot } from './response-slot.js';
import type { Addresses } from '../proxy-protocol/types.js';

/**
 * Request body chunks buffered per job before the client socket is paused: a client read is at most
 * 64 KiB, so an upload waiting on a slow backend holds at most about 256 KiB here.
 */
const BODY_SLOTS = 4;

const NO_HEAD = Buffer.alloc(0);

/** What a job needs from the worker that runs it. */
export interface JobOwner {
  /** The backend, as `host:port` (for the access log). */
  readonly name: string;
  settled(job: Job): void;
}

/**
 * What the access log needs of a request, captured only when the log is on (so a proxy without one
 * allocates no strings per request). Times are performance.now() readings; -1 until known.
 */
export interface RequestRecord {
  /** The client's address (from X-Forwarded-For when a trusted proxy sent the request). */
  client: string;
  /** The connection's TLS version (`TLSv1.3`); '' for plain HTTP. */
  tls: string;
  method: string;
  target: string;
  version: string;
  referer: string;
  userAgent: string;
  headDoneAt: number;
  sentAt: number;
  answeredAt: number;
}

/** Receives a socket's reads (`onread`): `buffer[0, nread)` is valid only during the call. */
export interface SocketReader {
  /** Returns false to pause the socket. */
  onRead(nread: number, buffer: Uint8Array): boolean;
}

/** A backend socket that switched protocols (101), paused, with the bytes it sent after its head. */
export interface Tunnel {
  socket: net.Socket;
  early: Buffer;
  /** From now on the socket's reads go to `reader` (it reads through `onread`, not 'data'). */
  readInto(reader: SocketReader): void;
}

/** What a job needs from the backend exchange running it, to stop it when the client goes away. */
export interface Exchange {
  abort(): void;
}

/** A retry in flight counted against its pool's retry budget: released when the job settles. */
export interface RetryTicket {
  release(): void;
}

/** What a job is made from, at the end of the request head. */
export interface JobInit {
  /** The request head as forwarded. */
  head: Buffer;
  /** The request has a body (chunks follow on `body`). */
  hasBody: boolean;
  isHead: boolean;
  idempotent: boolean;
  closeAfter: boolean;
  http10: boolean;
  upgrade: boolean;
  /** The protocols an upgrade asks for (its Upgrade value), '' without one. */
  upgradeTo: string;
  /** The request body goes to the backend re-chunked (else as it came, under its Content-Length). */
  chunkedBody: boolean;
}

export class Job {
  readonly head: Buffer;
  readonly body: Chan<Buffer> | null;
  readonly output = new ResponseSlot();
  /** HEAD: the response has no body whatever its headers say. */
  readonly isHead: boolean;
  /** Safe to send again on a fresh connection if a reused one died before any response byte. */
  readonly idempotent: boolean;
  /** The client connection closes after this response (the request asked, or the response needs it). */
  closeAfter: boolean;
  /** The client spoke HTTP/1.0 (no chunked responses, keep-alive only if asked). */
  readonly http10: boolean;
  /** The client asked to switch protocols (Upgrade); on 101 the backend socket becomes `tunnel`. */
  readonly upgrade: boolean;
  readonly upgradeTo: string;
  readonly chunkedBody: boolean;
  tunnel: Tunnel | null = null;
  /** Request body bytes read so far (for the body size limit). */
  bodyBytes = 0;
  /** performance.now() at the end of the request head when metrics time requests; -1 otherwise. */
  startedAt = -1;
  /** Refused mid-body by the proxy: the refusal's own response is what counts, not this job. */
  refused = false;

  worker: JobOwner | null = null;
  exchange: Exchange | null = null;
  error: ProxyError | null = null;
  cancelled = false;
  aborted = false;
  /** It went again on a fresh socket of the same backend (the keep-alive race): once at most. */
  retried = false;
  /** Backends an attempt failed on, in order (a retry goes to another); null before any. */
  tried: JobOwner[] | null = null;
  /** Why the last attempt failed: what the client gets if no retry follows. */
  failure: ProxyError | null = null;
  /** Clock ms when the first attempt began (retries stop at the pool's deadline after it); -1 before. */
  firstTryAt = -1;
  retryTicket: RetryTicket | null = null;
  private isSettled = false;
  /** Response bytes handed to the output slot so far, interim responses included. */
  bytesOut = 0;
  /** Of those, the final response's body bytes (what an access log reports). */
  bodyBytesOut = 0;
  /** The final response's head went out: from then on an error can only cut the response short. */
  finalStarted = false;
  /** The status of the response the client gets (0 until known). */
  status = 0;
  /** Set when the access log is on. */
  record: RequestRecord | null = null;
  /**
   * The client connection's addresses, one object per connection: a pool that sends a PROXY header
   * writes them, and reuses a backend connection only for requests with the same object.
   */
  origin: Addresses | null = null;

  constructor(init: JobInit) {
    this.head = init.head;
    this.body = init.hasBody ? new Chan<Buffer>(BODY_SLOTS) : null;
    this.isHead = init.isHead;
    this.idempotent = init.idempotent;
    this.closeAfter = init.closeAfter;
    this.http10 = init.http10;
    this.upgrade = init.upgrade;
    this.upgradeTo = init.upgradeTo;
    this.chunkedBody = init.chunkedBody;
  }

  /** A response made by the proxy itself (an error), already complete in its slot. */
  static local(status: number, toHead: boolean, retryAfter: number): Job {
    const job = new Job({ head: NO_HEAD, hasBody: false, isHead: toHead, idempotent: false, closeAfter: true, http10: false, upgrade: false, upgradeTo: '', chunkedBody: false });
    const canned = cannedResponse(status, toHead, retryAfter);
    job.output.push(canned);
    job.status = status;
    job.bytesOut = canned.length;
    job.bodyBytesOut = toHead ? 0 : cannedBodyLength(status);
    job.finalStarted = true;
    job.settle(null);
    return job;
  }

  get settled(): boolean {
    return this.isSettled;
  }

  /**
   * Ends the job. With an error before the final response began (an interim 100 Continue may have
   * gone out), the client gets the error's canned response and the connection closes; after it
   * began, the response is cut and the connection closes. Reports the worker done.
   */
  settle(error: ProxyError | null): void {
    if (this.isSettled) return;
    this.isSettled = true;
    this.exchange = null;
    this.retryTicket?.release();
    this.retryTicket = null;
    if (error !== null) {
      this.error = error;
      this.closeAfter = true;
      if (!this.output.closed) {
        if (this.finalStarted) {
          this.aborted = true;
        } else {
          const canned = cannedResponse(error.status, this.isHead);
          this.output.push(canned);
          this.status = error.status;
          this.bytesOut += canned.length;
          this.bodyBytesOut = this.isHead ? 0 : cannedBodyLength(error.status);
          this.finalStarted = true;
        }
      }
    }
    if (!this.output.closed) this.output.close();
    if (this.body !== null && !this.body.closed) this.body.close();
    this.worker?.settled(this);
  }

  /** The client went away: stop the exchange (its backend socket cannot be reused) and settle. */
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    if (!this.output.closed) this.output.close();
    if (this.body !== null && !this.body.closed) this.body.close();
    const exchange = this.exchange;
    if (exchange !== null) exchange.abort();
    this.tunnel?.socket.destroy(); // a 101 that the client did not stay for
  }
}
