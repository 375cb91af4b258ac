/**
 * Writing a forwarded head as one Buffer: the start line, the header lines the HeadScan keeps
 * (copied as raw bytes, in runs), the proxy's own lines, and the blank line. Sizes are summed
 * first so each head is one allocation and one write.
 *
 * A header line runs from its name to the next header's name (llhttp in strict mode has already
 * refused obs-fold, bare LF and whitespace before the colon, so a line is exactly `name:value CRLF`).
 */
import type { Http1Parser } from './parser.js';
import { copyAll, copyBytes } from './copy-bytes.js';
import { H_DROP, type HeadScan } from './hop-by-hop.js';
import { H_X_FORWARDED_FOR, H_X_FORWARDED_HOST, H_X_FORWARDED_PROTO, H_UPGRADE } from './header-kind.js';

const CRLF = Buffer.from('\r\n');
const HTTP11_CRLF = Buffer.from(' HTTP/1.1\r\n');
// An HTTP/1.0 client's request goes on as HTTP/1.0, so the backend answers without chunked coding
// (RFC 9112 §6.1), asking to keep the pooled connection open.
const HTTP10_CRLF_KEEP_ALIVE = Buffer.from(' HTTP/1.0\r\nConnection: keep-alive\r\n');
const XFF = Buffer.from('X-Forwarded-For: ');
const XFF_JOIN = Buffer.from(', ');
const XF_HOST = Buffer.from('X-Forwarded-Host: ');
const CONNECTION_UPGRADE = Buffer.from('Connection: upgrade\r\n');

/** Per-connection constant lines, built once when the client connects. */
export interface ForwardedLines {
  /** The client's address, as it goes after `X-Forwarded-For: ` (no CRLF). */
  clientAddress: Buffer;
  /** `X-Forwarded-Proto: http\r\n` (or https behind TLS termination). */
  proto: Buffer;
}

export function forwardedLines(clientAddress: string, proto: 'http' | 'https'): ForwardedLines {
  return {
    clientAddress: Buffer.from(clientAddress, 'latin1'),
    proto: Buffer.from(`X-Forwarded-Proto: ${proto}\r\n`, 'latin1'),
  };
}

function lineEnd(p: Http1Parser, i: number): number {
  return i + 1 < p.headerCount ? p.nameStart(i + 1) : p.head.length - 2;
}

/**
 * Whether a header is copied as it is. Hop-by-hop headers never are; on requests the proxy writes
 * X-Forwarded-* itself; on responses they are the backend's business and pass through.
 */
function copied(kind: number, keepUpgrade: boolean, request: boolean): boolean {
  if (kind === H_DROP) return false;
  if (kind === H_UPGRADE) return keepUpgrade;
  return !request || (kind !== H_X_FORWARDED_FOR && kind !== H_X_FORWARDED_PROTO && kind !== H_X_FORWARDED_HOST);
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

function valueEnd(p: Http1Parser, i: number): number {
  return p.valueStart(i) + p.valueLength(i);
}

/**
 * The request head sent to a backend: `METHOD target HTTP/1.1` (1.0 for 1.0 clients), the end-to-end headers, the client
 * added to X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host set. `upgrade` keeps Upgrade and
 * sends `Connection: upgrade` (a tunnel was asked for); otherwise both are dropped.
 */
export function requestHead(p: Http1Parser, scan: HeadScan, fwd: ForwardedLines, upgrade: boolean): Buffer {
  const version = p.versionMajor === 1 && p.versionMinor === 0 ? HTTP10_CRLF_KEEP_ALIVE : HTTP11_CRLF;
  const head = p.head;
  let lineStart = 0;
  while (head[lineStart] === 0x0d || head[lineStart] === 0x0a) lineStart++; // llhttp skips CRLF before a request
  const targetEnd = p.urlStart + p.urlLength;

  let size = targetEnd - lineStart + version.length + copyKept(p, scan, upgrade, true, null, 0);
  size += XFF.length + fwd.clientAddress.length + CRLF.length;
  for (const i of scan.forwardedFor) size += p.valueLength(i) + XFF_JOIN.length;
  size += fwd.proto.length;
  if (scan.hostIndex >= 0) size += XF_HOST.length + p.valueLength(scan.hostIndex) + CRLF.length;
  if (upgrade) size += CONNECTION_UPGRADE.length;
  size += CRLF.length;

  const out = Buffer.allocUnsafe(size);
  let at = copyBytes(head, lineStart, targetEnd, out, 0);
  at += copyAll(version, out, at);
  at += copyKept(p, scan, upgrade, true, out, at);
  at += copyAll(XFF, out, at);
  for (const i of scan.forwardedFor) {
    at += copyBytes(head, p.valueStart(i), valueEnd(p, i), out, at);
    at += copyAll(XFF_JOIN, out, at);
  }
  at += copyAll(fwd.clientAddress, out, at);
  at += copyAll(CRLF, out, at);
  at += copyAll(fwd.proto, out, at);
  if (scan.hostIndex >= 0) {
    at += copyAll(XF_HOST, out, at);
    at += copyBytes(head, p.valueStart(scan.hostIndex), valueEnd(p, scan.hostIndex), out, at);
    at += copyAll(CRLF, out, at);
  }
  if (upgrade) at += copyAll(CONNECTION_UPGRADE, out, at);
  copyAll(CRLF, out, at);
  return out;
}

/**
 * The response head sent to a client: the backend's status line and end-to-end headers, plus
 * `connection` (e.g. `Connection: close\r\n`, or empty). X-Forwarded-* from a backend pass through.
 * `body[bodyStart, bodyEnd)` is appended in the same buffer so a small response is one write.
 */
export function responseHead(
  p: Http1Parser, scan: HeadScan, upgrade: boolean, connection: Buffer,
  body: Buffer, bodyStart: number, bodyEnd: number,
): Buffer {
  const head = p.head;
  const statusLineEnd = p.headerCount > 0 ? p.nameStart(0) : head.length - 2;
  const kept = copyKept(p, scan, upgrade, false, null, 0);
  const size = statusLineEnd + kept + (upgrade ? CONNECTION_UPGRADE.length : 0) + connection.length + CRLF.length + (bodyEnd - bodyStart);
  const out = Buffer.allocUnsafe(size);
  let at = copyBytes(head, 0, statusLineEnd, out, 0);
  at += copyKept(p, scan, upgrade, false, out, at);
  if (upgrade) at += copyAll(CONNECTION_UPGRADE, out, at);
  at += copyAll(connection, out, at);
  at += copyAll(CRLF, out, at);
  if (bodyEnd > bodyStart) copyBytes(body, bodyStart, bodyEnd, out, at);
  return out;
}
