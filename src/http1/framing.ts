/**
 * How a forwarded message is framed (RFC 9112 §6), decided in one place for requests and responses
 * and for every path that forwards them (the head rewrite, the verbatim relay, the body pumps).
 *
 * The proxy never forwards the framing it received. It writes its own from what llhttp used to find
 * the end of the message: one `Content-Length` with the value llhttp read, or `Transfer-Encoding:
 * chunked` over a body it re-chunks itself from llhttp's decoded spans (chunk extensions dropped,
 * trailer fields filtered), so the next hop cannot read a length different from the proxy's.
 *
 * Body modes, for what the next hop receives:
 *   BODY_NONE     no body (none sent, or a response that cannot have one)
 *   BODY_LENGTH   Content-Length: n, and the n bytes as they came
 *   BODY_CHUNKED  Transfer-Encoding: chunked, re-chunked by the proxy
 *   BODY_CLOSE    the body runs until the proxy closes the connection (responses to HTTP/1.0 clients)
 */
import type { Http1Parser } from './parser.js';
import { CODINGS_CHUNKED, type HeadScan } from './hop-by-hop.js';
import { headerKind, H_OTHER } from './header-kind.js';
import { copyBytes } from './copy-bytes.js';

export const BODY_NONE = 0;
export const BODY_LENGTH = 1;
export const BODY_CHUNKED = 2;
export const BODY_CLOSE = 3;

/**
 * A request's body as forwarded: chunked when llhttp reads it chunked, else its Content-Length (0
 * included: a POST says it has an empty body), else none. Admission has refused every other framing.
 */
export function requestBody(p: Http1Parser): number {
  if (p.chunked) return BODY_CHUNKED;
  return p.contentLength >= 0 ? BODY_LENGTH : BODY_NONE;
}

/** Reused per backend connection: how the current response reaches the client. */
export class ResponseFraming {
  /** BODY_NONE, BODY_LENGTH, BODY_CHUNKED or BODY_CLOSE. */
  out = BODY_NONE;
  /** The body bytes are llhttp's decoded spans (chunked coding removed), not the bytes as they came. */
  decoded = false;
  /** Why the response cannot be forwarded (answered 502), or null. */
  refusal: string | null = null;

  /**
   * `toHead`: the request was HEAD; `http10Client`: the client cannot read chunked coding (RFC 9112
   * §6.1), so a body of unknown length goes to it decoded and delimited by close.
   */
  decide(p: Http1Parser, scan: HeadScan, toHead: boolean, http10Client: boolean): void {
    this.refusal = null;
    this.decoded = false;
    const status = p.statusCode;
    if (status < 200 || toHead || status === 204 || status === 304) {
      this.out = BODY_NONE;
    } else if (p.transferEncoding) {
      // What llhttp reads to the close (codings after chunked) or decodes around other codings,
      // the client would read differently: refused, as nginx refuses an unknown Transfer-Encoding.
      if (!p.chunked || scan.transferCodings(p) !== CODINGS_CHUNKED) {
        this.refusal = 'a Transfer-Encoding other than chunked';
        this.out = BODY_NONE;
        return;
      }
      this.out = http10Client ? BODY_CLOSE : BODY_CHUNKED;
      this.decoded = true;
    } else if (p.contentLength >= 0) {
      this.out = BODY_LENGTH;
    } else {
      // Delimited by the backend's close: chunked keeps an HTTP/1.1 client's connection open.
      this.out = http10Client ? BODY_CLOSE : BODY_CHUNKED;
      this.decoded = !http10Client;
    }
  }
}

/**
 * The value of the Content-Length line a head carries, or -1 for none: the body's length, or for a
 * response that has no body here (HEAD, 304) the length the backend declared for the representation.
 */
export function declaredLength(p: Http1Parser, mode: number): number {
  if (mode === BODY_LENGTH) return p.contentLength;
  if (mode === BODY_NONE && p.kind === 'response' && p.statusCode !== 204 && p.statusCode >= 200) return p.contentLength;
  return -1;
}

const CRLF_LENGTH = 2;
const LAST_CHUNK = Buffer.from('0\r\n');

/**
 * The body bytes of the parser's last step as one chunk (`size CRLF data CRLF`), followed when
 * `end` by the last chunk and the filtered trailer section. Null when there is nothing to send: a
 * chunk of size zero would end the body.
 */
export function encodeChunked(p: Http1Parser, chunk: Buffer, end: boolean): Buffer | null {
  const data = p.bodyBytes;
  let size = data > 0 ? hexLength(data) + CRLF_LENGTH + data + CRLF_LENGTH : 0;
  if (end) size += LAST_CHUNK.length + trailerBytes(p, null, 0) + CRLF_LENGTH;
  if (size === 0) return null;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  if (data > 0) {
    at = writeHex(data, out, at);
    at = crlf(out, at);
    at = copySpans(p, chunk, out, at);
    at = crlf(out, at);
  }
  if (end) {
    at += LAST_CHUNK.copy(out, at);
    at += trailerBytes(p, out, at);
    crlf(out, at);
  }
  return out;
}

/** The body bytes of the parser's last step without their framing, copied into one buffer. */
export function decodedBytes(p: Http1Parser, chunk: Buffer): Buffer {
  const out = Buffer.allocUnsafe(p.bodyBytes);
  copySpans(p, chunk, out, 0);
  return out;
}

function copySpans(p: Http1Parser, chunk: Buffer, out: Buffer, at: number): number {
  for (let i = 0; i < p.bodySpanCount; i++) {
    const start = p.bodySpans[2 * i] as number;
    at += chunk.copy(out, at, start, start + (p.bodySpans[2 * i + 1] as number));
  }
  return at;
}

/**
 * Bytes of the trailer fields the proxy forwards, `name: value CRLF` each (with `out`, written at
 * `at`). Fields the proxy interprets (framing, routing, hop-by-hop: Connection, Content-Length,
 * Transfer-Encoding, Host, TE, Trailer...) are not allowed in trailers (RFC 9110 §6.5.1) and dropped.
 */
function trailerBytes(p: Http1Parser, out: Buffer | null, at: number): number {
  const t = p.trailers;
  const spans = p.trailerSpans;
  let total = 0;
  for (let i = 0; i < p.trailerCount; i++) {
    const nameStart = spans[4 * i] as number;
    const nameLength = spans[4 * i + 1] as number;
    if (headerKind(t, nameStart, nameLength) !== H_OTHER) continue;
    const valueStart = spans[4 * i + 2] as number;
    let valueLength = spans[4 * i + 3] as number;
    while (valueLength > 0 && (t[valueStart + valueLength - 1] === 0x20 || t[valueStart + valueLength - 1] === 0x09)) valueLength--;
    if (out !== null) {
      let w = at + total;
      w += copyBytes(t, nameStart, nameStart + nameLength, out, w);
      out[w++] = 0x3a; // ':'
      out[w++] = 0x20;
      w += copyBytes(t, valueStart, valueStart + valueLength, out, w);
      crlf(out, w);
    }
    total += nameLength + 2 + valueLength + CRLF_LENGTH;
  }
  return total;
}

function crlf(out: Buffer, at: number): number {
  out[at] = 0x0d;
  out[at + 1] = 0x0a;
  return at + 2;
}

function hexLength(n: number): number {
  let digits = 1;
  while (n >= 16) {
    n = Math.floor(n / 16);
    digits++;
  }
  return digits;
}

const HEX = Buffer.from('0123456789abcdef');

function writeHex(n: number, out: Buffer, at: number): number {
  const end = at + hexLength(n);
  for (let i = end - 1; i >= at; i--) {
    out[i] = HEX[n % 16] as number;
    n = Math.floor(n / 16);
  }
  return end;
}

/** Digits of a non-negative integer (a Content-Length). */
export function decimalLength(n: number): number {
  let digits = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    digits++;
  }
  return digits;
}

/** Writes a non-negative integer in decimal at `at`; returns the byte count. */
export function writeDecimal(n: number, out: Buffer, at: number): number {
  const length = decimalLength(n);
  for (let i = at + length - 1; i >= at; i--) {
    out[i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  return length;
}
