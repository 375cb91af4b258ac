/**
 * An address to listen on or a log file that cannot be opened: a setting the user must change. At
 * start-up the CLI exits 2 with the message, as for a bad flag; a reload that meets one is refused.
 */
export class OpenError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'OpenError';
  }
}

const LISTEN_REASONS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'no such address on this host',
};

/** `cannot listen on 127.0.0.1:80: permission denied (EACCES)` */
export function listenError(host: string, port: number, err: NodeJS.ErrnoException): OpenError {
  const where = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const reason = err.code !== undefined && LISTEN_REASONS[err.code] !== undefined ? `${LISTEN_REASONS[err.code]} (${err.code})` : err.message;
  return new OpenError(`cannot listen on ${where}: ${reason}`, { cause: err });
}
