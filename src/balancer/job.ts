/**
 * A Job is one proxied request: the forwarded head, the request body as a channel of chunks, and
 * the output slot (a channel of response chunks) that the client connection drains in request order.
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
import { cannedResponse } from '../http1/canned.js';

/** Response chunks buffered per job before the backend socket is paused. */
const OUTPUT_SLOTS = 16;
/** Request body chunks buffered per job before the client socket is paused. */
const BODY_SLOTS = 16;

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
  method: string;
  target: string;
  version: string;
  referer: string;
  userAgent: string;
  headDoneAt: number;
  sentAt: number;
  answeredAt: number;
}

/** A backend socket that switched protocols (101), and the bytes it sent after the response head. */
export interface Tunnel {
  socket: net.Socket;
  head: Buffer;
  /** Starts sending the backend's further bytes to `client`. */
  relay(client: net.Socket): void;
}

/** What a job needs from the backend exchange running it, to stop it when the client goes away. */
export interface Exchange {
  abort(): void;
}

export class Job {
  readonly head: Buffer;
  readonly body: Chan<Buffer> | null;
  readonly output = new Chan<Buffer>(OUTPUT_SLOTS);
  /** HEAD: the response has no body whatever its headers say. */
  readonly isHead: boolean;
  /** Safe to send again on a fresh connection if a reused one died before any response byte. */
  readonly idempotent: boolean;
  /** The client connection closes after this response (the request asked, or the response needs it). */
  closeAfter: boolean;
  /**
   * The request's trailer section said `Connection: close`: the backend's parser saw it too and will
   * close, so its socket is not reused.
   */
  backendCloses = false;
  /** The client spoke HTTP/1.0 (no chunked responses, keep-alive only if asked). */
  readonly http10: boolean;
  /** The client asked to switch protocols (Upgrade); on 101 the backend socket becomes `tunnel`. */
  upgrade = false;
  tunnel: Tunnel | null = null;
  /** Request body bytes read so far (for the body size limit). */
  bodyBytes = 0;

  worker: JobOwner | null = null;
  exchange: Exchange | null = null;
  error: ProxyError | null = null;
  cancelled = false;
  aborted = false;
  retried = false;
  private isSettled = false;
  /** Response bytes handed to the output slot so far (0 means an error can still be answered cleanly). */
  bytesOut = 0;
  /** The status of the response the client gets (0 until known). */
  status = 0;
  /** Set when the access log is on. */
  record: RequestRecord | null = null;

  constructor(head: Buffer, hasBody: boolean, isHead: boolean, idempotent: boolean, closeAfter: boolean, http10: boolean) {
    this.head = head;
    this.body = hasBody ? new Chan<Buffer>(BODY_SLOTS) : null;
    this.isHead = isHead;
    this.idempotent = idempotent;
    this.closeAfter = closeAfter;
    this.http10 = http10;
  }

  get settled(): boolean {
    return this.isSettled;
  }

  /**
   * Ends the job. With an error and nothing sent yet, the client gets the error's canned response
   * and the connection closes; with bytes already sent, the response is cut and the connection
   * closes. Reports the worker done.
   */
  settle(error: ProxyError | null): void {
    if (this.isSettled) return;
    this.isSettled = true;
    this.exchange = null;
    if (error !== null) {
      this.error = error;
      this.closeAfter = true;
      if (!this.output.closed) {
        const canned = cannedResponse(error.status, this.isHead);
        if (this.bytesOut > 0 || !this.output.trySend(canned)) {
          this.aborted = true;
        } else {
          this.status = error.status;
          this.bytesOut = canned.length;
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
