/**
 * Writing a forwarded head as one Buffer. The start line and every line that frames or routes the
 * message are written by the proxy from parsed values (framing.ts decides the framing); the other
 * header lines the HeadScan keeps are copied as raw bytes, in runs. Sizes are summed first so each
 * head is one allocation and one write.
 *
 * A header line runs from its name to the next header's name (llhttp in strict mode has already
 * refused obs-fold, bare LF and whitespace before the colon, so a line is exactly `name:value CRLF`).
 */
import type { Http1Parser } from './parser.js';
import { copyAll, copyBytes } from './copy-bytes.js';
import { H_DROP, trimmedLength, type HeadScan } from './hop-by-hop.js';
import {
  H_X_FORWARDED_FOR, H_X_FORWARDED_HOST, H_X_FORWARDED_PROTO, H_UPGRADE, H_CONTENT_LENGTH, H_TRANSFER_ENCODING, H_HOST,
} from './header-kind.js';
import { BODY_CHUNKED, decimalLength, writeDecimal } from './framing.js';
import type { RequestTarget } from './request-target.js';

const CRLF = Buffer.from('\r\n');
// RFC 9110 §6.2: an intermediary sends its own HTTP version on every message it forwards. Host
// comes next, first of the header lines.
const SP_HTTP11_CRLF_HOST = Buffer.from(' HTTP/1.1\r\nHost: ');
const HTTP11_SP = Buffer.from('HTTP/1.1 ');
const XFF = Buffer.from('X-Forwarded-For: ');
const XFF_JOIN = Buffer.from(', ');
const XF_HOST = Buffer.from('X-Forwarded-Host: ');
const CONNECTION_UPGRADE = Buffer.from('Connection: upgrade\r\n');
// RFC 9110 §10.1.4: TE is a connection option, listed in Connection wherever it is sent.
const TE_TRAILERS = Buffer.from('TE: trailers\r\nConnection: TE\r\n');
const TE_TRAILERS_UPGRADE = Buffer.from('TE: trailers\r\nConnection: upgrade, TE\r\n');
const CONTENT_LENGTH = Buffer.from('Content-Length: ');
const TRANSFER_ENCODING_CHUNKED = Buffer.from('Transfer-Encoding: chunked\r\n');

/** Per-connection constant lines, built once when the client connects. */
export interface ForwardedLines {
  /**
   * `X-Forwarded-For: ADDRESS\r\n` with the client's address: the whole line when the request
   * brought none; after the values it brought, from ADDRESS on (`XFF.length`).
   */
  forwardedFor: Buffer;
  /** `X-Forwarded-Proto: http\r\n` (or https behind TLS termination). */
  proto: Buffer;
  /** The address the client connected to: the Host of an HTTP/1.0 request that sent none (RFC 9112 §3.3). */
  localAuthority: Buffer;
}

const PROTO_LINE = { http: Buffer.from('X-Forwarded-Proto: http\r\n'), https: Buffer.from('X-Forwarded-Proto: https\r\n') };

/** The last local authority made, for the next connection to the same listener: idle connections share it. */
let lastAuthority = { address: '', port: -1, bytes: Buffer.alloc(0) };

export function forwardedLines(clientAddress: string, proto: 'http' | 'https', localAddress: string, localPort: number): ForwardedLines {
  if (lastAuthority.address !== localAddress || lastAuthority.port !== localPort) {
    const host = localAddress.includes(':') ? `[${localAddress}]` : localAddress;
    lastAuthority = { address: localAddress, port: localPort, bytes: Buffer.from(`${host}:${localPort}`, 'latin1') };
  }
  return { forwardedFor: Buffer.from(`X-Forwarded-For: ${clientAddress}\r\n`, 'latin1'), proto: PROTO_LINE[proto], localAuthority: lastAuthority.bytes };
}

function lineEnd(p: Http1Parser, i: number): number {
  return i + 1 < p.headerCount ? p.nameStart(i + 1) : p.head.length - 2;
}

/**
 * Whether a header line is copied as it is. Hop-by-hop headers never are, nor the framing headers
 * (the proxy writes its own); on requests the proxy writes Host and X-Forwarded-* itself; on
 * responses X-Forwarded-* are the backend's business and pass through.
 */
function copied(kind: number, keepUpgrade: boolean, request: boolean): boolean {
  if (kind === H_DROP || kind === H_CONTENT_LENGTH || kind === H_TRANSFER_ENCODING) return false;
  if (kind === H_UPGRADE) return keepUpgrade;
  return !request || (kind !== H_HOST && kind !== H_X_FORWARDED_FOR && kind !== H_X_FORWARDED_PROTO && kind !== H_X_FORWARDED_HOST);
}

/** Bytes of the kept header lines (and, with `out`, copies them from `at`). */
function copyKept(p: Http1Parser, scan: HeadScan, keepUpgrade: boolean, request: boolean, out: Buffer | null, at: number): number {
  const head = p.head;
  let total = 0;
  let runStart = -1;
  let runEnd = -1;
  for (let i = 0; i < p.headerCount; i++) {
    if (!copied(scan.kinds[i] as number, keepUpgrade, request)) continue;
    const start = p.nameStart(i);
    const end = lineEnd(p, i);
    if (start === runEnd) {
      runEnd = end;
      continue;
    }
    if (runStart >= 0) {
      if (out !== null) copyBytes(head, runStart, runEnd, out, at + total);
      total += runEnd - runStart;
    }
    runStart = start;
    runEnd = end;
  }
  if (runStart >= 0) {
    if (out !== null) copyBytes(head, runStart, runEnd, out, at + total);
    total += runEnd - runStart;
  }
  return total;
}

/** The framing line for a body mode: `Content-Length: n` (n >= 0), chunked, or nothing. */
function framingSize(mode: number, length: number): number {
  if (mode === BODY_CHUNKED) return TRANSFER_ENCODING_CHUNKED.length;
  return length >= 0 ? CONTENT_LENGTH.length + decimalLength(length) + CRLF.length : 0;
}

function writeFraming(mode: number, length: number, out: Buffer, at: number): number {
  if (mode === BODY_CHUNKED) return copyAll(TRANSFER_ENCODING_CHUNKED, out, at);
  if (length < 0) return 0;
  let w = at + copyAll(CONTENT_LENGTH, out, at);
  w += writeDecimal(length, out, w);
  w += copyAll(CRLF, out, w);
  return w - at;
}

/**
 * The request head sent to a backend: `METHOD target HTTP/1.1` (an absolute-form target in origin
 * form), Host (the target's authority, else the client's Host, else the address the client
 * connected to), the end-to-end headers, the framing `bodyMode` and `length` say, the client added
 * to X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host set. `upgrade` keeps Upgrade and sends
 * `Connection: upgrade` (a tunnel was asked for); otherwise both are dropped.
 */
export function requestHead(
  p: Http1Parser, scan: HeadScan, target: RequestTarget, fwd: ForwardedLines, upgrade: boolean, bodyMode: number, length: number,
): Buffer {
  const head = p.head;
  // The host: an absolute-form target's authority wins over the Host header (RFC 9112 §3.2.2).
  let hostBytes: Uint8Array = head;
  let hostStart = target.authorityStart;
  let hostEnd = target.authorityEnd;
  const clientGaveHost = hostStart >= 0 || scan.hostIndex >= 0;
  if (hostStart < 0 && scan.hostIndex >= 0) {
    hostStart = p.valueStart(scan.hostIndex);
    hostEnd = hostStart + trimmedLength(head, hostStart, p.valueLength(scan.hostIndex));
  } else if (hostStart < 0) {
    hostBytes = fwd.localAuthority;
    hostStart = 0;
    hostEnd = fwd.localAuthority.length;
  }
  const hostLength = hostEnd - hostStart;

  let size = target.methodLength + 1 + (target.slash ? 1 : 0) + (target.end - target.start) + SP_HTTP11_CRLF_HOST.length;
  size += hostLength + CRLF.length;
  size += copyKept(p, scan, upgrade, true, null, 0);
  size += framingSize(bodyMode, length);
  size += fwd.forwardedFor.length;
  for (const i of scan.forwardedFor) size += p.valueLength(i) + XFF_JOIN.length;
  size += fwd.proto.length;
  if (clientGaveHost) size += XF_HOST.length + hostLength + CRLF.length;
  const connection = scan.teTrailers ? (upgrade ? TE_TRAILERS_UPGRADE : TE_TRAILERS) : upgrade ? CONNECTION_UPGRADE : null;
  if (connection !== null) size += connection.length;
  size += CRLF.length;

  const out = Buffer.allocUnsafe(size);
  let at = copyBytes(head, 0, target.methodLength, out, 0);
  out[at++] = 0x20;
  if (target.slash) out[at++] = 0x2f;
  at += copyBytes(head, target.start, target.end, out, at);
  at += copyAll(SP_HTTP11_CRLF_HOST, out, at);
  at += copyBytes(hostBytes, hostStart, hostEnd, out, at);
  at += copyAll(CRLF, out, at);
  at += copyKept(p, scan, upgrade, true, out, at);
  at += writeFraming(bodyMode, length, out, at);
  if (scan.forwardedFor.length === 0) {
    at += copyAll(fwd.forwardedFor, out, at);
  } else {
    at += copyAll(XFF, out, at);
    for (const i of scan.forwardedFor) {
      at += copyBytes(head, p.valueStart(i), p.valueStart(i) + p.valueLength(i), out, at);
      at += copyAll(XFF_JOIN, out, at);
    }
    at += copyBytes(fwd.forwardedFor, XFF.length, fwd.forwardedFor.length, out, at);
  }
  at += copyAll(fwd.proto, out, at);
  if (clientGaveHost) {
    at += copyAll(XF_HOST, out, at);
    at += copyBytes(hostBytes, hostStart, hostEnd, out, at);
    at += copyAll(CRLF, out, at);
  }
  if (connection !== null) at += copyAll(connection, out, at);
  copyAll(CRLF, out, at);
  return out;
}

/**
 * The response head sent to a client: `HTTP/1.1 code reason`, the backend's end-to-end headers, the
 * framing `bodyMode` and `length` say (length -1: no Content-Length line), and `connection` (e.g.
 * `Connection: close\r\n`, or empty). X-Forwarded-* from a backend pass through.
 * `body[bodyStart, bodyEnd)` is appended in the same buffer so a small response is one write.
 */
export function responseHead(
  p: Http1Parser, scan: HeadScan, upgrade: boolean, bodyMode: number, length: number, connection: Buffer,
  body: Buffer, bodyStart: number, bodyEnd: number,
): Buffer {
  const head = p.head;
  const reasonEnd = p.statusTextStart + p.statusTextLength;
  const kept = copyKept(p, scan, upgrade, false, null, 0);
  const size = HTTP11_SP.length + 4 + p.statusTextLength + CRLF.length + kept + framingSize(bodyMode, length)
    + (upgrade ? CONNECTION_UPGRADE.length : 0) + connection.length + CRLF.length + (bodyEnd - bodyStart);
  const out = Buffer.allocUnsafe(size);
  let at = copyAll(HTTP11_SP, out, 0);
  at += writeDecimal(p.statusCode, out, at); // llhttp accepts three digits only
  out[at++] = 0x20;
  at += copyBytes(head, p.statusTextStart, reasonEnd, out, at);
  at += copyAll(CRLF, out, at);
  at += copyKept(p, scan, upgrade, false, out, at);
  at += writeFraming(bodyMode, length, out, at);
  if (upgrade) at += copyAll(CONNECTION_UPGRADE, out, at);
  at += copyAll(connection, out, at);
  at += copyAll(CRLF, out, at);
  if (bodyEnd > bodyStart) copyBytes(body, bodyStart, bodyEnd, out, at);
  return out;
}
