/**
 * The proxy's own work per request, without the kernel: one keep-alive request through a real
 * ClientConn, work channel, balancer, Worker, SocketPool and UpstreamConn, over in-memory sockets that
 * capture writes. What is left out is exactly the syscalls and Node's stream plumbing, so this is
 * the part of the per-request CPU cost the project's code controls.
 */
import { EventEmitter } from 'node:events';
import type * as net from 'node:net';
import { Bench } from 'tinybench';
import { Balancer, balancerChannels } from '../../src/balancer/balancer.js';
import { Retries, retryPolicyOf } from '../../src/balancer/retries.js';
import { DEFAULTS } from '../../src/options/options.js';
import { Worker } from '../../src/balancer/worker.js';
import { ClientConn } from '../../src/frontend/client-conn.js';
import { forwardedLines } from '../../src/http1/head.js';
import { Routing } from '../../src/routing/routing.js';
import type { SocketReader } from '../../src/exchange/job.js';
import { Clock } from '../../src/clock.js';

/** Just enough of net.Socket for the proxy: writes are captured, events are emitted by the bench. */
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

const REQUEST = Buffer.from('GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n');
const FAST_RESPONSE = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello from 1\n');
const NODE_RESPONSE = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nDate: Tue, 24 Nov 2026 16:20:43 GMT\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\nHello from 1\n');

interface Rig {
  /** Opens one socket per backend: pipelined requests, answered once the sockets connect. */
  warm(response: Buffer): Promise<void>;
  roundTrip(response: Buffer): void;
  close(): void;
}

function rig(backends: number): Rig {
  const clock = new Clock(() => {}); // never started: no timeout fires during a bench
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
      for (const w of workers) w.close();
      balancer.stop();
    },
  };
}

export default async function hotPathBench(): Promise<Bench> {
  const bench = new Bench({ name: 'hot path (no sockets)', time: 1000 });
  const fast = rig(3);
  const node = rig(3);
  // Dial every backend once (connect is emitted on a microtask), so the loop only reuses sockets.
  await fast.warm(FAST_RESPONSE);
  await node.warm(NODE_RESPONSE);
  bench.add('request+response, minimal backend head', () => fast.roundTrip(FAST_RESPONSE));
  bench.add('request+response, node:http head (hop-by-hop to drop)', () => node.roundTrip(NODE_RESPONSE));
  await bench.run();
  fast.close();
  node.close();
  return bench;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const bench = await hotPathBench();
  console.table(bench.table());
}
