/**
 * After `101 Switching Protocols` the client and backend sockets become a raw two-way byte pipe
 * (WebSocket and friends). Backpressure is the streams' own (pipe pauses the faster side); when
 * either side ends, the other is ended; when either closes or fails, both are destroyed.
 */
import type * as net from 'node:net';

/**
 * Joins `client` and `backend`. `toBackend` are bytes the client sent after its upgrade request,
 * `toClient` bytes the backend sent after its 101 head; both belong to the new protocol.
 */
export function tunnel(client: net.Socket, toBackend: Buffer, backend: net.Socket, toClient: Buffer): void {
  const destroyBoth = (): void => {
    client.destroy();
    backend.destroy();
  };
  backend.removeAllListeners('error');
  client.on('error', destroyBoth);
  backend.on('error', destroyBoth);
  client.on('close', destroyBoth);
  backend.on('close', destroyBoth);
  backend.setNoDelay(true);
  if (toClient.length > 0) client.write(toClient);
  if (toBackend.length > 0) backend.write(toBackend);
  client.pipe(backend);
  backend.pipe(client);
  client.resume();
  backend.resume();
}
