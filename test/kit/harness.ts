/**
 * Test helper: start backends and a proxy on ephemeral ports, close everything at the end of a test
 * (in reverse order of start), and poll for a state with a deadline.
 */
import * as net from 'node:net';
import { Server, type ServerHooks } from '../../src/server.js';
import { withDefaults, type ProxyOptions } from '../../src/options/options.js';
import { RawClient } from './raw-client.js';
import { startHello } from '../../backends/hello.js';
import { startEcho, type EchoHandle } from '../../backends/echo.js';
import { startRaw, type RawHandle } from '../../backends/raw.js';
import type { BackendHandle } from '../../backends/serve.js';

export const HOST = '127.0.0.1';

/** Things to close when a test ends, closed last-in first-out; errors in closing do not hide the test's own. */
export class Cleanup {
  private readonly closers: (() => unknown)[] = [];

  add<T extends { close(): unknown }>(thing: T): T {
    this.closers.push(() => thing.close());
    return thing;
  }

  async run(): Promise<void> {
    for (let closer = this.closers.pop(); closer !== undefined; closer = this.closers.pop()) {
      try {
        await closer();
      } catch {
        // keep closing the rest
      }
    }
  }
}

/** Runs `body` with a fresh Cleanup and always closes what it registered. */
export async function withCleanup<T>(body: (c: Cleanup) => Promise<T>): Promise<T> {
  const c = new Cleanup();
  try {
    return await body(c);
  } finally {
    await c.run();
  }
}

export async function helloBackends(c: Cleanup, n: number, delayMs = 0): Promise<BackendHandle[]> {
  const out: BackendHandle[] = [];
  for (let i = 1; i <= n; i++) out.push(c.add(await startHello({ name: String(i), delayMs })));
  return out;
}

export async function echoBackends(c: Cleanup, n: number): Promise<EchoHandle[]> {
  const out: EchoHandle[] = [];
  for (let i = 1; i <= n; i++) out.push(c.add(await startEcho({ name: `e${i}` })));
  return out;
}

export interface StartedProxy {
  proxy: Server;
  port: number;
}

/** A proxy on 127.0.0.1 (ephemeral port) in front of `backends`; `hooks` as a worker process would give them. */
export async function startProxy(c: Cleanup, backends: { port: number; weight?: number }[], overrides: Partial<ProxyOptions> = {}, hooks: ServerHooks = {}): Promise<StartedProxy> {
  const proxy = new Server(withDefaults({
    listen: [{ host: HOST, port: 0 }],
    logLevel: 'silent',
    backends: backends.map((b) => ({ host: HOST, port: b.port, ...(b.weight === undefined ? {} : { weight: b.weight }) })),
    ...overrides,
  }), hooks);
  c.add(proxy);
  const { port } = await proxy.listen();
  return { proxy, port };
}

export async function connect(c: Cleanup, port: number): Promise<RawClient> {
  return c.add(await RawClient.connect(port));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every few ms until it returns true; throws with `what` (and the last detail) at the deadline. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 5_000, detail: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${detail() === '' ? '' : `: ${detail()}`}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Waits until every worker's pending count is zero. */
export function waitForIdle(proxy: Server, timeoutMs = 5_000): Promise<void> {
  return waitFor('every pending count to return to 0', () => proxy.stats().workers.every((w) => w.pending === 0), timeoutMs,
    () => JSON.stringify(proxy.stats().workers));
}

/** Whether a new TCP connection to `port` is refused (nothing accepts any more). */
export function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, HOST);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

/** A port that was free a moment ago and on which nothing listens now. */
export function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A raw backend that answers each request with `200` and the body `<name> <METHOD> <url>`, after the
 * number of ms given by a `delay=N` query parameter (0 if absent). Requests with bodies are not
 * supported (heads only). Responses on one connection go out in request order.
 */
export function startUrlEcho(c: Cleanup, name: string): Promise<RawHandle> {
  return startRaw({
    onConnection: (socket) => {
      let buffered = Buffer.alloc(0);
      let chain = Promise.resolve();
      const timers = new Set<NodeJS.Timeout>();
      socket.once('close', () => timers.forEach(clearTimeout));
      socket.on('data', (data: Buffer) => {
        buffered = Buffer.concat([buffered, data]);
        for (let end = buffered.indexOf('\r\n\r\n'); end !== -1; end = buffered.indexOf('\r\n\r\n')) {
          const requestLine = buffered.toString('latin1', 0, buffered.indexOf('\r\n'));
          buffered = buffered.subarray(end + 4);
          const [method = '', url = ''] = requestLine.split(' ');
          const delay = Number(/[?&]delay=(\d+)/.exec(url)?.[1] ?? '0');
          const body = `${name} ${method} ${url}`;
          const response = `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
          chain = chain.then(() => new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              timers.delete(timer);
              if (!socket.destroyed) socket.write(response);
              resolve();
            }, delay);
            timers.add(timer);
          }));
        }
      });
    },
  }).then((handle) => c.add(handle));
}
