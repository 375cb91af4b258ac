/**
 * accept_proxy: every connection must begin with a PROXY protocol header (v1 or v2), sent by a
 * trusted proxy; its source address is then the client's. As HAProxy's accept-proxy does, a
 * connection from a peer not in trusted_proxies, with a header that is missing or malformed, or not
 * complete within the header timeout is closed without a response (an HTTP error would tell a
 * scanner what is listening), counted by reason and logged at info.
 *
 * A LOCAL header (v2; a health check of the proxy in front), v1 UNKNOWN or a header without TCP
 * addresses leaves the TCP peer as the client. Bytes after the header in the same read are the start
 * of the HTTP stream. Waiting connections are timed by the proxy's sweep, not a timer each.
 */
import type * as net from 'node:net';
import { parseHeader } from '../proxy-protocol/parse.js';
import type { Addresses } from '../proxy-protocol/types.js';
import type { ClientContext } from './client-conn.js';

export const HEADER_REFUSALS = ['untrusted', 'invalid', 'timeout', 'closed'] as const;
export type HeaderRefusal = (typeof HEADER_REFUSALS)[number];

/** A connection whose header came: its client's addresses, and what was read after the header. */
export type Admitted = (socket: net.Socket, origin: Addresses, rest: Buffer) => void;

interface Waiting {
  readonly socket: net.Socket;
  /** The TCP connection's own addresses (what LOCAL and UNKNOWN leave in place). */
  readonly own: Addresses;
  readonly since: number;
  readonly admitted: Admitted;
  /** What was read so far, when the header is not complete yet. */
  read: Buffer | null;
  readonly onData: (chunk: Buffer) => void;
  readonly onEnd: () => void;
  readonly onClose: () => void;
}

export class ProxyHeaderGate {
  /** Connections closed for want of a good header, by reason (for the metrics). */
  readonly refused: Record<HeaderRefusal, number> = { untrusted: 0, invalid: 0, timeout: 0, closed: 0 };
  private readonly waiting = new Set<Waiting>();
  /** The proxy's shared context: a reload replaces the trusted proxies, the log and the header timeout in it. */
  private readonly context: ClientContext;

  constructor(context: ClientContext) {
    this.context = context;
  }

  /** Connections waiting for their header. */
  get size(): number {
    return this.waiting.size;
  }

  /** Reads the header of a new connection whose own addresses are `own`; calls `admitted` once it is complete. */
  accept(socket: net.Socket, own: Addresses, admitted: Admitted): void {
    const peer = own.source.address;
    if (this.context.trustedProxies?.isTrusted(peer) !== true) {
      this.refuse(socket, peer, 'untrusted', 'the peer is not in trusted_proxies');
      return;
    }
    const w: Waiting = {
      // The exact time, not the last tick's: the connection is never closed before its timeout.
      socket, own, admitted, since: performance.now(), read: null,
      onData: (chunk) => this.onData(w, chunk),
      onEnd: () => this.close(w, 'closed', 'the peer closed before the header was complete'),
      onClose: () => this.close(w, 'closed', 'the connection closed before the header was complete'),
    };
    this.waiting.add(w);
    socket.on('data', w.onData);
    socket.on('end', w.onEnd);
    socket.on('error', ignore); // 'close' follows
    socket.on('close', w.onClose);
  }

  /** The proxy's sweep: a header not complete within the header timeout closes its connection. */
  sweep(now: number): void {
    const timeoutMs = this.context.limits.headerTimeoutMs;
    for (const w of this.waiting) {
      if (now - w.since >= timeoutMs) this.close(w, 'timeout', `no complete header within ${timeoutMs} ms`);
    }
  }

  /** Closes every connection still waiting (the proxy is closing). */
  closeAll(): void {
    for (const w of this.waiting) {
      this.detach(w);
      w.socket.destroy();
    }
  }

  private onData(w: Waiting, chunk: Buffer): void {
    // Bounded: a header is at most V2_MAX bytes, so what is kept here is too (the parser refuses more).
    const read = w.read === null ? chunk : Buffer.concat([w.read, chunk]);
    const result = parseHeader(read);
    if (result.status === 'more') {
      w.read = read;
      return;
    }
    if (result.status === 'invalid') {
      this.close(w, 'invalid', result.reason);
      return;
    }
    this.detach(w);
    w.admitted(w.socket, result.addresses ?? w.own, read.subarray(result.consumed));
  }

  private close(w: Waiting, reason: HeaderRefusal, why: string): void {
    if (!this.waiting.has(w)) return;
    this.detach(w);
    this.refuse(w.socket, w.own.source.address, reason, why);
  }

  private detach(w: Waiting): void {
    this.waiting.delete(w);
    w.socket.off('data', w.onData);
    w.socket.off('end', w.onEnd);
    w.socket.off('error', ignore);
    w.socket.off('close', w.onClose);
  }

  private refuse(socket: net.Socket, peer: string, reason: HeaderRefusal, why: string): void {
    this.refused[reason]++;
    this.context.eventLog?.info('proxy_header_refused', `closed a connection from ${peer} without a response: ${why}`, { peer, reason, detail: why });
    socket.destroy();
  }
}

const ignore = (): void => {};
