/**
 * TLS to an https:// backend: verified against `ca` (PEM; null: the system CAs), with SNI set to its
 * host name (not to an IP address, which SNI does not carry). With a preface (a PROXY header) the TCP
 * connection begins with it and the handshake follows, as a backend behind accept-proxy reads them.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';

export function verifiedAs(host: string, ca: string | null): tls.ConnectionOptions {
  return { servername: net.isIP(host) === 0 ? host : undefined, ...(ca === null ? {} : { ca }) };
}

/**
 * A TLS connection whose TCP connection sends `preface` first. TLS runs over a socket of our own
 * here, which tls.connect reads through 'data' (it takes no `onread` then); the TLS socket reports
 * that socket's errors.
 */
export function tlsAfter(preface: Buffer, host: string, port: number, options: tls.ConnectionOptions): tls.TLSSocket {
  const raw = net.connect({ host, port, noDelay: true });
  raw.write(preface);
  return tls.connect({ ...options, socket: raw });
}
