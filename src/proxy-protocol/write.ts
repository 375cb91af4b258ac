/**
 * Writing a PROXY protocol header for a backend connection: v1 text or v2 binary, for a client's
 * addresses, or for a connection of the proxy's own (a health check: v1 `UNKNOWN`, v2 LOCAL).
 *
 * Both addresses go in one family: IPv4 when both are (an IPv4-mapped IPv6 address counts as its
 * IPv4), else IPv6 with an IPv4 one mapped. Addresses that are not IP (which a TCP socket does not
 * give) make an UNKNOWN (v1) or UNSPEC (v2) header: the backend then uses the proxy's own address.
 */
import { formatIPv6, ipv4Bytes, ipv6Bytes, formatIPv4 } from './ip.js';
import { V2_SIGNATURE, type Addresses, type ProxyVersion } from './types.js';

const V1_UNKNOWN = Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
/** Version 2, command LOCAL, family UNSPEC, no address block. */
const V2_LOCAL = Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]);
/** Version 2, command PROXY, family UNSPEC, no address block. */
const V2_UNSPEC = Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x00, 0x00, 0x00])]);

/** Both addresses as bytes of one family; null if either is not an IP address. */
function sameFamily(a: Addresses): { v4: boolean; src: Uint8Array; dst: Uint8Array } | null {
  const src4 = ipv4Bytes(a.source.address);
  const dst4 = ipv4Bytes(a.destination.address);
  if (src4 !== null && dst4 !== null) return { v4: true, src: src4, dst: dst4 };
  const src = ipv6Bytes(a.source.address);
  const dst = ipv6Bytes(a.destination.address);
  return src === null || dst === null ? null : { v4: false, src, dst };
}

/** `PROXY TCP4|TCP6 src dst sport dport\r\n`, or `PROXY UNKNOWN\r\n` for null (the proxy's own connection). */
export function writeV1(addresses: Addresses | null): Buffer {
  const f = addresses === null ? null : sameFamily(addresses);
  if (addresses === null || f === null) return V1_UNKNOWN;
  const format = f.v4 ? formatIPv4 : formatIPv6;
  const line = `PROXY ${f.v4 ? 'TCP4' : 'TCP6'} ${format(f.src)} ${format(f.dst)} ${addresses.source.port} ${addresses.destination.port}\r\n`;
  return Buffer.from(line, 'latin1');
}

/** A v2 PROXY header over TCP for `addresses`, or a LOCAL one for null (the proxy's own connection). */
export function writeV2(addresses: Addresses | null): Buffer {
  if (addresses === null) return V2_LOCAL;
  const f = sameFamily(addresses);
  if (f === null) return V2_UNSPEC;
  const size = f.src.length;
  const out = Buffer.alloc(16 + 2 * size + 4);
  V2_SIGNATURE.copy(out, 0);
  out[12] = 0x21; // version 2, PROXY
  out[13] = f.v4 ? 0x11 : 0x21; // AF_INET or AF_INET6, over STREAM
  out.writeUInt16BE(2 * size + 4, 14);
  out.set(f.src, 16);
  out.set(f.dst, 16 + size);
  out.writeUInt16BE(addresses.source.port, 16 + 2 * size);
  out.writeUInt16BE(addresses.destination.port, 18 + 2 * size);
  return out;
}

/** The header of `version` for `addresses` (null: the proxy's own connection). */
export function writeHeader(version: ProxyVersion, addresses: Addresses | null): Buffer {
  return version === 'v1' ? writeV1(addresses) : writeV2(addresses);
}
