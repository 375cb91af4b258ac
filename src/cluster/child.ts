/**
 * A worker process: a whole proxy (Server) with the options the primary validated. It listens on
 * the primary's sockets (node:cluster hands it connections) or, with SO_REUSEPORT, on its own; it
 * runs no health checks and no DNS lookups of its own (the primary's verdicts and sets come in) and opens no admin listener
 * (the primary asks it for its status and metrics). Signals are the primary's to handle: Ctrl-C
 * reaches the whole process group, and the primary then tells each process what to do.
 */
import { HealthChecks } from '../balancer/active-health.js';
import { Discovery } from '../dns/discovery.js';
import { applyAction } from '../admin/admin-server.js';
import { OpenError } from '../errors.js';
import { Server } from '../server.js';
import type { LeaseSource } from '../routing/client-limiter.js';
import { isToWorker, type ToPrimary, type ToWorker } from './messages.js';

function send(msg: ToPrimary): void {
  // A primary that has gone closes the channel; what this process would have said no longer matters.
  if (process.connected === true) process.send?.(msg);
}

export function runChild(): void {
  const ignore = (): void => {};
  process.on('SIGINT', ignore);
  process.on('SIGHUP', ignore);
  let proxy: Server | null = null;
  let workerId = 0;
  let stopping = false;
  const exitAfter = (p: Promise<void>): void => {
    void p.then(() => process.exit(0));
  };
  const shutdown = (timeoutMs: number): void => {
    if (proxy === null) process.exit(0);
    if (stopping) return;
    stopping = true;
    exitAfter(proxy.shutdown(timeoutMs));
  };
  // An operator's SIGTERM to this process alone: finish and go (the primary starts another).
  process.on('SIGTERM', () => shutdown(proxy?.options.shutdownTimeoutMs ?? 0));
  // The primary is gone: nobody will hand out connections or ask anything any more.
  process.on('disconnect', () => shutdown(proxy?.options.shutdownTimeoutMs ?? 0));
  const checks = new HealthChecks(null, { remote: true });
  // DNS sets from the primary (made with the options the start message brings).
  let discovery: Discovery | null = null;
  // Rate-limit tokens from the primary's buckets: asks by sequence number, answered by `leased`.
  const asks = new Map<number, (granted: number, retryAfter: number) => void>();
  let askSeq = 0;
  const leases: LeaseSource = {
    lease(limiter, client, want, done) {
      if (process.connected !== true) return; // no answer: the limiter lets the request through after its timeout
      const seq = ++askSeq;
      asks.set(seq, done);
      send({ t: 'lease', seq, limiter, client, want });
    },
  };

  // Reloads run one after another (Server.reload is not re-entrant: a rollback may arrive while the
  // reload it undoes is still running); everything else at once.
  let reloading: Promise<void> = Promise.resolve();
  process.on('message', (msg: unknown) => {
    if (!isToWorker(msg)) return;
    if (msg.t === 'reload') reloading = reloading.then(() => handle(msg));
    else void handle(msg);
  });
  send({ t: 'hello' });

  async function handle(msg: ToWorker): Promise<void> {
    switch (msg.t) {
      case 'start': {
        workerId = msg.id;
        for (const v of msg.verdicts) checks.apply(v, performance.now());
        discovery = new Discovery(null, msg.options, true);
        for (const set of msg.dns) discovery.apply(set);
        try {
          proxy = new Server(msg.options, {
            // With a shared store (Redis) each worker leases from it; else from the primary's buckets.
            workerId: msg.id, checks, discovery, ...(msg.options.rateLimitStore === null ? { leases } : {}), adminElsewhere: true, reusePort: msg.reusePort, ticketKeys: Buffer.from(msg.ticketKeys),
          });
          await proxy.listen();
        } catch (err) {
          send({ t: 'failed', message: (err as Error).message, open: err instanceof OpenError });
          process.exit(2);
        }
        send({ t: 'ready', addresses: proxy.addresses() });
        return;
      }
      case 'leased': {
        const done = asks.get(msg.seq);
        asks.delete(msg.seq);
        done?.(msg.granted, msg.retryAfter);
        return;
      }
      case 'checks':
        for (const v of msg.verdicts) checks.apply(v, performance.now());
        return;
      case 'dns':
        discovery?.apply(msg.set);
        return;
      case 'reload': {
        let error: string | null = null;
        try {
          await proxy?.reload(msg.options);
        } catch (err) {
          error = (err as Error).message;
        }
        send({ t: 'reloaded', seq: msg.seq, error });
        return;
      }
      case 'ask': {
        // A view that cannot be made is no answer (the primary shows the others), not an unhandled rejection.
        let value: unknown = null;
        try {
          value = proxy === null ? null : msg.what === 'status' ? proxy.status() : await proxy.metrics();
        } catch (err) {
          process.stderr.write(`${JSON.stringify({ level: 'error', time: new Date().toISOString(), event: 'worker_view_failed', worker: workerId, view: msg.what, msg: (err as Error).message })}\n`);
        }
        send({ t: 'answer', seq: msg.seq, value });
        return;
      }
      case 'act': {
        const w = proxy?.backend(msg.pool, msg.name);
        send({ t: 'answer', seq: msg.seq, value: w === undefined ? null : applyAction(w, msg.action) });
        return;
      }
      case 'shutdown':
        shutdown(msg.timeoutMs);
        return;
      case 'close':
        if (proxy === null) process.exit(0);
        exitAfter(proxy.close());
        return;
    }
  }
}
