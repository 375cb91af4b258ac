/**
 * Test helper for raw backends: frames whole requests (head and a Content-Length body; chunked
 * bodies are not supported) on one backend socket, so a behaviour can answer after the body, count
 * what it really received, or act on the n-th request of a connection.
 */
import type * as net from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  /** The head as received, request line and header lines, without the blank line. */
  head: string;
  body: Buffer;
  /** 1 for the first request on the connection. */
  index: number;
}

/** Calls `onHead` when a head is complete and `onRequest` when its body is too. */
export function onRequests(
  socket: net.Socket,
  onRequest: (req: SeenRequest) => void,
  onHead: (req: SeenRequest) => void = () => {},
): void {
  let buffered: Buffer = Buffer.alloc(0);
  let current: SeenRequest | null = null;
  let bodyLeft = 0;
  let index = 0;
  socket.on('data', (data: Buffer) => {
    buffered = buffered.length === 0 ? data : Buffer.concat([buffered, data]);
    for (;;) {
      if (current === null) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buffered.toString('latin1', 0, end);
        buffered = buffered.subarray(end + 4);
        const [method = '', url = ''] = head.slice(0, head.indexOf('\r\n') >>> 0).split(' ');
        bodyLeft = Number(/\r\ncontent-length:[ \t]*(\d+)/i.exec(head)?.[1] ?? '0');
        current = { method, url, head, body: Buffer.alloc(0), index: ++index };
        onHead(current);
        if (socket.destroyed) return;
      }
      const take = Math.min(bodyLeft, buffered.length);
      if (take > 0) {
        current.body = Buffer.concat([current.body, buffered.subarray(0, take)]);
        buffered = buffered.subarray(take);
        bodyLeft -= take;
      }
      if (bodyLeft > 0) return;
      const done = current;
      current = null;
      onRequest(done);
      if (socket.destroyed) return;
    }
  });
}

/** A small `200` with a keep-alive-friendly Content-Length body. */
export function okResponse(body: string, extraHeaders = ''): string {
  return `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extraHeaders}\r\n${body}`;
}
