/**
 * Reading a PROXY protocol header, v1 (text) or v2 (binary), from the first bytes of a connection.
 *
 * `parseHeader(bytes)` looks at everything read so far and says: `more` (a prefix of a valid header:
 * read on), `done` (the header takes the first `consumed` bytes; the rest is the stream it fronts),
 * or `invalid` (why). It never throws and never looks past `bytes`; a header may arrive in any
 * number of reads, and the caller passes all of them each time (bounded: V1_MAX, V2_MAX).
 *
 * Strict, as the spec asks of a receiver: v1 is `PROXY TCP4|TCP6 src dst sport dport\r\n` with
 * single spaces, addresses of the family named, ports 0-65535 without leading zeros, or
 * `PROXY UNKNOWN ...\r\n`; v2's version must be 2, its command LOCAL or PROXY, its family and
 * transport known, its length at least the family's address block and its TLVs exactly tile the rest.
 */
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from './ip.js';
import { V1_MAX, V1_PREFIX, V2_MAX, V2_SIGNATURE, type Addresses } from './types.js';

export interface HeaderDone {
  readonly status: 'done';
  readonly version: 1 | 2;
  /** Bytes the header takes: what follows them is the stream it fronts. */
  readonly consumed: number;
  /** LOCAL (v2): the sender's own connection (a health check); the real peer's address stands. */
  readonly local: boolean;
  /** The client's TCP addresses; null when the header gives none to use (LOCAL, UNKNOWN, UNSPEC, AF_UNIX, UDP). */
  readonly addresses: Addresses | null;
}
export type ParseResult = { readonly status: 'more' } | HeaderDone | { readonly status: 'invalid'; readonly reason: string };

const MORE: ParseResult = { status: 'more' };
const invalid = (reason: string): ParseResult => ({ status: 'invalid', reason });

/** Whether the first `n` bytes of `bytes` are the first `n` of `prefix`. */
function startsLike(bytes: Uint8Array, prefix: Uint8Array, n: number): boolean {
  for (let i = 0; i < n; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

export function parseHeader(bytes: Uint8Array): ParseResult {
  if (bytes.length === 0) return MORE;
  if (bytes[0] === V1_PREFIX[0]) {
    const n = Math.min(bytes.length, V1_PREFIX.length);
    return startsLike(bytes, V1_PREFIX, n) ? (n < V1_PREFIX.length ? MORE : parseV1(bytes)) : invalid('not a PROXY protocol header');
  }
  const n = Math.min(bytes.length, V2_SIGNATURE.length);
  if (!startsLike(bytes, V2_SIGNATURE, n)) return invalid('not a PROXY protocol header');
  return n < V2_SIGNATURE.length ? MORE : parseV2(bytes);
}

// ---- v1 ----

const PORT = /^(?:0|[1-9]\d{0,4})$/;

function parseV1(bytes: Uint8Array): ParseResult {
  // The line ends at the first CR, which must be followed by LF, within V1_MAX bytes.
  const limit = Math.min(bytes.length, V1_MAX - 1);
  let cr = -1;
  for (let i = V1_PREFIX.length; i < limit; i++) {
    const b = bytes[i] as number;
    if (b === 0x0d) {
      cr = i;
      break;
    }
    // Printable ASCII only: a v1 line is text.
    if (b < 0x20 || b > 0x7e) return invalid('v1: a byte that is not printable ASCII in the line');
  }
  if (cr < 0) return bytes.length >= V1_MAX - 1 ? invalid(`v1: no CRLF within ${V1_MAX} bytes`) : MORE;
  if (cr + 1 >= bytes.length) return MORE;
  if (bytes[cr + 1] !== 0x0a) return invalid('v1: CR not followed by LF');
  const consumed = cr + 2;
  const line = Buffer.from(bytes.buffer, bytes.byteOffset + V1_PREFIX.length, cr - V1_PREFIX.length).toString('latin1');
  const fields = line.split(' ');
  const protocol = fields[0];
  // UNKNOWN: whatever follows is to be ignored (the sender could not tell the addresses).
  if (protocol === 'UNKNOWN') return { status: 'done', version: 1, consumed, local: false, addresses: null };
  if (protocol !== 'TCP4' && protocol !== 'TCP6') return invalid(`v1: unknown protocol "${protocol ?? ''}"`);
  if (fields.length !== 5) return invalid('v1: expected "TCPx src dst sport dport" separated by single spaces');
  const [, src = '', dst = '', sport = '', dport = ''] = fields;
  const parse = protocol === 'TCP4' ? parseIPv4 : parseIPv6;
  const format = protocol === 'TCP4' ? formatIPv4 : formatIPv6;
  const s = parse(src);
  const d = parse(dst);
  if (s === null) return invalid(`v1: "${src}" is not an ${protocol === 'TCP4' ? 'IPv4' : 'IPv6'} address`);
  if (d === null) return invalid(`v1: "${dst}" is not an ${protocol === 'TCP4' ? 'IPv4' : 'IPv6'} address`);
  const sp = port(sport);
  const dp = port(dport);
  if (sp < 0) return invalid(`v1: "${sport}" is not a port 0-65535`);
  if (dp < 0) return invalid(`v1: "${dport}" is not a port 0-65535`);
  return {
    status: 'done', version: 1, consumed, local: false,
    addresses: { source: { address: format(s), port: sp }, destination: { address: format(d), port: dp } },
  };
}

function port(text: string): number {
  if (!PORT.test(text)) return -1;
  const n = Number(text);
  return n <= 65535 ? n : -1;
}

// ---- v2 ----

const V2_FIXED = 16;
const CMD_LOCAL = 0x0;
const CMD_PROXY = 0x1;
const AF_UNSPEC = 0x0;
const AF_INET = 0x1; // 0x2 is AF_INET6: what is left once the others are told apart
const AF_UNIX = 0x3;
const PROTO_STREAM = 0x1;
const PROTO_DGRAM = 0x2;
/** The address block each family puts first: src, dst (and ports for INET/INET6). */
const ADDRESS_BLOCK = [0, 12, 36, 216] as const;

function parseV2(bytes: Uint8Array): ParseResult {
  if (bytes.length < V2_FIXED) return MORE;
  const verCmd = bytes[12] as number;
  const famProto = bytes[13] as number;
  if (verCmd >> 4 !== 2) return invalid(`v2: version ${verCmd >> 4}, not 2`);
  const command = verCmd & 0x0f;
  if (command !== CMD_LOCAL && command !== CMD_PROXY) return invalid(`v2: unknown command ${command}`);
  const family = famProto >> 4;
  const transport = famProto & 0x0f;
  if (family > AF_UNIX) return invalid(`v2: unknown address family ${family}`);
  if (transport > PROTO_DGRAM) return invalid(`v2: unknown transport ${transport}`);
  const length = (bytes[14] as number) << 8 | (bytes[15] as number);
  const total = V2_FIXED + length;
  if (total > V2_MAX) return invalid(`v2: a header of ${total} bytes, more than the ${V2_MAX} accepted`);
  const block = ADDRESS_BLOCK[family as 0 | 1 | 2 | 3];
  if (length < block) return invalid(`v2: length ${length} is shorter than the ${block}-byte address block of its family`);
  if (bytes.length < total) return MORE;
  const tlvProblem = checkTlvs(bytes, V2_FIXED + block, total);
  if (tlvProblem !== null) return invalid(tlvProblem);
  const done = { status: 'done', version: 2, consumed: total } as const;
  // LOCAL: the sender speaks for itself (a health check); the addresses, if any, are to be ignored.
  if (command === CMD_LOCAL) return { ...done, local: true, addresses: null };
  // UNSPEC, a UNIX socket or UDP: nothing a TCP client address can be taken from.
  if (family === AF_UNSPEC || family === AF_UNIX || transport !== PROTO_STREAM) return { ...done, local: false, addresses: null };
  const at = V2_FIXED;
  const v4 = family === AF_INET;
  const size = v4 ? 4 : 16;
  const format = v4 ? formatIPv4 : formatIPv6;
  const ports = at + 2 * size;
  return {
    ...done, local: false,
    addresses: {
      source: { address: format(bytes, at), port: (bytes[ports] as number) << 8 | (bytes[ports + 1] as number) },
      destination: { address: format(bytes, at + size), port: (bytes[ports + 2] as number) << 8 | (bytes[ports + 3] as number) },
    },
  };
}

/** The TLVs in [from, to): each a type byte, a 16-bit length and that many bytes, ending exactly at `to`. */
function checkTlvs(bytes: Uint8Array, from: number, to: number): string | null {
  let at = from;
  while (at < to) {
    if (to - at < 3) return 'v2: a TLV cut short by the header length';
    const length = (bytes[at + 1] as number) << 8 | (bytes[at + 2] as number);
    at += 3 + length;
    if (at > to) return 'v2: a TLV longer than the header';
  }
  return null;
}
