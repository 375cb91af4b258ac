import type net from 'node:net';

export interface BackendHandle<S extends net.Server = net.Server> {
  readonly server: S;
  /** The port actually bound (resolved when 0 was asked for). */
  readonly port: number;
  /** Stops listening and destroys every open connection; idempotent. */
  close(): Promise<void>;
}

export interface ListenOptions {
  /** 0 (the default) picks an ephemeral port. */
  port?: number;
  /** Defaults to 127.0.0.1. */
  host?: string;
}

/** Listens and returns a handle whose close() also destroys the sockets it accepted. */
export function serve<S extends net.Server>(server: S, opts: ListenOptions): Promise<BackendHandle<S>> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
    return closing;
  };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      const address = server.address();
      if (address === null || typeof address === 'string') {
        reject(new Error(`unexpected listen address ${String(address)}`));
        return;
      }
      resolve({ server, port: address.port, close });
    });
  });
}
