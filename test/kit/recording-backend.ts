/**
 * Test helper: a raw backend that records every byte it receives, per connection, and splits them
 * into requests with its own small parser, written for these tests and deliberately simple (no
 * llhttp, no node:http), so what it reports does not depend on the parser the proxy uses:
 *
 * - a head ends at the first CRLF CRLF; the request line is exactly three parts split on single
 *   spaces; a header line is `name:value` (value trimmed of spaces and tabs);
 * - framing (RFC 9112 §6.3): no Transfer-Encoding and no Content-Length: no body; exactly one
 *   Content-Length of digits: that many bytes; exactly one Transfer-Encoding whose value is exactly
 *   `chunked` (any case): a chunked body (size lines of hex digits, optional `;extension`, then the
 *   trailer section up to an empty line). Anything else (both, two, another coding) is a framing
 *   error: it is recorded, answered 400, and the connection closed.
 * - `headerNames: 'cgi'` models a CGI/WSGI-style backend that reads header names as
 *   `upper(name).replace('-', '_')` (so `Content_Length` and `Content-Length` are one field, the
 *   last one wins) and lets Transfer-Encoding win over Content-Length (RFC 9112 §6.3 allows that
 *   reading): the kind of backend an underscore lookalike smuggles through.
 *
 * Each complete request is answered in order (by default `200` with the body `<METHOD> <target>`),
 * so a client of the proxy can tell which request its answer belongs to.
 */
import type * as net from 'node:net';
import { startRaw, type RawHandle } from '../../backends/raw.js';
import { waitFor, type Cleanup } from './harness.js';

export interface RecordedRequest {
  /** The backend connection it arrived on (0 for the first accepted). */
  connection: number;
  /** 1 for the first request on its connection. */
  index: number;
  requestLine: string;
  method: string;
  target: string;
  /** As on the request line, e.g. `HTTP/1.1`. */
  version: string;
  /** In arrival order, names as sent, values without surrounding spaces and tabs. */
  headers: [string, string][];
  /** The head as received, request line and header lines, without the blank line. */
  head: string;
  framing: 'none' | 'length' | 'chunked';
  /** The body without any chunked framing. */
  body: Buffer;
  /** The chunk-size lines as received (with any extensions), last chunk included. */
  chunkLines: string[];
  trailers: [string, string][];
}

/** What the backend writes for one request: bytes, or bytes and then close (a close-delimited body). */
export type RecordedAnswer = string | Buffer | { bytes: string | Buffer; close: true };

export interface RecordingOptions {
  respond?: (req: RecordedRequest) => RecordedAnswer;
  headerNames?: 'http' | 'cgi';
}

export interface RecordingConnection {
  readonly index: number;
  /** Every byte received, in order. */
  bytes: Buffer;
  /** Bytes received that are not (yet) part of a complete request. */
  pending: Buffer;
  /** The framing error that ended the connection, if any. */
  error: string | null;
  socket: net.Socket;
}

export interface RecordingBackend extends RawHandle {
  /** Complete requests over all connections, in the order they were completed. */
  readonly requests: RecordedRequest[];
  readonly conns: RecordingConnection[];
  /** Bytes received over all connections. */
  received(): number;
  /** Framing errors over all connections. */
  errors(): string[];
  /** How many bytes each connection has received so far, for since(). */
  mark(): number[];
  /** The bytes received after `mark`, over all connections (latin1). */
  since(mark: readonly number[]): string;
  waitForRequests(n: number, timeoutMs?: number): Promise<void>;
}

/** `<METHOD> <target>` as a keep-alive 200. */
export function answerWithRequestLine(req: RecordedRequest): string {
  const body = `${req.method} ${req.target}`;
  return `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body, 'latin1')}\r\n\r\n${body}`;
}

type Split =
  | { kind: 'incomplete' }
  | { kind: 'error'; reason: string }
  | { kind: 'request'; request: Omit<RecordedRequest, 'connection' | 'index'>; used: number };

const INCOMPLETE = { kind: 'incomplete' } as const;

function headerLine(line: string): [string, string] | null {
  const colon = line.indexOf(':');
  if (colon <= 0) return null;
  return [line.slice(0, colon), line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '')];
}

function fieldName(name: string, style: 'http' | 'cgi'): string {
  return style === 'cgi' ? name.toUpperCase().replace(/-/g, '_') : name.toLowerCase();
}

/** One request from the start of `buf`, or why not. */
export function splitRequest(buf: Buffer, style: 'http' | 'cgi' = 'http'): Split {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) return INCOMPLETE;
  const head = buf.toString('latin1', 0, headEnd);
  const lines = head.split('\r\n');
  const requestLine = lines[0] ?? '';
  const parts = requestLine.split(' ');
  if (parts.length !== 3 || parts.some((p) => p === '')) return { kind: 'error', reason: `malformed request line ${JSON.stringify(requestLine)}` };
  const headers: [string, string][] = [];
  for (const line of lines.slice(1)) {
    const h = headerLine(line);
    if (h === null) return { kind: 'error', reason: `malformed header line ${JSON.stringify(line)}` };
    headers.push(h);
  }
  const teName = fieldName('Transfer-Encoding', style);
  const clName = fieldName('Content-Length', style);
  const tes = headers.filter(([n]) => fieldName(n, style) === teName).map(([, v]) => v);
  const cls = headers.filter(([n]) => fieldName(n, style) === clName).map(([, v]) => v);
  // The framing header that counts: for 'cgi' the last of each, Transfer-Encoding first; else the only one.
  let te: string | undefined;
  let cl: string | undefined;
  if (style === 'cgi') {
    te = tes.at(-1);
    cl = cls.at(-1);
  } else {
    if (tes.length > 0 && cls.length > 0) return { kind: 'error', reason: 'both Transfer-Encoding and Content-Length' };
    if (tes.length > 1 || cls.length > 1) return { kind: 'error', reason: `two framing headers: ${JSON.stringify([...tes, ...cls])}` };
    [te] = tes;
    [cl] = cls;
  }
  let framing: RecordedRequest['framing'] = 'none';
  let length = 0;
  if (te !== undefined) {
    if (te.toLowerCase() !== 'chunked') return { kind: 'error', reason: `unsupported Transfer-Encoding ${JSON.stringify(te)}` };
    framing = 'chunked';
  } else if (cl !== undefined) {
    if (!/^\d+$/.test(cl)) return { kind: 'error', reason: `bad Content-Length ${JSON.stringify(cl)}` };
    framing = 'length';
    length = Number(cl);
  }
  const [method = '', target = '', version = ''] = parts;
  const base = { requestLine, method, target, version, headers, head, framing, chunkLines: [] as string[], trailers: [] as [string, string][] };
  const at = headEnd + 4;
  if (framing === 'none') return { kind: 'request', request: { ...base, body: Buffer.alloc(0) }, used: at };
  if (framing === 'length') {
    if (buf.length - at < length) return INCOMPLETE;
    return { kind: 'request', request: { ...base, body: Buffer.from(buf.subarray(at, at + length)) }, used: at + length };
  }
  const chunked = readChunked(buf, at);
  if (chunked.kind !== 'body') return chunked;
  return {
    kind: 'request',
    request: { ...base, body: chunked.body, chunkLines: chunked.chunkLines, trailers: chunked.trailers },
    used: chunked.used,
  };
}

export type ChunkedRead =
  | { kind: 'incomplete' }
  | { kind: 'error'; reason: string }
  | { kind: 'body'; body: Buffer; chunkLines: string[]; trailers: [string, string][]; used: number };

/** A chunked body (size lines, data, last chunk, trailer section) from `at` in `buf`. */
export function readChunked(buf: Buffer, at: number): ChunkedRead {
  const pieces: Buffer[] = [];
  const chunkLines: string[] = [];
  const trailers: [string, string][] = [];
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', at);
    if (lineEnd < 0) return INCOMPLETE;
    const sizeLine = buf.toString('latin1', at, lineEnd);
    const hex = sizeLine.split(';')[0] ?? '';
    if (!/^[0-9a-fA-F]+$/.test(hex)) return { kind: 'error', reason: `bad chunk-size line ${JSON.stringify(sizeLine)}` };
    chunkLines.push(sizeLine);
    const size = parseInt(hex, 16);
    at = lineEnd + 2;
    if (size === 0) break;
    if (buf.length - at < size + 2) return INCOMPLETE;
    pieces.push(buf.subarray(at, at + size));
    if (buf[at + size] !== 0x0d || buf[at + size + 1] !== 0x0a) return { kind: 'error', reason: 'chunk data not followed by CRLF' };
    at += size + 2;
  }
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', at);
    if (lineEnd < 0) return INCOMPLETE;
    const line = buf.toString('latin1', at, lineEnd);
    at = lineEnd + 2;
    if (line === '') break;
    const h = headerLine(line);
    if (h === null) return { kind: 'error', reason: `malformed trailer line ${JSON.stringify(line)}` };
    trailers.push(h);
  }
  return { kind: 'body', body: Buffer.from(Buffer.concat(pieces)), chunkLines, trailers, used: at };
}

export async function startRecording(c: Cleanup, options: RecordingOptions = {}): Promise<RecordingBackend> {
  const requests: RecordedRequest[] = [];
  const conns: RecordingConnection[] = [];
  const respond = options.respond ?? answerWithRequestLine;
  const style = options.headerNames ?? 'http';
  const handle = c.add(await startRaw({
    onConnection: (socket, index) => {
      const conn: RecordingConnection = { index, bytes: Buffer.alloc(0), pending: Buffer.alloc(0), error: null, socket };
      conns.push(conn);
      let count = 0;
      socket.on('data', (data: Buffer) => {
        conn.bytes = Buffer.concat([conn.bytes, data]);
        if (conn.error !== null) return;
        conn.pending = Buffer.concat([conn.pending, data]);
        for (;;) {
          const split = splitRequest(conn.pending, style);
          if (split.kind === 'incomplete') return;
          if (split.kind === 'error') {
            conn.error = split.reason;
            socket.end('HTTP/1.1 400 Bad Request\r\nX-Recording-Backend: framing error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
            return;
          }
          conn.pending = conn.pending.subarray(split.used);
          const req: RecordedRequest = { connection: index, index: ++count, ...split.request };
          requests.push(req);
          const answer = respond(req);
          if (socket.destroyed) return;
          if (typeof answer === 'string' || Buffer.isBuffer(answer)) {
            socket.write(answer);
          } else {
            socket.end(answer.bytes);
            return;
          }
        }
      });
    },
  }));
  return Object.assign(handle, {
    requests,
    conns,
    received: () => conns.reduce((n, conn) => n + conn.bytes.length, 0),
    mark: () => conns.map((conn) => conn.bytes.length),
    since: (mark: readonly number[]) => conns.map((conn, i) => conn.bytes.toString('latin1', mark[i] ?? 0)).join(''),
    errors: () => conns.flatMap((conn) => (conn.error === null ? [] : [`connection ${conn.index}: ${conn.error}`])),
    waitForRequests: (n: number, timeoutMs = 5_000) => waitFor(`the backend to complete ${n} requests`, () => requests.length >= n, timeoutMs,
      () => `it has ${requests.length}: ${JSON.stringify(requests.map((r) => r.requestLine))}, pending ${JSON.stringify(conns.map((conn) => conn.pending.toString('latin1')))}`),
  });
}

/** The values of header `name` (any case) in `headers`. */
export function valuesOf(headers: readonly [string, string][], name: string): string[] {
  const lower = name.toLowerCase();
  return headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}
