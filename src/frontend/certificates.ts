/**
 * A TLS listener's certificates, chosen by the name the client asks for (SNI): an exact name first,
 * then a wildcard (`*.example.com` covers `a.example.com`, one label deep, as RFC 6125 §6.4.3 has
 * it), then the default (the first certificate). A reload swaps the whole set at once.
 */
import * as tls from 'node:tls';
import type { ListenerTls } from '../options/tls-files.js';

/**
 * Node's TLS server options for `t`: the default certificate, the version floor, and for an HTTP
 * listener ALPN http/1.1 (a TCP listener offers none: what it carries is its backends' business, and
 * a client asking for h2 or its own protocol must not be refused).
 */
export function tlsServerOptions(t: ListenerTls, handshakeTimeoutMs: number, ticketKeys: Buffer | undefined, http: boolean): tls.TlsOptions {
  const first = t.certificates[0];
  return {
    cert: first?.cert,
    key: first?.key,
    minVersion: t.minVersion,
    ...(http ? { ALPNProtocols: ['http/1.1'] } : {}),
    handshakeTimeout: handshakeTimeoutMs,
    // Worker processes are given one ticket key: a session resumes on whichever takes the connection.
    ...(ticketKeys === undefined ? {} : { ticketKeys }),
  };
}

export class Certificates {
  private readonly exact = new Map<string, tls.SecureContext>();
  private readonly wildcard = new Map<string, tls.SecureContext>();
  private readonly fallback: tls.SecureContext;

  constructor(t: ListenerTls) {
    let fallback: tls.SecureContext | null = null;
    for (const c of t.certificates) {
      const context = tls.createSecureContext({ cert: c.cert, key: c.key, minVersion: t.minVersion });
      fallback ??= context;
      for (const name of c.names) {
        const table = name.startsWith('*.') ? this.wildcard : this.exact;
        const key = name.startsWith('*.') ? name.slice(2) : name;
        // The first certificate to claim a name keeps it.
        if (!table.has(key)) table.set(key, context);
      }
    }
    if (fallback === null) throw new Error('a TLS listener without a certificate');
    this.fallback = fallback;
  }

  /** The context for SNI name `servername` (lower-cased by the caller or not: DNS names are case-insensitive). */
  choose(servername: string): tls.SecureContext {
    const name = servername.toLowerCase();
    const exact = this.exact.get(name);
    if (exact !== undefined) return exact;
    const dot = name.indexOf('.');
    return (dot > 0 ? this.wildcard.get(name.slice(dot + 1)) : undefined) ?? this.fallback;
  }
}
