/**
 * Test helper: a TCP port on 127.0.0.1 where a connection never completes its handshake, for
 * connect-timeout tests without a non-routable address.
 *
 * A listener runs in a worker thread whose event loop is then blocked (Atomics.wait), so nothing
 * ever accepts. Its accept queue (backlog 1) is filled with a few connections of our own; once it is
 * full, Linux drops further SYNs, so a new connect stays in SYN-SENT until its caller gives up.
 */
import * as net from 'node:net';
import { Worker } from 'node:worker_threads';

const LISTENER = `
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const flag = new Int32Array(workerData);
const server = net.createServer();
server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
  parentPort.postMessage(server.address().port);
  Atomics.wait(flag, 0, 0); // never accept while the test runs
  server.close();
});
`;

export interface UnacceptingPort {
  readonly port: number;
  /** Connections the filling made that completed (queued, never accepted). */
  readonly queued: number;
  close(): Promise<void>;
}

/** Resolves with the socket if it connects within `ms`, or null (the socket is kept, still trying). */
function tryConnect(port: number, ms: number, sockets: net.Socket[]): Promise<net.Socket | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    sockets.push(socket);
    socket.on('error', () => {});
    const timer = setTimeout(() => resolve(null), ms);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
  });
}

/**
 * Starts the listener and fills its queue. Rejects when the queue cannot be shown full (a connect
 * that hangs for `probeMs`) within `maxFill` connections: the platform does not drop SYNs.
 */
export async function unacceptingPort(probeMs = 150, maxFill = 16): Promise<UnacceptingPort> {
  const shared = new SharedArrayBuffer(4);
  const flag = new Int32Array(shared);
  const worker = new Worker(LISTENER, { eval: true, workerData: shared });
  const sockets: net.Socket[] = [];
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      for (const socket of sockets) socket.destroy();
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      await worker.terminate();
    })();
    return closing;
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      worker.once('error', reject);
      worker.once('message', (p: unknown) => resolve(Number(p)));
    });
    for (let queued = 0; queued < maxFill; queued++) {
      if (await tryConnect(port, probeMs, sockets) === null) return { port, queued, close };
    }
    throw new Error(`the accept queue of port ${port} never filled (${maxFill} connections completed)`);
  } catch (err) {
    await close();
    throw err;
  }
}
