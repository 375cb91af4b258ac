// A programmable raw TCP backend for failure tests: each accepted socket is handed to a behaviour.
// Request detection only looks for the end of a head (`\r\n\r\n`); request bodies are not framed.
import net from 'node:net';
import { serve, type BackendHandle, type ListenOptions } from './serve.js';

/** What to do with one accepted connection; index counts connections from 0. */
export type RawBehaviour = (socket: net.Socket, index: number) => void;

export interface RawOptions extends ListenOptions {
  onConnection: RawBehaviour;
}

export interface RawHandle extends BackendHandle<net.Server> {
  /** Connections accepted since start. */
  connections(): number;
}

export async function startRaw(opts: RawOptions): Promise<RawHandle> {
  let accepted = 0;
  const server = net.createServer((socket) => {
    socket.on('error', () => {}); // resets from the proxy side are expected in failure tests
    opts.onConnection(socket, accepted++);
  });
  const handle = await serve(server, opts);
  return { ...handle, connections: () => accepted };
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

/** Calls onHead once per request head seen on the socket (the terminator may span reads). */
export function onRequestHead(socket: net.Socket, onHead: (count: number) => void): void {
  let tail = Buffer.alloc(0);
  let count = 0;
  socket.on('data', (chunk: Buffer) => {
    const buf = Buffer.concat([tail, chunk]);
    let start = 0;
    for (let end = buf.indexOf(CRLFCRLF); end !== -1; end = buf.indexOf(CRLFCRLF, start)) {
      start = end + 4;
      onHead(++count);
    }
    tail = buf.subarray(Math.max(start, buf.length - 3));
  });
}

/** Writes `bytes` for every request head; the connection stays open. */
export function respondWith(bytes: string | Uint8Array): RawBehaviour {
  return (socket) => onRequestHead(socket, () => socket.write(bytes));
}

/** Reads requests and never answers or closes. */
export const hangForever: RawBehaviour = (socket) => {
  socket.resume();
};

/** Destroys the socket as soon as it is accepted. */
export const closeImmediately: RawBehaviour = (socket) => {
  socket.destroy();
};

/** Answers the first request head with bytes that are not HTTP, then ends the connection. */
export const sendGarbage: RawBehaviour = (socket) => {
  onRequestHead(socket, () => socket.end('\x00\x01garbage, not HTTP\r\n\r\n'));
};

/** Answers the first request head with Content-Length 100 but only 10 body bytes, then destroys. */
export const closeMidBody: RawBehaviour = (socket) => {
  onRequestHead(socket, () => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: text/plain\r\n\r\n0123456789', () =>
      socket.destroy(),
    );
  });
};

/** Answers every request head with `bytes` (a small 200 by default), but only after `ms` ms. */
export function slowHead(
  ms: number,
  bytes: string | Uint8Array = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nslow\n',
): RawBehaviour {
  return (socket) => {
    const timers = new Set<NodeJS.Timeout>();
    socket.once('close', () => timers.forEach(clearTimeout));
    onRequestHead(socket, () => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        socket.write(bytes);
      }, ms);
      timers.add(timer);
    });
  };
}
