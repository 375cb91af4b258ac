/**
 * A raw backend (node:net) for the PROXY protocol tests: it records every connection's bytes and
 * answers each request head after the PROXY header (if one came) with a keep-alive 200.
 */
import type * as net from 'node:net';
import { startRaw, type RawHandle } from '../../backends/raw.js';
import { parseHeader } from '../../src/proxy-protocol/parse.js';
import type { Cleanup } from './harness.js';

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

export interface HeaderConn {
  socket: net.Socket;
  /** Every byte received, header included. */
  bytes: Buffer;
}

export async function startHeaderBackend(c: Cleanup): Promise<RawHandle & { conns: HeaderConn[] }> {
  const conns: HeaderConn[] = [];
  const handle = c.add(await startRaw({
    onConnection: (socket) => {
      const conn: HeaderConn = { socket, bytes: Buffer.alloc(0) };
      conns.push(conn);
      let answered = 0;
      socket.on('data', (chunk: Buffer) => {
        conn.bytes = Buffer.concat([conn.bytes, chunk]);
        // A v2 signature holds a CRLF CRLF itself: heads are counted after the header.
        const header = parseHeader(conn.bytes);
        const from = header.status === 'done' ? header.consumed : 0;
        const heads = conn.bytes.subarray(from).toString('latin1').split('\r\n\r\n').length - 1;
        for (; answered < heads; answered++) socket.write(OK);
      });
    },
  }));
  return Object.assign(handle, { conns });
}

/** A connection's bytes as text. */
export const bytesText = (conn: HeaderConn | undefined): string => conn?.bytes.toString('latin1') ?? '';
