/**
 * One active health check of a backend, on a connection of its own (closed after it): a TCP check
 * passes when the connect (and, to an https:// backend, the TLS handshake) succeeds; an HTTP check sends `METHOD path` with its Host and
 * `Connection: close`, and passes when the status of the response is in one of the expected ranges.
 * The caller times it out (on the proxy's clock) by calling the returned cancel. To a backend that
 * expects a PROXY header (`sendProxy`) the check sends one saying it is the proxy's own connection
 * (v2 LOCAL, v1 UNKNOWN), as HAProxy's check-send-proxy does.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { Http1Parser, EV_HEAD, EV_ERROR } from '../http1/parser.js';
import type { SendProxy } from '../options/vocabulary.js';
import { writeHeader } from '../proxy-protocol/write.js';
import { tlsAfter, verifiedAs } from './tls-dial.js';

export interface ProbeSpec {
  type: 'http' | 'tcp';
  host: string;
  port: number;
  /** An https:// backend: the check's connection is TLS, verified against `ca` (null: the system CAs). */
  tls: { ca: string | null } | null;
  method: string;
  path: string;
  /** The Host header of an HTTP check. */
  hostHeader: string;
  /** Status ranges, inclusive, that pass. */
  expect: readonly (readonly [number, number])[];
  sendProxy: SendProxy;
}

/** Runs one check; `done` is called once, unless cancelled first. Returns the cancel. */
export function probe(spec: ProbeSpec, done: (ok: boolean, why: string) => void): () => void {
  let finished = false;
  const t = spec.tls;
  const socket = t === null ? net.connect({ host: spec.host, port: spec.port, noDelay: true }) : connectTls(spec, t.ca);
  const parser = spec.type === 'http' ? new Http1Parser('response', { maxHeadBytes: 16 * 1024 }) : null;
  const end = (ok: boolean, why: string): void => {
    if (finished) return;
    finished = true;
    socket.destroy();
    parser?.destroy();
    done(ok, why);
  };
  socket.on('error', (err: NodeJS.ErrnoException) => end(false, err.code ?? err.message));
  socket.on('close', () => end(false, 'closed before an answer'));
  // Queued until connected: the first bytes the backend reads (with TLS, connectTls sent it before the handshake).
  if (spec.sendProxy !== 'off' && t === null) socket.write(writeHeader(spec.sendProxy, null));
  // A TLS check is connected once its handshake passes (the certificate verified).
  socket.on(t === null ? 'connect' : 'secureConnect', () => {
    if (parser === null) {
      end(true, 'connected');
      return;
    }
    socket.write(`${spec.method} ${spec.path} HTTP/1.1\r\nHost: ${spec.hostHeader}\r\nUser-Agent: chanlb-health-check\r\nConnection: close\r\n\r\n`);
  });
  if (parser !== null) {
    parser.expectNoBody = spec.method === 'HEAD';
    socket.on('data', (chunk: Buffer) => {
      const ev = parser.execute(chunk, 0);
      if (ev === EV_ERROR) end(false, `malformed response: ${parser.errorName}`);
      else if (ev === EV_HEAD) {
        const status = parser.statusCode;
        end(spec.expect.some(([from, to]) => status >= from && status <= to), `status ${status}`);
      }
    });
  }
  return () => {
    finished = true;
    socket.destroy();
    parser?.destroy();
  };
}

/** The check's TLS connection; a PROXY header (sendProxy) goes first on the TCP connection, before the handshake. */
function connectTls(spec: ProbeSpec, ca: string | null): tls.TLSSocket {
  const verified = verifiedAs(spec.host, ca);
  if (spec.sendProxy === 'off') return tls.connect({ host: spec.host, port: spec.port, ...verified });
  return tlsAfter(writeHeader(spec.sendProxy, null), spec.host, spec.port, verified);
}
