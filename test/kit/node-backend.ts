/**
 * Test helper: a node:http backend that records every request its parser hands it (method, url,
 * raw headers, the whole body, trailers), and every parse error it hits, so tests can compare what
 * a real, independent HTTP/1.1 parser read with what the client sent through the proxy. It answers
 * each request, once its body is complete, with `200` and the body `<METHOD> <url>`; a parse error
 * is answered 400 with `X-Backend: parse-error` (and the connection closed), so it is never taken for
 * the proxy's own refusal.
 */
import http from 'node:http';
import type * as net from 'node:net';
import { serve, type BackendHandle } from '../../backends/serve.js';
import type { Cleanup } from './harness.js';

export interface NodeRequest {
  /** The backend connection it arrived on (0 for the first accepted). */
  connection: number;
  method: string;
  url: string;
  httpVersion: string;
  /** Name and value pairs, as node:http read them. */
  headers: [string, string][];
  body: Buffer;
  trailers: [string, string][];
  /** The body ended (false: the connection was cut mid-request). */
  complete: boolean;
}

export interface NodeBackend extends BackendHandle<http.Server> {
  /** Every request whose head was parsed, in order. */
  readonly requests: NodeRequest[];
  /** Parse errors (llhttp codes in node, with the bytes it choked on). */
  readonly parseErrors: { code: string; bytes: string }[];
  connections(): number;
}

export const BACKEND_PARSE_ERROR = 'HTTP/1.1 400 Bad Request\r\nX-Backend: parse-error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n';

function pairs(raw: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i] ?? '', raw[i + 1] ?? '']);
  return out;
}

export async function startNodeRecorder(c: Cleanup): Promise<NodeBackend> {
  const requests: NodeRequest[] = [];
  const parseErrors: { code: string; bytes: string }[] = [];
  const index = new WeakMap<net.Socket, number>();
  let accepted = 0;
  // requireHostHeader off: a request without Host is recorded (and judged by the test), not refused here.
  const server = http.createServer({ requireHostHeader: false }, (req, res) => {
    const seen: NodeRequest = {
      connection: index.get(req.socket) ?? -1,
      method: req.method ?? '',
      url: req.url ?? '',
      httpVersion: req.httpVersion,
      headers: pairs(req.rawHeaders),
      body: Buffer.alloc(0),
      trailers: [],
      complete: false,
    };
    requests.push(seen);
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      seen.body = Buffer.concat(parts);
      seen.trailers = pairs(req.rawTrailers);
      seen.complete = true;
      const body = `${seen.method} ${seen.url}`;
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body, 'latin1') });
      res.end(body, 'latin1');
    });
    req.on('error', () => res.destroy());
  });
  server.on('connection', (socket: net.Socket) => index.set(socket, accepted++));
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: net.Socket) => {
    const code = err.code ?? err.message;
    // A connection the proxy cut is not a parse error.
    if (code !== 'ECONNRESET' && code !== 'HPE_CLOSED_CONNECTION') parseErrors.push({ code, bytes: err.rawPacket?.toString('latin1') ?? '' });
    if (socket.writable) socket.end(BACKEND_PARSE_ERROR);
    else socket.destroy();
  });
  server.keepAliveTimeout = 5_000;
  const handle = c.add(await serve(server, {}));
  return Object.assign(handle, { requests, parseErrors, connections: () => accepted });
}
