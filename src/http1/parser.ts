/**
 * An HTTP/1.1 request or response parser over the shared llhttp WASM instance.
 *
 * The caller feeds socket chunks to `execute(chunk, start)` and gets one event back at a time, with
 * `at` the position in `chunk` where it happened; body bytes are never copied or surfaced: they are
 * the bytes between a HEAD event and the next END (or the end of the chunk), relayed raw by the caller.
 *
 *   EV_NONE     every byte from `start` was consumed; no event (mid-head or mid-body)
 *   EV_HEAD     the head is complete; `head` holds its bytes, the spans index into it, `at` = body start
 *   EV_END      the message is complete; `at` = first byte after it (the next message, if pipelined)
 *   EV_UPGRADE  the message before was an upgrade (or CONNECT); bytes from `at` belong to the tunnel
 *   EV_ERROR    malformed input; `errorCode`/`errorName`/`errorReason` say why, `at` where
 *
 * Invariants:
 * - llhttp pauses on headers-complete and on message-complete, so each execute reports at most one
 *   event and message boundaries are exact; `execute` resumes a paused parser before running again.
 * - Spans are offsets into `head`. A span that llhttp reports in pieces (split across reads) is joined:
 *   pieces of one span are contiguous in the head while two distinct spans of a kind never are.
 * - `head` is a view either into the caller's chunk (the head arrived in one read: no copy) or into
 *   `partial` (it arrived over several). It is valid until the next `execute`.
 * - No strings or objects are created per message on the success path.
 */
import {
  type CallbackTarget, execute as llExecute, finish as llFinish, llhttp, reserveInput, cString, type Llhttp,
  HPE_OK, HPE_PAUSED, HPE_PAUSED_UPGRADE, TYPE_REQUEST, TYPE_RESPONSE, F_CHUNKED, F_CONTENT_LENGTH,
  F_TRANSFER_ENCODING, SPAN_URL, SPAN_STATUS, SPAN_FIELD, SPAN_VALUE, readFlags, readContentLength, readErrorPos, resume,
} from './llhttp.js';
import { doubled } from './grow.js';

export const EV_NONE = 0;
export const EV_HEAD = 1;
export const EV_END = 2;
export const EV_UPGRADE = 3;
export const EV_ERROR = 4;
export type ParseEvent = typeof EV_NONE | typeof EV_HEAD | typeof EV_END | typeof EV_UPGRADE | typeof EV_ERROR;

/** Error code for a head (or trailer section) larger than `maxHeadBytes` (not an llhttp errno). */
export const ERR_HEAD_TOO_LARGE = 1000;
/** What a callback returns to stop llhttp with an error (llhttp's HPE_USER). */
const HPE_USER = 24;

const SKIP_BODY = 1; // on_headers_complete: "this message has no body" (a response to HEAD)

/** One empty buffer for every parser's fields until they hold something: a Buffer each costs an idle connection about 0.5 KB. */
const EMPTY = Buffer.alloc(0);

export interface ParserOptions {
  /**
   * Bytes of head (request/status line and headers), and of a trailer section, allowed before
   * EV_ERROR with ERR_HEAD_TOO_LARGE.
   */
  maxHeadBytes?: number;
}

export class Http1Parser implements CallbackTarget {
  readonly kind: 'request' | 'response';
  readonly maxHeadBytes: number;

  // The current message's head. Span arrays: [start, length] pairs; header i at 4*i (name, value).
  head: Buffer = EMPTY;
  headerCount = 0;
  headers = new Int32Array(4 * 32);
  urlStart = 0;
  urlLength = 0;
  statusTextStart = 0;
  statusTextLength = 0;
  method = 0;
  statusCode = 0;
  versionMajor = 1;
  versionMinor = 1;
  upgrade = false;
  /**
   * The connection may carry another message: llhttp's verdict at the end of the head, revised at
   * the end of a chunked message, whose trailer section can say `Connection: close` too.
   */
  keepAlive = false;
  /** The last message's trailer section turned keep-alive off (its head had left it on). */
  closedByTrailers = false;
  /**
   * How llhttp frames the current message's body (RFC 9112 §6.3), read at the end of its head:
   * `chunked` when Transfer-Encoding ends in chunked; `transferEncoding` when the header is there at
   * all (a response with other codings is then read until close); `contentLength` the value of
   * Content-Length, or -1 without one.
   */
  chunked = false;
  transferEncoding = false;
  contentLength = -1;

  /**
   * The trailer section of the last chunked message, copied (it is rare and may span reads):
   * field i is name [trailerSpans[4i], +[4i+1]) and value [trailerSpans[4i+2], +[4i+3]) in `trailers`.
   */
  trailers: Buffer = EMPTY;
  trailerCount = 0;
  trailerSpans = new Int32Array(8);
  private trailerLength = 0;

  /** Set by a response consumer before the response to a HEAD request arrives. */
  expectNoBody = false;
  /**
   * Record where the decoded body bytes are (for chunked bodies: without the framing) as
   * [start, length] pairs in `bodySpans`, positions in the chunk of the last execute.
   */
  decodeBody = false;
  bodySpans = new Int32Array(16);
  bodySpanCount = 0;

  at = 0;
  errorCode = HPE_OK;
  /** True from the first byte of a message until its END is reported. */
  inMessage = false;

  private readonly ll: Llhttp;
  private readonly ptr: number;
  private inHead = false;
  private headReported = true;
  /** An event already decided by the last llhttp run, reported by the next execute (at `pendingAt`). */
  private pending: ParseEvent | -1 = -1;
  private pendingAt = 0;
  /** Head end not known at headers-complete (no pause there): the first body byte marks it. */
  private headLate = false;
  private bodyStart = -1;
  private pendingChunk: Buffer | null = null;
  private chunk: Buffer = EMPTY;
  private upgradePending = false;
  private headStart = 0;           // where the message began in the chunk it began in
  private spanBias = 0;            // head offset = WASM pointer + spanBias
  private lastSpanKind = -1;
  private lastSpanEnd = -1;
  private partial: Buffer = EMPTY;
  private partialLength = 0;
  /** Where the bytes of the running execute start and end in WASM memory (for trailer pieces). */
  private inputStart = 0;
  private inputEnd = 0;
  /** The last trailer piece ended where its execute's input did: the next may continue it. */
  private trailerPieceOpen = false;
  private trailerOverflow = false;

  constructor(kind: 'request' | 'response', options: ParserOptions = {}) {
    this.kind = kind;
    this.maxHeadBytes = options.maxHeadBytes ?? 16 * 1024;
    this.ll = llhttp();
    this.ptr = this.ll.exports.llhttp_alloc(kind === 'request' ? TYPE_REQUEST : TYPE_RESPONSE);
    // Any HTTP/x.y request line parses; the caller decides what to do with versions other than 1.0
    // and 1.1 (RFC 9110 §6.2: a higher 1.x minor is answered as 1.1; another major gets 505).
    if (kind === 'request') this.ll.exports.llhttp_set_lenient_version(this.ptr, 1);
    reserveInput(this.ll, 0); // the allocation may have grown memory: refresh the heap view
  }

  /** Parses `chunk` from `start` up to the next event. See the file comment for the events. */
  execute(chunk: Buffer, start: number): ParseEvent {
    if (this.pending !== -1) {
      if (chunk === this.pendingChunk) return this.takePending();
      // The caller moved on to the next chunk: an END still stands (at its start); a NONE is spent.
      if (this.pending === EV_END) {
        this.takePending();
        this.at = start;
        return EV_END;
      }
      this.pending = -1;
    }
    if (this.upgradePending) {
      this.at = start;
      return EV_UPGRADE;
    }
    // With no bytes left, llhttp still has work only right after a pause on headers-complete: a
    // message with no body completes without consuming input.
    if (start >= chunk.length && !(this.inMessage && this.headReported)) {
      this.at = start;
      return EV_NONE;
    }
    const ll = this.ll;
    if (ll.inputOwner !== this || ll.inputChunk !== chunk) {
      reserveInput(ll, chunk.length);
      ll.heap.set(chunk, ll.input);
      ll.inputOwner = this;
      ll.inputChunk = chunk;
    }
    if (this.inHead) this.spanBias = this.partialLength - ll.input - start;
    this.headStart = start;
    this.chunk = chunk;
    this.bodySpanCount = 0;
    this.inputStart = ll.input + start;
    this.inputEnd = ll.input + chunk.length;

    const ret = llExecute(ll, this, this.ptr, ll.input + start, chunk.length - start);
    if (ret === HPE_OK) {
      this.at = chunk.length;
      if (this.inHead) return this.keepPartialHead(chunk);
      if (!this.headReported) {
        // The head ended in this run and the body runs on past the chunk.
        this.headReported = true;
        this.pending = EV_NONE;
        this.pendingAt = chunk.length;
        this.pendingChunk = chunk;
        return this.setHead(chunk, this.bodyStart >= 0 ? this.bodyStart : chunk.length);
      }
      return EV_NONE;
    }
    const pos = readErrorPos(ll.heap, this.ptr, ll.layout) - ll.input;
    this.at = pos;
    if (ret === HPE_PAUSED) {
      resume(ll.heap, this.ptr, ll.layout);
      if (!this.headReported) {
        this.headReported = true;
        if (this.headLate) {
          // Paused on message-complete with the head not yet reported: report both, head first.
          this.pending = EV_END;
          this.pendingAt = pos;
          this.pendingChunk = chunk;
          return this.setHead(chunk, this.bodyStart >= 0 ? this.bodyStart : pos);
        }
        return this.setHead(chunk, pos); // paused on headers-complete
      }
      if (this.upgrade) this.upgradePending = true;
      this.inMessage = false;
      return EV_END;
    }
    if (ret === HPE_PAUSED_UPGRADE) {
      this.upgradePending = true;
      return EV_UPGRADE;
    }
    this.errorCode = this.trailerOverflow ? ERR_HEAD_TOO_LARGE : ret;
    return EV_ERROR;
  }

  /** The connection ended: completes a message whose body ends at close (EV_END), else EV_NONE or EV_ERROR. */
  finish(): ParseEvent {
    this.bodySpanCount = 0; // no input: spans of the last execute are spent
    if (this.pending !== -1) {
      const ev = this.takePending();
      if (ev === EV_END) return ev;
    }
    // The message before the tunnel is complete; llhttp would report HPE_PAUSED_UPGRADE.
    if (this.upgradePending) return EV_NONE;
    // A pause leaves llhttp between states; let it take the steps that consume no input first.
    const settled = llExecute(this.ll, this, this.ptr, this.ll.input, 0);
    if (settled === HPE_PAUSED) {
      resume(this.ll.heap, this.ptr, this.ll.layout);
      this.inMessage = false;
      return EV_END;
    }
    if (settled !== HPE_OK) {
      this.errorCode = settled;
      return EV_ERROR;
    }
    const ret = llFinish(this.ll, this, this.ptr);
    if (ret !== HPE_OK && ret !== HPE_PAUSED) {
      this.errorCode = ret;
      return EV_ERROR;
    }
    if (!this.inMessage) return EV_NONE;
    this.inMessage = false;
    return EV_END;
  }

  get errorName(): string {
    if (this.errorCode === ERR_HEAD_TOO_LARGE) return 'HPE_HEADERS_OVERFLOW';
    return cString(this.ll, this.ll.exports.llhttp_errno_name(this.errorCode));
  }

  get errorReason(): string {
    if (this.errorCode === ERR_HEAD_TOO_LARGE) {
      return `${this.trailerOverflow ? 'trailer section' : 'head'} larger than ${this.maxHeadBytes} bytes`;
    }
    return cString(this.ll, this.ll.exports.llhttp_get_error_reason(this.ptr));
  }

  /** Body bytes (without chunked framing) in the last execute; needs `decodeBody`. */
  get bodyBytes(): number {
    let total = 0;
    for (let i = 0; i < this.bodySpanCount; i++) total += this.bodySpans[2 * i + 1] as number;
    return total;
  }

  /**
   * The current request's method once its request line has got as far as the target, even when the
   * head was refused before it completed (for answering a HEAD request without a body); else -1.
   */
  get methodSoFar(): number {
    return this.inMessage && this.urlLength > 0 ? this.ll.exports.llhttp_get_method(this.ptr) : -1;
  }

  /** What arrived of the current message's head up to the end of the last chunk (error paths only: copies). */
  get headSoFar(): Buffer {
    const rest = this.chunk.subarray(Math.min(this.headStart, this.chunk.length));
    return this.partialLength === 0 ? Buffer.from(rest) : Buffer.concat([this.partial.subarray(0, this.partialLength), rest]);
  }

  /** A message has begun and its head is not complete yet. */
  get readingHead(): boolean {
    return this.inHead;
  }

  nameStart(i: number): number { return this.headers[4 * i] as number; }
  nameLength(i: number): number { return this.headers[4 * i + 1] as number; }
  valueStart(i: number): number { return this.headers[4 * i + 2] as number; }
  valueLength(i: number): number { return this.headers[4 * i + 3] as number; }

  /** Debug and test helper: the head as strings. Allocates; not for the hot path. */
  describe(): { url: string; status: string; headers: [string, string][] } {
    const headers: [string, string][] = [];
    for (let i = 0; i < this.headerCount; i++) {
      headers.push([
        this.head.toString('latin1', this.nameStart(i), this.nameStart(i) + this.nameLength(i)),
        this.head.toString('latin1', this.valueStart(i), this.valueStart(i) + this.valueLength(i)),
      ]);
    }
    return {
      url: this.head.toString('latin1', this.urlStart, this.urlStart + this.urlLength),
      status: this.head.toString('latin1', this.statusTextStart, this.statusTextStart + this.statusTextLength),
      headers,
    };
  }

  /** Between two messages, with nothing pending: the parser may be set aside (see forget). */
  get atRest(): boolean {
    return !this.inMessage && this.pending === -1 && !this.upgradePending;
  }

  /**
   * At rest, lets go of the last input (the head's and the partial head's buffers), so a parser set
   * aside for another connection holds none of this one's bytes. llhttp's own state is already that
   * of a message about to begin.
   */
  forget(): void {
    this.releaseInput();
    this.head = EMPTY;
    this.trailers = EMPTY;
    this.chunk = EMPTY;
    this.pendingChunk = null;
    this.partial = EMPTY;
    this.partialLength = 0;
    this.headerCount = 0;
    this.trailerCount = 0;
    this.bodySpanCount = 0;
  }

  /** Frees the WASM-side parser. The object must not be used afterwards. */
  destroy(): void {
    this.releaseInput();
    this.ll.exports.llhttp_free(this.ptr);
  }

  /** The shared input region no longer counts as holding this parser's bytes. */
  private releaseInput(): void {
    if (this.ll.inputOwner === this) {
      this.ll.inputOwner = null;
      this.ll.inputChunk = null;
    }
  }

  // ---- llhttp callbacks (CallbackTarget) ----

  onMessageBegin(): number {
    this.inHead = true;
    this.inMessage = true;
    this.headReported = false;
    this.upgrade = false;
    this.closedByTrailers = false;
    this.headerCount = 0;
    this.urlStart = this.urlLength = 0;
    this.statusTextStart = this.statusTextLength = 0;
    this.lastSpanKind = -1;
    this.lastSpanEnd = -1;
    this.partialLength = 0;
    this.headLate = false;
    this.bodyStart = -1;
    this.trailerCount = 0;
    this.trailerLength = 0;
    this.trailerPieceOpen = false;
    this.trailerOverflow = false;
    // llhttp skips empty lines (CR, LF) before a message: the head starts at the start line.
    const chunk = this.chunk;
    let begin = this.headStart;
    while (chunk[begin] === 13 || chunk[begin] === 10) begin++;
    this.headStart = begin;
    this.spanBias = -(this.ll.input + begin);
    return 0;
  }

  onSpan(kind: number, at: number, length: number): number {
    if (!this.inHead) return this.onTrailerSpan(kind, at, length);
    const start = at + this.spanBias;
    const end = start + length;
    const joined = kind === this.lastSpanKind && start === this.lastSpanEnd;
    this.lastSpanKind = kind;
    this.lastSpanEnd = end;
    switch (kind) {
      case SPAN_FIELD: {
        if (joined) {
          this.headers[4 * (this.headerCount - 1) + 1] = end - (this.headers[4 * (this.headerCount - 1)] as number);
          break;
        }
        const i = 4 * this.headerCount;
        if (i + 4 > this.headers.length) this.headers = doubled(this.headers);
        this.headers[i] = start;
        this.headers[i + 1] = length;
        this.headers[i + 2] = end; // an empty value: llhttp may report no value span
        this.headers[i + 3] = 0;
        this.headerCount++;
        break;
      }
      case SPAN_VALUE: {
        const i = 4 * (this.headerCount - 1);
        if (joined) {
          this.headers[i + 3] = end - (this.headers[i + 2] as number);
        } else {
          this.headers[i + 2] = start;
          this.headers[i + 3] = length;
        }
        break;
      }
      case SPAN_URL:
        if (!joined) this.urlStart = start;
        this.urlLength = end - this.urlStart;
        break;
      case SPAN_STATUS:
        if (!joined) this.statusTextStart = start;
        this.statusTextLength = end - this.statusTextStart;
        break;
    }
    return 0;
  }

  onHeadersComplete(statusCode: number, upgrade: number, shouldKeepAlive: number): number {
    const ll = this.ll;
    this.inHead = false;
    this.statusCode = statusCode;
    this.upgrade = upgrade === 1;
    this.keepAlive = shouldKeepAlive === 1;
    const layout = ll.layout;
    const heap = ll.heap;
    const base = this.ptr;
    this.versionMajor = heap[base + layout.httpMajor] as number;
    this.versionMinor = heap[base + layout.httpMinor] as number;
    this.method = heap[base + layout.method] as number;
    const flags = readFlags(heap, base, layout);
    this.chunked = (flags & F_CHUNKED) !== 0;
    this.transferEncoding = (flags & F_TRANSFER_ENCODING) !== 0;
    this.contentLength = (flags & F_CONTENT_LENGTH) !== 0 ? readContentLength(heap, base, layout) : -1;
    // A response to HEAD has no body whatever its headers say; llhttp then completes the message at
    // once and the head is reported on message-complete instead.
    if (this.expectNoBody && this.kind === 'response' && statusCode >= 200) {
      this.headLate = true;
      return SKIP_BODY;
    }
    // Where the head ends is known exactly by pausing here. Without a pause (one llhttp run per
    // message instead of two) it is still exact when the body, if any, is plain bytes: the first
    // body byte, else the message end, else the end of the chunk. A chunked body starts with a size
    // line that on_body does not report, and a tunnel must stop at the head, so those pause.
    if (this.transferEncoding || this.upgrade) return HPE_PAUSED;
    this.headLate = true;
    return 0;
  }

  onBody(at: number, length: number): number {
    if (this.headLate && this.bodyStart < 0) this.bodyStart = at - this.ll.input;
    if (this.decodeBody) {
      if (2 * this.bodySpanCount + 2 > this.bodySpans.length) this.bodySpans = doubled(this.bodySpans);
      this.bodySpans[2 * this.bodySpanCount] = at - this.ll.input;
      this.bodySpans[2 * this.bodySpanCount + 1] = length;
      this.bodySpanCount++;
    }
    return 0;
  }

  onMessageComplete(): number {
    // llhttp applies trailer fields to the flags it keeps; they are reset only after this callback.
    if (this.transferEncoding && this.keepAlive && this.ll.exports.llhttp_should_keep_alive(this.ptr) !== 1) {
      this.keepAlive = false;
      this.closedByTrailers = true;
    }
    return HPE_PAUSED;
  }

  /**
   * A piece of a trailer field: copied into `trailers`. A span llhttp reports in pieces (split across
   * reads) continues where its last piece ended, at the end of that run's input; a new span never
   * starts at the start of a run's input right after a piece of its own kind ended at the end of one.
   */
  private onTrailerSpan(kind: number, at: number, length: number): number {
    if (kind !== SPAN_FIELD && kind !== SPAN_VALUE) return 0;
    if (this.trailerLength + length > this.maxHeadBytes) {
      this.trailerOverflow = true;
      return HPE_USER;
    }
    const continues = this.trailerPieceOpen && kind === this.lastSpanKind && at === this.inputStart;
    this.lastSpanKind = kind;
    this.trailerPieceOpen = at + length === this.inputEnd;
    const start = this.trailerLength;
    if (start + length > this.trailers.length) {
      const grown = Buffer.allocUnsafe(Math.max(start + length, 2 * this.trailers.length, 256));
      this.trailers.copy(grown, 0, 0, start);
      this.trailers = grown;
    }
    this.trailers.set(this.ll.heap.subarray(at, at + length), start);
    this.trailerLength += length;
    if (continues) {
      const i = 4 * (this.trailerCount - 1) + (kind === SPAN_FIELD ? 1 : 3);
      this.trailerSpans[i] = (this.trailerSpans[i] as number) + length;
      return 0;
    }
    if (kind === SPAN_FIELD) {
      const i = 4 * this.trailerCount;
      if (i + 4 > this.trailerSpans.length) this.trailerSpans = doubled(this.trailerSpans);
      this.trailerSpans[i] = start;
      this.trailerSpans[i + 1] = length;
      this.trailerSpans[i + 2] = start + length; // an empty value may have no span
      this.trailerSpans[i + 3] = 0;
      this.trailerCount++;
    } else if (this.trailerCount > 0) {
      const i = 4 * (this.trailerCount - 1);
      this.trailerSpans[i + 2] = start;
      this.trailerSpans[i + 3] = length;
    }
    return 0;
  }

  private takePending(): ParseEvent {
    const ev = this.pending as ParseEvent;
    this.pending = -1;
    this.pendingChunk = null;
    this.at = this.pendingAt;
    if (ev === EV_END) {
      this.inMessage = false;
      if (this.upgrade) this.upgradePending = true;
    }
    return ev;
  }

  // ---- head bytes ----

  private setHead(chunk: Buffer, headEnd: number): ParseEvent {
    if (this.partialLength + headEnd - this.headStart > this.maxHeadBytes) {
      this.errorCode = ERR_HEAD_TOO_LARGE;
      return EV_ERROR;
    }
    this.at = headEnd;
    if (this.partialLength === 0) {
      this.head = chunk.subarray(this.headStart, headEnd);
    } else {
      this.appendPartial(chunk, this.headStart, headEnd);
      this.head = this.partial.subarray(0, this.partialLength);
      this.partialLength = 0;
    }
    return EV_HEAD;
  }

  /** The head continues in the next read: keep what arrived of it (the chunk is the caller's). */
  private keepPartialHead(chunk: Buffer): ParseEvent {
    if (this.partialLength + chunk.length - this.headStart > this.maxHeadBytes) {
      this.errorCode = ERR_HEAD_TOO_LARGE;
      return EV_ERROR;
    }
    this.appendPartial(chunk, this.headStart, chunk.length);
    return EV_NONE;
  }

  private appendPartial(chunk: Buffer, from: number, to: number): void {
    const needed = this.partialLength + (to - from);
    if (needed > this.partial.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, 2 * this.partial.length, 1024));
      this.partial.copy(grown, 0, 0, this.partialLength);
      this.partial = grown;
    }
    chunk.copy(this.partial, this.partialLength, from, to);
    this.partialLength = needed;
  }
}
