/**
 * Wires the parts together: the listener, the work and done channels, the balancer, one worker per
 * backend. Start with `listen()`, stop with `close()`; `stats()` is a snapshot for tests and status.
 */
import * as net from 'node:net';
import { Chan } from './csp/chan.js';
import { Balancer } from './balancer/balancer.js';
import { Worker, WORKER_QUEUE } from './balancer/worker.js';
import { ClientConn, type ClientContext } from './frontend/client-conn.js';
import { AccessLog } from './log/access-log.js';
import { RateLimiter } from './frontend/rate-limiter.js';
import { forwardedLines } from './http1/head.js';
import { llhttp } from './http1/llhttp.js';
import type { Address, ProxyOptions } from './options.js';

export interface WorkerStats {
  name: string;
  pending: number;
  served: number;
  failed: number;
  open: number;
  idle: number;
  dialled: number;
  /** Out of rotation after consecutive failures, until its cool-down ends. */
  ejected: boolean;
}

export interface ProxyStats {
  clients: number;
  workers: WorkerStats[];
}

export class Proxy {
  readonly options: ProxyOptions;
  private readonly server: net.Server;
  private readonly balancer: Balancer;
  private readonly workers: Worker[];
  private readonly clients = new Set<ClientConn>();
  private whenNoClients: (() => void) | null = null;
  private readonly context: ClientContext;
  private readonly ticker: NodeJS.Timeout;

  constructor(options: ProxyOptions) {
    this.options = options;
    llhttp(); // fail at start-up, not on the first request, if the parser cannot load
    const done = new Chan<Worker>(WORKER_QUEUE * options.backends.length);
    const health = new Chan<Worker>(options.backends.length);
    this.workers = options.backends.map((b) => new Worker(`${b.host}:${b.port}`, {
      host: b.host,
      port: b.port,
      maxConnections: options.maxConnectionsPerBackend,
      connectTimeoutMs: options.connectTimeoutMs,
      responseTimeoutMs: options.responseTimeoutMs,
      idleTimeoutMs: options.backendIdleTimeoutMs,
    }, b.weight ?? 1, done, health, { failuresToEject: options.failuresToEject, cooldownMs: options.ejectCooldownMs }));
    this.balancer = new Balancer(done, health, this.workers, options.policy);
    // Half-open: a client that half-closes after its request still gets the response (then we close).
    this.server = net.createServer({ noDelay: true, allowHalfOpen: true }, this.onConnection);
    if (options.maxConnections > 0) this.server.maxConnections = options.maxConnections;
    // Client timeouts are kept to within a quarter of their length (or a second) by one sweep.
    const tickMs = Math.max(10, Math.min(1000, options.headerTimeoutMs / 4, options.keepAliveTimeoutMs / 4));
    this.context = {
      work: this.balancer.work,
      limits: options,
      clock: {
        ticks: 0,
        headerTicks: Math.ceil(options.headerTimeoutMs / tickMs),
        keepAliveTicks: Math.ceil(options.keepAliveTimeoutMs / tickMs),
      },
      accessLog: options.accessLog === 'off' ? null : new AccessLog(options.accessLog, options.accessLogFile ?? 1),
      rateLimiter: options.rateLimit > 0 ? new RateLimiter({
        rate: options.rateLimit,
        burst: options.rateBurst > 0 ? options.rateBurst : Math.max(1, Math.ceil(options.rateLimit)),
        maxClients: options.rateLimitClients,
      }) : null,
    };
    this.ticker = setInterval(this.sweep, tickMs).unref();
  }

  listen(): Promise<Address> {
    this.balancer.start();
    const { host, port } = this.options.listen;
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        // After listening, errors are per accept (EMFILE and the like): the server goes on.
        this.server.on('error', (err: Error) => process.stderr.write(`chanlb: accept failed: ${err.message}\n`));
        resolve(this.address());
      });
    });
  }

  address(): Address {
    const addr = this.server.address() as net.AddressInfo;
    return { host: addr.address, port: addr.port };
  }

  /**
   * Graceful shutdown: stop accepting, let every connection finish what it has in flight (each
   * closes when its last response is written), then close the backends. Connections still open
   * after `deadlineMs` are cut. Resolves when everything is closed.
   */
  async shutdown(deadlineMs: number): Promise<void> {
    this.server.close();
    // The server counts a connection gone a tick before its 'close' reaches ClientConn: wait for ours.
    const drained = new Promise<void>((resolve) => {
      this.whenNoClients = resolve;
      if (this.clients.size === 0) resolve();
    });
    for (const client of this.clients) client.drain();
    const deadline = setTimeout(() => {
      for (const client of this.clients) client.destroy();
    }, deadlineMs);
    await drained;
    clearTimeout(deadline);
    await this.close();
  }

  /** Stops listening, closes every client and backend socket now. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      clearInterval(this.ticker);
      this.server.close(() => resolve());
      for (const client of this.clients) client.destroy();
      for (const worker of this.workers) worker.close();
      this.balancer.stop();
    });
    const log = this.context.accessLog;
    this.context.accessLog = null; // close() may run twice (a shutdown, then a second signal)
    await log?.close();
  }

  stats(): ProxyStats {
    return {
      clients: this.clients.size,
      workers: this.workers.map((w) => ({
        name: w.name,
        pending: w.pending,
        served: w.served,
        failed: w.failed,
        open: w.pool.open,
        idle: w.pool.idleCount,
        dialled: w.pool.dialled,
        ejected: w.ejected,
      })),
    };
  }

  private readonly sweep = (): void => {
    const now = ++this.context.clock.ticks;
    this.context.rateLimiter?.sweep(performance.now());
    for (const client of this.clients) client.tick(now);
  };

  private readonly onConnection = (socket: net.Socket): void => {
    if (!this.server.listening) {
      socket.destroy(); // accepted in the same turn as shutdown began
      return;
    }
    const address = socket.remoteAddress ?? 'unknown';
    const client = new ClientConn(socket, this.context, { address, forwarded: forwardedLines(address, 'http') });
    this.clients.add(client);
    socket.once('close', () => {
      this.clients.delete(client);
      if (this.clients.size === 0) this.whenNoClients?.();
    });
  };
}
