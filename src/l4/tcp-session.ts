/**
 * One TCP-mode connection: the client socket (paused from its accept) is piped to a backend the
 * pool picks, both ways, with backpressure (pipe) and half-close passed on (an end on one side ends
 * the other's writing). A connect that fails or times out goes to the next least loaded backend not
 * yet tried; none left closes the client. Open, it is closed after --tcp-idle-timeout without a byte
 * either way. Timeouts are kept on the proxy's one clock: the sweep checks them.
 */
import * as net from 'node:net';
import type { SendProxy } from '../options/vocabulary.js';
import type { Addresses } from '../proxy-protocol/types.js';
import { writeHeader } from '../proxy-protocol/write.js';
import type { TcpBackend, TcpPool } from './tcp-pool.js';

/** How a session ended, for the logs and metrics. */
export type TcpResult = 'closed' | 'no_backend' | 'idle_timeout' | 'error' | 'shutdown';

export interface TcpSessionContext {
  idleTimeoutMs: number;
  sendProxy: SendProxy;
  /** The coarse clock's time (ms): what the timeouts compare against. */
  now(): number;
  /** The session is over: both sockets are closed. */
  ended(session: TcpSession): void;
}

const CONNECTING = 0;
const OPEN = 1;
const DONE = 2;

export class TcpSession {
  readonly client: net.Socket;
  readonly pool: TcpPool;
  readonly origin: Addresses;
  readonly startedAt = performance.now();
  /** The backend it is connected (or connecting) to. */
  backend: TcpBackend | null = null;
  result: TcpResult = 'closed';
  /** ms from the accept to the backend's connect; -1: never connected. */
  connectMs = -1;
  private socket: net.Socket | null = null;
  private readonly tried: TcpBackend[] = [];
  private state = CONNECTING;
  /** Clock ms when the connect began, or (open) when the sweep last saw bytes move. */
  private since: number;
  /** Bytes read on both sides as of the sweep that last saw them move: no listener per chunk. */
  private moved = 0;
  private readonly context: TcpSessionContext;
  /** Bytes the client sent before the pipe began (after a PROXY header, in the same read). */
  private early: Buffer | null;
  private closes = 0;

  constructor(client: net.Socket, pool: TcpPool, origin: Addresses, early: Buffer | null, context: TcpSessionContext) {
    this.client = client;
    this.pool = pool;
    this.origin = origin;
    this.early = early;
    this.context = context;
    this.since = context.now();
  }

  /** Picks a backend and connects (it may end at once: no backend in rotation). */
  start(): void {
    this.client.pause();
    this.client.setNoDelay(true);
    this.client.on('error', this.cut);
    this.client.once('close', this.onClose);
    this.connectNext();
  }

  /** Bytes from the client to the backend, and back. */
  get bytesIn(): number {
    return this.socket?.bytesWritten ?? 0;
  }

  get bytesOut(): number {
    return this.client.bytesWritten;
  }

  /** The clock's sweep: the connect timeout while connecting, the idle timeout once open. */
  sweep(now: number): void {
    if (this.state === CONNECTING && this.socket !== null && now - this.since >= this.pool.connectTimeoutMs) {
      this.connectFailed(`no connection within ${this.pool.connectTimeoutMs} ms`);
    } else if (this.state === OPEN) {
      const moved = this.client.bytesRead + (this.socket?.bytesRead ?? 0);
      if (moved !== this.moved) {
        this.moved = moved;
        this.since = now;
        return;
      }
      if (now - this.since < this.context.idleTimeoutMs) return;
      this.result = 'idle_timeout';
      this.cut();
    }
  }

  /** Ends it now (the shutdown deadline). */
  close(): void {
    this.result = 'shutdown';
    this.cut();
  }

  private connectNext(): void {
    const b = this.pool.pick(this.tried);
    if (b === undefined) {
      this.result = 'no_backend';
      this.state = DONE;
      this.client.destroy();
      this.context.ended(this);
      return;
    }
    this.tried.push(b);
    this.backend = b;
    this.pool.opened(b);
    this.since = this.context.now();
    const socket = net.connect({ host: b.host, port: b.port, noDelay: true, allowHalfOpen: true });
    this.socket = socket;
    if (this.context.sendProxy !== 'off') socket.write(writeHeader(this.context.sendProxy, this.origin));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (this.state === CONNECTING && this.socket === socket) this.connectFailed(err.code ?? err.message);
      else this.cut();
    });
    socket.once('connect', () => this.connected(socket));
  }

  private connectFailed(why: string): void {
    const b = this.backend as TcpBackend;
    this.socket?.destroy();
    this.socket = null;
    this.pool.closed(b);
    this.pool.connectFailed(b, why, this.context.now());
    this.backend = null;
    if (!this.client.destroyed) this.connectNext();
  }

  private connected(socket: net.Socket): void {
    if (this.state !== CONNECTING || this.socket !== socket) return;
    this.state = OPEN;
    this.connectMs = performance.now() - this.startedAt;
    this.pool.connected(this.backend as TcpBackend);
    this.since = this.context.now();
    socket.once('close', this.onClose);
    if (this.early !== null) socket.write(this.early);
    this.early = null;
    this.client.pipe(socket);
    socket.pipe(this.client);
    this.client.resume();
  }

  private readonly cut = (): void => {
    if (this.result === 'closed' && this.state !== DONE) this.result = 'error';
    this.client.destroy();
    this.socket?.destroy();
  };

  /** Each socket's close; the session ends when the client's and (if it connected) the backend's have come. */
  private readonly onClose = (): void => {
    if (this.state === CONNECTING) {
      // The client left before any backend answered.
      this.socket?.destroy();
      if (this.backend !== null) this.pool.closed(this.backend);
      this.state = DONE;
      this.context.ended(this);
      return;
    }
    if (this.state === DONE) return;
    this.client.destroy();
    this.socket?.destroy();
    if (++this.closes < 2) return;
    this.state = DONE;
    this.pool.closed(this.backend as TcpBackend);
    this.context.ended(this);
  };
}
