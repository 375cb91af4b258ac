/**
 * Proxy options: defaults, and validation of addresses with errors that name the offending flag.
 */
export interface Address {
  host: string;
  port: number;
}

export interface ProxyOptions {
  listen: Address;
  backends: Address[];
  /** Sockets per backend, busy and idle together. */
  maxConnectionsPerBackend: number;
  connectTimeoutMs: number;
  /** A backend that sends nothing for this long after a request (or mid-response) gets a 504 (or a cut). */
  responseTimeoutMs: number;
  /** Idle backend sockets close after this; keep it under the backends' keep-alive (Node: 5 s). */
  backendIdleTimeoutMs: number;
  /** Request line and headers, in bytes: larger gets 431 (414 when it is the request line). */
  maxHeadBytes: number;
  /** Requests read ahead of their responses on one client connection (pipelining). */
  maxPipeline: number;
}

export const DEFAULTS: Omit<ProxyOptions, 'backends'> = {
  listen: { host: '0.0.0.0', port: 8080 },
  maxConnectionsPerBackend: 128,
  connectTimeoutMs: 5_000,
  responseTimeoutMs: 60_000,
  backendIdleTimeoutMs: 4_000,
  maxHeadBytes: 16 * 1024,
  maxPipeline: 32,
};

export class OptionError extends Error {
  readonly code = 'PRX_ERR_OPTION';
  constructor(message: string) {
    super(message);
    this.name = 'OptionError';
  }
}

/** `HOST:PORT`, `[v6]:PORT` or `:PORT` (host `defaultHost`). */
export function parseAddress(flag: string, text: string, defaultHost: string): Address {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(text.trim());
  if (match === null) throw new OptionError(`${flag}: "${text}" is not HOST:PORT`);
  const port = Number(match[3]);
  if (port < 1 || port > 65535) {
    // Port 0 (any free port) is allowed for listening only, which tests use.
    if (!(port === 0 && flag === '--listen')) throw new OptionError(`${flag}: port ${match[3]} is out of range 1-65535`);
  }
  const host = match[1] ?? (match[2] === '' || match[2] === undefined ? defaultHost : match[2]);
  return { host, port };
}

export function withDefaults(partial: Partial<ProxyOptions> & { backends: Address[] }): ProxyOptions {
  const options = { ...DEFAULTS, ...partial };
  if (options.backends.length === 0) throw new OptionError('--backend: at least one backend is required');
  return options;
}
