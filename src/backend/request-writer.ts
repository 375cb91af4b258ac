/**
 * Writes one request to a backend socket: its head, then the chunks of its body channel as they
 * arrive (already framed for the backend by the client connection), head and first chunks in one
 * write. The channel is read only while the socket can take more, so a slow backend pauses the
 * client that sends the body.
 */
import type * as net from 'node:net';
import { CLOSED, EMPTY, type Chan, type Receiver } from '../csp/chan.js';
import type { Job } from '../exchange/job.js';

export class RequestWriter implements Receiver<Buffer> {
  private readonly socket: net.Socket;
  /** A body chunk went to the socket: progress, not silence (the response timeout starts over). */
  private readonly progress: () => void;
  private body: Chan<Buffer> | null = null;
  /** Waiting on the body channel for the next chunk. */
  private parked = false;
  /** Waiting for the socket's 'drain'. */
  private blocked = false;
  /** This request's head went to the socket. */
  written = false;
  /** Body bytes of this request were taken from its channel (they cannot be sent again). */
  bodyTaken = false;

  constructor(socket: net.Socket, progress: () => void) {
    this.socket = socket;
    this.progress = progress;
    socket.on('drain', this.onDrain);
  }

  /** Part of the body is still to come: the socket cannot carry another request. */
  get unfinished(): boolean {
    return this.parked || (this.body !== null && !this.body.closed);
  }

  /** The next request is `job`: nothing of it is written yet. */
  reset(): void {
    this.written = false;
    this.bodyTaken = false;
  }

  write(job: Job): void {
    this.body = job.body;
    this.blocked = false;
    this.written = true;
    if (this.body === null) {
      this.socket.write(job.head);
      return;
    }
    this.socket.cork();
    this.socket.write(job.head);
    this.pump();
    this.socket.uncork();
  }

  /** The exchange is over: the body channel is no longer read. */
  stop(): void {
    if (this.parked && this.body !== null) this.body.removeReceiver(this);
    this.parked = false;
    this.body = null;
  }

  /** The socket leaves (a tunnel): its 'drain' is no longer ours. */
  detach(): void {
    this.stop();
    this.socket.off('drain', this.onDrain);
  }

  /** Receiver<Buffer>: a body chunk (or the end of the body) arrived while parked. */
  receive(chunk: Buffer | typeof CLOSED): void {
    this.parked = false;
    if (chunk === CLOSED || this.body === null) return;
    this.send(chunk);
    this.pump();
  }

  /** Moves body chunks to the socket until the channel is empty or the socket is full. */
  private pump(): void {
    const body = this.body;
    if (body === null) return;
    while (!this.blocked) {
      const chunk = body.tryRecv();
      if (chunk === EMPTY) {
        if (!this.parked) {
          this.parked = true;
          body.addReceiver(this);
        }
        return;
      }
      if (chunk === CLOSED) return;
      this.send(chunk);
    }
  }

  private send(chunk: Buffer): void {
    this.bodyTaken = true;
    this.progress();
    if (!this.socket.write(chunk)) this.blocked = true;
  }

  private readonly onDrain = (): void => {
    if (!this.blocked) return;
    this.blocked = false;
    this.pump();
  };
}
