/** What a PROXY protocol header says about a connection (HAProxy's doc/proxy-protocol.txt). */

/** An address (canonical text: dotted IPv4 or RFC 5952 IPv6) and a port. */
export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

/** Where a TCP connection came from and where it went: the client, and the address it connected to. */
export interface Addresses {
  readonly source: Endpoint;
  readonly destination: Endpoint;
}

/** The two versions of the protocol: v1 text, v2 binary. */
export type ProxyVersion = 'v1' | 'v2';

/** The 12 bytes every v2 header begins with. */
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** `PROXY `: how every v1 header begins. */
export const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** The spec's bound on a v1 line, CRLF included. */
export const V1_MAX = 107;
/**
 * The most a v2 header may take here, TLVs included. The spec allows 16 + 65535 bytes; like
 * HAProxy (whose header must fit its buffer) we take a few KiB: real senders put addresses and a
 * handful of short TLVs (ALPN, authority, an AWS or Azure endpoint id) in well under 1 KiB.
 */
export const V2_MAX = 4096;
