/**
 * One pass over a parsed head that decides, per header, whether a proxy forwards it, and collects
 * what the proxy acts on (RFC 9110 §7.6.1: Connection and every header it names, Keep-Alive,
 * Proxy-Connection, TE, Trailer and Upgrade are hop-by-hop; RFC 9112 §9.3 for keep-alive).
 *
 * A Connection token never removes a header that frames or routes the message (Content-Length,
 * Transfer-Encoding, Host) or one the proxy writes itself (X-Forwarded-*): RFC 9110 §7.6.1 forbids a
 * sender to list a field meant for every recipient, and obeying one would forward a body without
 * the framing that delimits it, so the backend would read it as the next request (smuggling). Such
 * tokens are ignored, as nginx and HAProxy ignore every token but close, keep-alive and upgrade.
 * Those headers are never copied anyway: framing.ts and head.ts write them from what was parsed.
 *
 * A HeadScan is owned by one connection and reused for every message: no allocation per head.
 */
import type { Http1Parser } from './parser.js';
import { doubled } from './grow.js';
import {
  headerKind, equalsLower, H_OTHER, H_CONNECTION, H_KEEP_ALIVE, H_PROXY_CONNECTION, H_TE, H_TRAILER,
  H_UPGRADE, H_HOST, H_EXPECT, H_X_FORWARDED_FOR, H_X_FORWARDED_PROTO, H_X_FORWARDED_HOST,
  H_PROXY_AUTHORIZATION, H_PROXY_AUTHENTICATE, H_CONTENT_LENGTH, H_TRANSFER_ENCODING, H_LOOKALIKE,
} from './header-kind.js';

/** A header the proxy does not forward. */
export const H_DROP = 255;

/** transferCodings(): what a Transfer-Encoding field list says (RFC 9112 §6.1, §6.3). */
export const CODINGS_CHUNKED = 0;
/** Other codings, then chunked: the body length is known, but the proxy would have to forward them. */
export const CODINGS_OTHERS_THEN_CHUNKED = 1;
/** chunked is not last, or comes twice: the length cannot be known, or the sender is broken. */
export const CODINGS_UNFRAMED = 2;

const CLOSE = Buffer.from('close');
const KEEP_ALIVE = Buffer.from('keep-alive');
const UPGRADE = Buffer.from('upgrade');
const CONTINUE_100 = Buffer.from('100-continue');
const CHUNKED = Buffer.from('chunked');
const TRAILERS = Buffer.from('trailers');

function isOws(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x09;
}

/** Headers a Connection token may not remove (see the file comment). */
function framesOrRoutes(kind: number): boolean {
  return kind === H_CONTENT_LENGTH || kind === H_TRANSFER_ENCODING || kind === H_HOST
    || kind === H_X_FORWARDED_FOR || kind === H_X_FORWARDED_PROTO || kind === H_X_FORWARDED_HOST;
}

export class HeadScan {
  /** Per header: its kind (header-kind.ts), or H_DROP. */
  kinds = new Uint8Array(32);
  /** Headers in the head last scanned. */
  count = 0;
  /** Headers marked H_DROP. */
  dropped = 0;
  connectionClose = false;
  connectionKeepAlive = false;
  connectionUpgrade = false;
  expectContinue = false;
  /** The Content-Length header (llhttp refuses a second one), or -1. */
  contentLengthIndex = -1;
  hasTransferEncoding = false;
  hostIndex = -1;
  hostCount = 0;
  /** Indexes of X-Forwarded-For headers, in order (their values are joined when forwarding). */
  forwardedFor: number[] = [];
  upgradeIndex = -1;
  /** TE names `trailers`: the client reads trailer fields (the proxy relays them, so it says so upstream). */
  teTrailers = false;
  /** [start, length] of each Connection token that names another header. */
  private named = new Int32Array(16);
  private namedCount = 0;

  scan(p: Http1Parser): void {
    const head = p.head;
    const count = p.headerCount;
    this.count = count;
    if (this.kinds.length < count) this.kinds = new Uint8Array(Math.max(count, 2 * this.kinds.length));
    this.connectionClose = this.connectionKeepAlive = this.connectionUpgrade = false;
    this.expectContinue = this.hasTransferEncoding = this.teTrailers = false;
    this.contentLengthIndex = -1;
    this.hostIndex = this.upgradeIndex = -1;
    this.dropped = 0;
    this.hostCount = 0;
    // Setting an array's length is a runtime call even when it is 0 already.
    if (this.forwardedFor.length !== 0) this.forwardedFor.length = 0;
    this.namedCount = 0;

    let sawNamed = false;
    for (let i = 0; i < count; i++) {
      const kind = headerKind(head, p.nameStart(i), p.nameLength(i));
      this.kinds[i] = kind;
      switch (kind) {
        case H_OTHER:
          break;
        case H_CONNECTION:
        case H_PROXY_CONNECTION:
          sawNamed = this.readConnectionTokens(head, p.valueStart(i), p.valueLength(i)) || sawNamed;
          this.drop(i);
          break;
        case H_TE:
          if (hasToken(head, p.valueStart(i), p.valueLength(i), TRAILERS)) this.teTrailers = true;
          this.drop(i);
          break;
        case H_KEEP_ALIVE:
        case H_TRAILER:
        case H_PROXY_AUTHORIZATION:
        case H_PROXY_AUTHENTICATE:
        case H_LOOKALIKE:
          this.drop(i);
          break;
        case H_UPGRADE:
          this.upgradeIndex = i;
          break;
        case H_HOST:
          if (this.hostIndex < 0) this.hostIndex = i;
          this.hostCount++;
          break;
        case H_EXPECT:
          if (equalsLower(head, p.valueStart(i), trimmedLength(head, p.valueStart(i), p.valueLength(i)), CONTINUE_100)) {
            this.expectContinue = true;
          }
          break;
        case H_CONTENT_LENGTH:
          this.contentLengthIndex = i;
          break;
        case H_TRANSFER_ENCODING:
          this.hasTransferEncoding = true;
          break;
        case H_X_FORWARDED_FOR:
          this.forwardedFor.push(i);
          break;
        case H_X_FORWARDED_PROTO:
        case H_X_FORWARDED_HOST:
          break;
      }
    }
    if (sawNamed) this.dropNamed(p);
  }

  /**
   * The transfer codings of every Transfer-Encoding header, as one list (RFC 9110 §5.3), with empty
   * members ignored (RFC 9110 §5.6.1): just `chunked`, other codings before a final `chunked`, or a
   * list whose body length cannot be known (chunked missing, not last, or given twice).
   */
  transferCodings(p: Http1Parser): number {
    const head = p.head;
    let others = false;
    let chunkedCount = 0;
    let lastIsChunked = false;
    for (let i = 0; i < this.count; i++) {
      if (this.kinds[i] !== H_TRANSFER_ENCODING) continue;
      const end = p.valueStart(i) + p.valueLength(i);
      for (let at = p.valueStart(i); at < end;) {
        while (at < end && (isOws(head[at]) || head[at] === 0x2c)) at++;
        const tokenStart = at;
        while (at < end && head[at] !== 0x2c) at++;
        let tokenEnd = at;
        while (tokenEnd > tokenStart && isOws(head[tokenEnd - 1])) tokenEnd--;
        if (tokenEnd === tokenStart) continue;
        lastIsChunked = equalsLower(head, tokenStart, tokenEnd - tokenStart, CHUNKED);
        if (lastIsChunked) chunkedCount++;
        else others = true;
      }
    }
    if (!lastIsChunked || chunkedCount > 1) return CODINGS_UNFRAMED;
    return others ? CODINGS_OTHERS_THEN_CHUNKED : CODINGS_CHUNKED;
  }

  private drop(i: number): void {
    this.kinds[i] = H_DROP;
    this.dropped++;
  }

  /** Marks Connection-named headers for dropping (they are hop-by-hop by declaration). */
  private dropNamed(p: Http1Parser): void {
    const head = p.head;
    for (let i = 0; i < p.headerCount; i++) {
      const kind = this.kinds[i] as number;
      if (kind === H_DROP || framesOrRoutes(kind)) continue;
      for (let t = 0; t < this.namedCount; t++) {
        if (equalsIgnoringCase(head, p.nameStart(i), p.nameLength(i), this.named[2 * t] as number, this.named[2 * t + 1] as number)) {
          this.drop(i);
          break;
        }
      }
    }
  }

  /** Reads a comma-separated Connection value; returns true if it names other headers. */
  private readConnectionTokens(head: Buffer, start: number, length: number): boolean {
    let named = false;
    const end = start + length;
    let i = start;
    while (i < end) {
      while (i < end && (isOws(head[i]) || head[i] === 0x2c)) i++;
      const tokenStart = i;
      while (i < end && head[i] !== 0x2c) i++;
      let tokenEnd = i;
      while (tokenEnd > tokenStart && isOws(head[tokenEnd - 1])) tokenEnd--;
      const tokenLength = tokenEnd - tokenStart;
      if (tokenLength === 0) continue;
      if (equalsLower(head, tokenStart, tokenLength, CLOSE)) this.connectionClose = true;
      else if (equalsLower(head, tokenStart, tokenLength, KEEP_ALIVE)) this.connectionKeepAlive = true;
      else if (equalsLower(head, tokenStart, tokenLength, UPGRADE)) this.connectionUpgrade = true;
      else {
        if (2 * this.namedCount + 2 > this.named.length) this.named = doubled(this.named);
        this.named[2 * this.namedCount] = tokenStart;
        this.named[2 * this.namedCount + 1] = tokenLength;
        this.namedCount++;
        named = true;
      }
    }
    return named;
  }
}

/**
 * Whether a 101 switches to a protocol the client asked for (RFC 9110 §7.8; Go's reverse proxy
 * refuses any other): the first protocol of the response's Upgrade is one of the request's
 * `requested` (its Upgrade value), case-insensitively. The 101 path only: strings are fine here.
 */
export function switchesToRequested(requested: string, p: Http1Parser, scan: HeadScan): boolean {
  if (scan.upgradeIndex < 0) return false;
  const start = p.valueStart(scan.upgradeIndex);
  const offered = (p.head.toString('latin1', start, start + p.valueLength(scan.upgradeIndex)).split(',')[0] ?? '').trim().toLowerCase();
  return offered !== '' && requested.split(',').some((t) => t.trim().toLowerCase() === offered);
}

/** Whether a comma-separated value lists `token` (case-insensitive; parameters after `;` ignored). */
export function hasToken(head: Uint8Array, start: number, length: number, token: Uint8Array): boolean {
  const end = start + length;
  for (let at = start; at < end;) {
    while (at < end && (isOws(head[at]) || head[at] === 0x2c)) at++;
    const tokenStart = at;
    while (at < end && head[at] !== 0x2c && head[at] !== 0x3b && !isOws(head[at])) at++;
    if (equalsLower(head, tokenStart, at - tokenStart, token)) return true;
    while (at < end && head[at] !== 0x2c) at++;
  }
  return false;
}

/** Length of a header value without trailing whitespace (llhttp keeps it in the span). */
export function trimmedLength(head: Uint8Array, start: number, length: number): number {
  while (length > 0 && isOws(head[start + length - 1])) length--;
  return length;
}

function equalsIgnoringCase(buf: Uint8Array, a: number, aLength: number, b: number, bLength: number): boolean {
  if (aLength !== bLength) return false;
  for (let i = 0; i < aLength; i++) {
    const x = buf[a + i] as number;
    const y = buf[b + i] as number;
    if (x !== y && (x | 0x20) !== (y | 0x20)) return false;
  }
  return true;
}
