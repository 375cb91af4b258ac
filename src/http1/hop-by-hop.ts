/**
 * One pass over a parsed head that decides, per header, whether a proxy forwards it, and collects
 * what the proxy acts on (RFC 9110 §7.6.1: Connection and every header it names, Keep-Alive,
 * Proxy-Connection, TE, Trailer and Upgrade are hop-by-hop; RFC 9112 §9.3 for keep-alive).
 *
 * Transfer-Encoding is hop-by-hop in principle, but this proxy relays bodies with their framing
 * intact, so the header travels with the bytes it describes.
 *
 * A HeadScan is owned by one connection and reused for every message: no allocation per head.
 */
import type { Http1Parser } from './parser.js';
import {
  headerKind, equalsLower, H_OTHER, H_CONNECTION, H_KEEP_ALIVE, H_PROXY_CONNECTION, H_TE, H_TRAILER,
  H_UPGRADE, H_HOST, H_EXPECT, H_X_FORWARDED_FOR, H_X_FORWARDED_PROTO, H_X_FORWARDED_HOST,
  H_PROXY_AUTHORIZATION, H_PROXY_AUTHENTICATE, H_CONTENT_LENGTH, H_TRANSFER_ENCODING,
} from './header-kind.js';

/** A header the proxy does not forward. */
export const H_DROP = 255;

const CLOSE = Buffer.from('close');
const KEEP_ALIVE = Buffer.from('keep-alive');
const UPGRADE = Buffer.from('upgrade');
const CONTINUE_100 = Buffer.from('100-continue');
const CHUNKED = Buffer.from('chunked');

function isOws(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x09;
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
  /** The first Content-Length header, or -1. */
  contentLengthIndex = -1;
  hasTransferEncoding = false;
  transferEncodingIndex = -1;
  hostIndex = -1;
  hostCount = 0;
  /** Indexes of X-Forwarded-For headers, in order (their values are joined when forwarding). */
  forwardedFor: number[] = [];
  upgradeIndex = -1;
  /** [start, length] of each Connection token that names another header. */
  private named = new Int32Array(16);
  private namedCount = 0;

  scan(p: Http1Parser): void {
    const head = p.head;
    const count = p.headerCount;
    this.count = count;
    if (this.kinds.length < count) this.kinds = new Uint8Array(Math.max(count, 2 * this.kinds.length));
    this.connectionClose = this.connectionKeepAlive = this.connectionUpgrade = false;
    this.expectContinue = this.hasTransferEncoding = false;
    this.transferEncodingIndex = -1;
    this.contentLengthIndex = -1;
    this.hostIndex = this.upgradeIndex = -1;
    this.dropped = 0;
    this.hostCount = 0;
    this.forwardedFor.length = 0;
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
          this.kinds[i] = H_DROP;
          this.dropped++;
          break;
        case H_KEEP_ALIVE:
        case H_TE:
        case H_TRAILER:
        case H_PROXY_AUTHORIZATION:
        case H_PROXY_AUTHENTICATE:
          this.kinds[i] = H_DROP;
          this.dropped++;
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
          if (this.contentLengthIndex < 0) this.contentLengthIndex = i;
          break;
        case H_TRANSFER_ENCODING:
          this.hasTransferEncoding = true;
          this.transferEncodingIndex = i;
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
   * The request's transfer codings, judged (RFC 9112 §6.1, §6.3): 0 when they are just `chunked`,
   * the one coding the proxy understands; 400 when chunked is not the last (the body length cannot
   * be known); 501 when other codings come before it.
   */
  transferCodingStatus(p: Http1Parser): number {
    const head = p.head;
    let others = false;
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
        if (!lastIsChunked) others = true;
      }
    }
    return !lastIsChunked ? 400 : others ? 501 : 0;
  }

  /** Drops Transfer-Encoding: the proxy relays the body decoded, delimited by closing the connection. */
  dropTransferEncoding(): void {
    for (let i = 0; i < this.count; i++) {
      if (this.kinds[i] === H_TRANSFER_ENCODING) {
        this.kinds[i] = H_DROP;
        this.dropped++;
      }
    }
  }

  /** Marks Connection-named headers for dropping (they are hop-by-hop by declaration). */
  private dropNamed(p: Http1Parser): void {
    const head = p.head;
    for (let i = 0; i < p.headerCount; i++) {
      if (this.kinds[i] === H_DROP) continue;
      for (let t = 0; t < this.namedCount; t++) {
        if (equalsIgnoringCase(head, p.nameStart(i), p.nameLength(i), this.named[2 * t] as number, this.named[2 * t + 1] as number)) {
          this.kinds[i] = H_DROP;
          this.dropped++;
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
        if (2 * this.namedCount + 2 > this.named.length) {
          const grown = new Int32Array(this.named.length * 2);
          grown.set(this.named);
          this.named = grown;
        }
        this.named[2 * this.namedCount] = tokenStart;
        this.named[2 * this.namedCount + 1] = tokenLength;
        this.namedCount++;
        named = true;
      }
    }
    return named;
  }
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
