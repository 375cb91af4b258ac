/**
 * The proxy's own work per request, without the kernel: one keep-alive request through a real
 * ClientConn, work channel, balancer, Worker, SocketPool and UpstreamConn, over in-memory sockets that
 * capture writes. What is left out is exactly the syscalls and Node's stream plumbing, so this is
 * the part of the per-request CPU cost the project's code controls.
 *
 * The classes are imported from a build's `src` directory given at run time, so `make cpu` can run
 * the same rig over this build and an earlier one (`--baseline`): the constructors used here must be
 * the same in both.
 */
import { EventEmitter } from 'node:events';
import type * as net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SocketReader } from '../../src/exchange/job.js';

/** Just enough of net.Socket for the proxy: writes are captured, events are emitted by the rig. */
class MemorySocket extends EventEmitter {
  static lastWritten: MemorySocket | null = null;
  readonly remoteAddress = '127.0.0.1';
  /** Backend sockets: where reads go (the proxy dials with `onread`); client sockets get 'data'. */
  reader: SocketReader | null = null;
  writes = 0;
  write(_chunk: Buffer): boolean {
    MemorySocket.lastWritten = this;
    this.writes++;
    return true;
  }
  setNoDelay(): this { return this; }
  setTimeout(): this { return this; }
  pause(): this { return this; }
  resume(): this { return this; }
  isPaused(): boolean { return false; }
  cork(): void {}
  uncork(): void {}
  end(): this { return this; }
  destroy(): this { return this; }
}

const asSocket = (s: MemorySocket): net.Socket => s as unknown as net.Socket;

export const REQUEST = Buffer.from('GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n');
/** What backends/fast.js answers. */
export const FAST_RESPONSE = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello from 1\n');
/** What a node:http backend answers: Connection and Keep-Alive for the proxy to drop. */
export const NODE_RESPONSE = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nDate: Tue, 24 Nov 2026 16:20:43 GMT\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\nHello from 1\n');

export interface Rig {
  /** Opens one socket per backend: pipelined requests, answered once the sockets connect. */
  warm(response: Buffer): Promise<void>;
  /** One request in from the client, its response from the backend it reached, out to the client. */
  roundTrip(response: Buffer): void;
  close(): void;
}

/** Makes rigs of `backends` backends from the classes in `srcDir` (a build's dist/src). */
export async function loadRig(srcDir: string): Promise<(backends: number) => Rig> {
  const load = <T>(file: string): Promise<T> => import(pathToFileURL(path.join(srcDir, file)).href) as Promise<T>;
  const [{ Balancer, balancerChannels }, { Retries, retryPolicyOf }, { DEFAULTS }, { Worker }, { ClientConn }, { forwardedLines }, { Routing }, { Clock }] = await Promise.all([
    load<typeof import('../../src/balancer/balancer.js')>('balancer/balancer.js'),
    load<typeof import('../../src/balancer/retries.js')>('balancer/retries.js'),
    load<typeof import('../../src/options/options.js')>('options/options.js'),
    load<typeof import('../../src/balancer/worker.js')>('balancer/worker.js'),
    load<typeof import('../../src/frontend/client-conn.js')>('frontend/client-conn.js'),
    load<typeof import('../../src/http1/head.js')>('http1/head.js'),
    load<typeof import('../../src/routing/routing.js')>('routing/routing.js'),
    load<typeof import('../../src/clock.js')>('clock.js'),
  ]);
  return (backends: number): Rig => {
    const clock = new Clock(() => {}); // never started: no timeout fires during a run
    const channels = balancerChannels(backends, 1024);
    const retries = new Retries(retryPolicyOf(DEFAULTS), { budgetPercent: DEFAULTS.retryBudgetPercent, minRetries: DEFAULTS.retryBudgetMin }, () => 0);
    const upstreams: MemorySocket[] = [];
    const workers = Array.from({ length: backends }, (_, i) => new Worker({
      name: `b${i}`,
      weight: 1,
      queue: 1024,
      sockets: {
        host: '127.0.0.1', port: 9001 + i, maxConnections: 4,
        connectTimeoutMs: 5000, responseTimeoutMs: 60000, idleTimeoutMs: 4000, clock, sendProxy: 'off',
        dial: (_host: string, _port: number, reader: SocketReader): net.Socket => {
          const s = new MemorySocket();
          s.reader = reader;
          upstreams.push(s);
          queueMicrotask(() => s.emit('connect'));
          return asSocket(s);
        },
      },
      health: { failuresToEject: 5, cooldownMs: 10_000 },
      channels,
      retries,
      check: null,
      slowStartMs: 0,
      rampUp: false,
      hasAlternative: () => false,
      buckets: [0.01, 0.1, 1],
      log: null,
    }));
    const balancer = new Balancer(channels, workers);
    balancer.start();
    const client = new MemorySocket();
    new ClientConn(asSocket(client), {
      routing: Routing.fixed(balancer.work),
      limits: { maxHeadBytes: 16384, maxBodyBytes: 1 << 20, maxPipeline: 32, allowTrace: false, headerTimeoutMs: 10_000, keepAliveTimeoutMs: 60_000 },
      clock,
      accessLog: null,
      eventLog: null,
      trustedProxies: null,
      refusals: null,
    }, {
      address: '127.0.0.1', forwarded: forwardedLines('127.0.0.1', 'http', '127.0.0.1', 8080), port: 8080, tls: '',
      origin: { source: { address: '127.0.0.1', port: 50000 }, destination: { address: '127.0.0.1', port: 8080 } },
    });
    return {
      async warm(response: Buffer): Promise<void> {
        for (let i = 0; i < backends; i++) client.emit('data', Buffer.from(REQUEST));
        await new Promise((resolve) => setTimeout(resolve, 5));
        for (const upstream of upstreams) upstream.reader?.onRead(response.length, response);
      },
      roundTrip(response: Buffer): void {
        client.emit('data', Buffer.from(REQUEST));
        // The backend socket the request was just written to answers it.
        const upstream = MemorySocket.lastWritten;
        if (upstream === null || upstream === client) throw new Error('the request reached no backend');
        upstream.reader?.onRead(response.length, response);
        if (client.writes === 0) throw new Error('no response reached the client');
      },
      close(): void {
        for (const w of workers) void w.close();
        balancer.stop();
      },
    };
  };
}
