/**
 * Whether this Node can give each worker process its own listening socket with SO_REUSEPORT
 * (`reusePort` on net.Server.listen: Node 22.12+/23.1+, on Linux), found by trying: two sockets
 * bound to one port. A Node without the option ignores it, and the second bind fails.
 */
import * as net from 'node:net';

function listen(port: number): Promise<net.Server | null> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(null));
    server.listen({ port, host: '127.0.0.1', reusePort: true } as net.ListenOptions, () => resolve(server));
  });
}

export async function canReusePort(): Promise<boolean> {
  const first = await listen(0);
  if (first === null) return false;
  const second = await listen((first.address() as net.AddressInfo).port);
  const close = (s: net.Server | null): Promise<void> => new Promise((resolve) => (s === null ? resolve() : s.close(() => resolve())));
  await Promise.all([close(first), close(second)]);
  return second !== null;
}
