/**
 * After `101 Switching Protocols` the client and backend sockets become a raw two-way byte pipe
 * (WebSocket and friends). Backpressure both ways (the client stream is piped; the backend's reads
 * pause while the client needs to drain); an end on either side ends the other; when either closes
 * or fails, both are destroyed.
 */
import type * as net from 'node:net';
import type { Tunnel } from '../exchange/job.js';

/** Joins `client` and the backend of `t`. `toBackend`: bytes the client sent after its upgrade request. */
export function tunnel(client: net.Socket, toBackend: Buffer, t: Tunnel): void {
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
  if (t.head.length > 0) client.write(t.head);
  if (toBackend.length > 0) backend.write(toBackend);
  client.pipe(backend);
  client.resume();
  t.relay(client);
}
