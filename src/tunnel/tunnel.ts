/**
 * The whole path after `101 Switching Protocols`: the client and backend sockets become one raw
 * byte pipe, both ways (WebSocket and friends).
 *
 * - Client to backend: the client stream is piped (its backpressure pauses the client).
 * - Backend to client: the backend socket reads through `onread` into a shared buffer, so its reads
 *   come here through Tunnel.readInto; each is copied out and written to the client, and the
 *   backend pauses while the client needs to drain.
 * - An end on either side ends the other; when either closes or fails, both are destroyed.
 */
import type * as net from 'node:net';
import type { SocketReader, Tunnel } from '../exchange/job.js';

/** Joins `client` and the backend of `t`. `toBackend`: bytes the client sent after its upgrade request. */
export function joinTunnel(client: net.Socket, toBackend: Buffer, t: Tunnel): void {
  const backend = t.socket;
  const destroyBoth = (): void => {
    client.destroy();
    backend.destroy();
  };
  backend.removeAllListeners('error');
  client.on('error', destroyBoth);
  backend.on('error', destroyBoth);
  client.on('close', destroyBoth);
  backend.on('close', destroyBoth);
  if (t.early.length > 0) client.write(t.early);
  if (toBackend.length > 0) backend.write(toBackend);
  client.pipe(backend);
  client.resume();

  const toClient: SocketReader = {
    onRead: (nread, buffer) => client.write(Buffer.from(buffer.subarray(0, nread))), // false pauses the backend
  };
  client.on('drain', () => backend.resume());
  backend.on('end', () => client.end());
  t.readInto(toClient);
  backend.resume();
}
