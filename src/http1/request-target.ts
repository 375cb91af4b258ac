/**
 * The request line and its target, judged on the parsed head's bytes (RFC 9112 §3), and the Host
 * value (RFC 9110 §7.2, RFC 3986 §3.2.2). llhttp checks the characters; the shapes it lets through
 * that a proxy must not forward (two spaces between parts, a request line without a version, `*`
 * with a method other than OPTIONS, userinfo or a fragment) are refused here, and an absolute-form
 * target is taken apart so the proxy can forward it in origin form with its authority as Host.
 *
 * A RequestTarget is owned by one connection and reused for every request: no allocation.
 */
import type { Http1Parser } from './parser.js';
import { METHOD_OPTIONS } from './methods.js';

const SP = 0x20;
const CR = 0x0d;
const LF = 0x0a;
const SLASH = 0x2f;
const QUESTION = 0x3f;
const HASH = 0x23;
const STAR = 0x2a;
const COLON = 0x3a;
const AT = 0x40;

const HTTP_SCHEME = Buffer.from('http://');
const HTTPS_SCHEME = Buffer.from('https://');

export class RequestTarget {
  /** Bytes of the method at the start of the head. */
  methodLength = 0;
  /** The target as forwarded: head[start, end), after a '/' when `slash` (absolute-form without a path). */
  start = 0;
  end = 0;
  slash = false;
  /** An absolute-form target's authority, head[authorityStart, authorityEnd); -1 for other forms. */
  authorityStart = -1;
  authorityEnd = -1;
  /** Why the last read() refused the request line (for the error log). */
  reason = '';

  /** 0 when the request line and target are fit to forward; else the status to answer (400). */
  read(p: Http1Parser): number {
    const head = p.head;
    this.authorityStart = this.authorityEnd = -1;
    this.slash = false;
    let methodLength = 0;
    while (methodLength < head.length && head[methodLength] !== SP) methodLength++;
    this.methodLength = methodLength;
    const start = p.urlStart;
    const end = start + p.urlLength;
    if (start !== methodLength + 1) return this.refuse('more than one space after the method');
    if (head[end] !== SP) return this.refuse('a request line without an HTTP version');
    if (head[end + 1] === SP) return this.refuse('more than one space before the HTTP version');
    if (contains(head, start, end, HASH)) return this.refuse('a fragment in the request target');
    this.start = start;
    this.end = end;
    const first = head[start];
    if (first === SLASH) return 0;
    if (first === STAR && end - start === 1) {
      return p.method === METHOD_OPTIONS ? 0 : this.refuse('the asterisk-form target with a method other than OPTIONS');
    }
    return this.readAbsolute(head, start, end);
  }

  /** `http://authority[/path][?query]` (RFC 9112 §3.2.2): forwarded as origin-form, its authority as Host. */
  private readAbsolute(head: Buffer, start: number, end: number): number {
    const scheme = startsWithLower(head, start, end, HTTP_SCHEME) ? HTTP_SCHEME.length
      : startsWithLower(head, start, end, HTTPS_SCHEME) ? HTTPS_SCHEME.length : 0;
    if (scheme === 0) return this.refuse('a request target that is neither a path nor an http(s) URI');
    const authorityStart = start + scheme;
    let authorityEnd = authorityStart;
    while (authorityEnd < end && head[authorityEnd] !== SLASH && head[authorityEnd] !== QUESTION) authorityEnd++;
    // RFC 9110 §4.2.4: userinfo in an http(s) URI is an error.
    if (contains(head, authorityStart, authorityEnd, AT)) return this.refuse('userinfo in the request target');
    if (!validHost(head, authorityStart, authorityEnd - authorityStart)) return this.refuse('an invalid authority in the request target');
    this.authorityStart = authorityStart;
    this.authorityEnd = authorityEnd;
    this.start = authorityEnd;
    this.slash = authorityEnd === end || head[authorityEnd] === QUESTION;
    return 0;
  }

  private refuse(reason: string): number {
    this.reason = reason;
    return 400;
  }
}

function contains(buf: Uint8Array, start: number, end: number, byte: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] === byte) return true;
  return false;
}

/** `lower` is lowercase letters and ':' '/', which `| 0x20` leaves alone (llhttp refused control bytes). */
function startsWithLower(buf: Uint8Array, start: number, end: number, lower: Uint8Array): boolean {
  if (end - start < lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    if (((buf[start + i] as number) | 0x20) !== lower[i]) return false;
  }
  return true;
}

// RFC 3986 character classes, by byte.
const REG_NAME = new Uint8Array(256); // unreserved / sub-delims ('%' is checked as pct-encoded)
const HEX_DIGIT = new Uint8Array(256);
for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&\'()*+,;=') REG_NAME[c.charCodeAt(0)] = 1;
for (const c of '0123456789abcdefABCDEF') HEX_DIGIT[c.charCodeAt(0)] = 1;

/**
 * `uri-host [":" port]` (RFC 3986 §3.2.2, §3.2.3), with a host that is not empty (RFC 9110 §4.2.1):
 * a reg-name or IPv4 address, or an IP literal in brackets; the port digits only.
 */
export function validHost(buf: Uint8Array, start: number, length: number): boolean {
  const end = start + length;
  let at = start;
  if (buf[at] === 0x5b) { // '[' IP-literal ']'
    at++;
    const literalStart = at;
    while (at < end && buf[at] !== 0x5d) {
      const c = buf[at] as number;
      if (HEX_DIGIT[c] !== 1 && c !== COLON && c !== 0x2e && REG_NAME[c] !== 1) return false;
      at++;
    }
    if (at >= end || at === literalStart) return false;
    at++; // ']'
  } else {
    while (at < end && buf[at] !== COLON) {
      const c = buf[at] as number;
      if (c === 0x25) { // '%' HEXDIG HEXDIG
        if (at + 2 >= end || HEX_DIGIT[buf[at + 1] as number] !== 1 || HEX_DIGIT[buf[at + 2] as number] !== 1) return false;
        at += 3;
        continue;
      }
      if (REG_NAME[c] !== 1) return false;
      at++;
    }
    if (at === start) return false;
  }
  if (at === end) return true;
  if (buf[at] !== COLON || end - at - 1 > 5) return false;
  for (at++; at < end; at++) {
    const c = buf[at] as number;
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

// RFC 9110 §5.6.2 tchar.
const TCHAR = new Uint8Array(256);
for (const c of '!#$%&\'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ') TCHAR[c.charCodeAt(0)] = 1;

/**
 * For a request line llhttp refused at its method: 501 when what arrived is (the start of) a
 * well-formed request line with a method llhttp does not know, 400 when it is malformed (leading
 * whitespace, a byte that is not a token character, a missing part, two spaces).
 */
export function unknownMethodStatus(bytes: Uint8Array): number {
  let at = 0;
  while (at < bytes.length && TCHAR[bytes[at] as number] === 1) at++;
  if (at === 0) return 400;
  if (at === bytes.length) return 501;
  if (bytes[at++] !== SP) return 400;
  const targetStart = at;
  while (at < bytes.length && (bytes[at] as number) > SP && bytes[at] !== 0x7f) at++;
  if (at === bytes.length) return 501;
  if (at === targetStart || bytes[at++] !== SP) return 400;
  const version = 'HTTP/1.1';
  for (let i = 0; i < version.length && at < bytes.length; i++, at++) {
    const expected = version.charCodeAt(i);
    const c = bytes[at] as number;
    if (i === 5 || i === 7 ? c < 0x30 || c > 0x39 : c !== expected) return 400;
  }
  if (at < bytes.length && bytes[at++] !== CR) return 400;
  if (at < bytes.length && bytes[at] !== LF) return 400;
  return 501;
}
