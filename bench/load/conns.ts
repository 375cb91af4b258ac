// Raw keep-alive client connections for `make memory` (many idle ones) and `make storm` (many at
// once): each GET / waits for its whole response (head, then Content-Length bytes of body), timed
// from when it was asked for: for a connection's first request, from before connect().
import net from 'node:net';

const GET = Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

export interface Conn {
  socket: net.Socket;
  /** One GET on this connection; resolves with its latency in ms. */
  request(): Promise<number>;
}

function timed(socket: net.Socket, since: bigint): Promise<number> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const end = buf.indexOf(HEAD_END);
      if (end === -1) return;
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(buf.subarray(0, end).toString('latin1'));
      if (buf.length < end + 4 + Number(m?.[1] ?? 0)) return;
      done();
      resolve(Number(process.hrtime.bigint() - since) / 1e6);
    };
    const onFail = (err?: Error): void => {
      done();
      reject(err ?? new Error('closed before the response'));
    };
    const done = (): void => {
      socket.off('data', onData).off('error', onFail).off('close', onFail);
    };
    socket.on('data', onData).once('error', onFail).once('close', onFail);
  });
}

/** Connects and sends one GET; resolves once the response is complete, with the connection still open. */
export function connectAndGet(port: number, timeoutMs = 30_000): Promise<{ conn: Conn; firstMs: number }> {
  const since = process.hrtime.bigint();
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no response within ${timeoutMs} ms`)));
  const conn: Conn = {
    socket,
    request: () => {
      const p = timed(socket, process.hrtime.bigint());
      socket.write(GET);
      return p;
    },
  };
  const first = timed(socket, since);
  socket.once('connect', () => socket.write(GET));
  return first.then((firstMs) => ({ conn, firstMs }));
}

/** `n` connections, `concurrency` being opened at a time, each having made one request; failures counted. */
export async function openMany(port: number, n: number, concurrency: number): Promise<{ conns: Conn[]; firstMs: number[]; failed: number; firstError?: string }> {
  const conns: Conn[] = [];
  const firstMs: number[] = [];
  let failed = 0;
  let firstError: string | undefined;
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < n) {
      next++;
      try {
        const r = await connectAndGet(port);
        conns.push(r.conn);
        firstMs.push(r.firstMs);
      } catch (err) {
        failed++;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, lane));
  return { conns, firstMs, failed, ...(firstError === undefined ? {} : { firstError }) };
}

export function closeAll(conns: readonly Conn[]): void {
  for (const c of conns) c.socket.destroy();
}

/** The q-quantile (0..1) of xs, nearest rank. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number;
}
