/**
 * The TCP-mode side of the proxy: the pools its listeners pipe to (rebuilt on reload only when their
 * definition changed; a replaced pool lives on until its last connection closes), every open
 * session, and the counts the metrics and the access log read.
 */
import type * as net from 'node:net';
import type { AccessLog } from '../log/access-log.js';
import type { EventLog } from '../log/event-log.js';
import { DEFAULT_POOL, type ProxyOptions } from '../options/options.js';
import type { Addresses } from '../proxy-protocol/types.js';
import { poolDefinitions } from '../routing/routing.js';
import { TcpPool, tcpPoolKey, type TcpPoolServices } from './tcp-pool.js';
import { TcpSession } from './tcp-session.js';

export interface TcpFrontContext extends TcpPoolServices {
  log: EventLog | null;
}

export class TcpFront {
  /** By pool name: the pools TCP listeners use now. */
  pools = new Map<string, TcpPool>();
  readonly sessions = new Set<TcpSession>();
  /** Sessions ended, by pool, backend ('' when none was reached) and result. */
  readonly ended = new Map<string, number>();
  private readonly retiring = new Set<TcpPool>();
  private readonly context: TcpFrontContext;
  private options: ProxyOptions;
  private accessLog: AccessLog | null = null;
  private drained: (() => void) | null = null;

  constructor(options: ProxyOptions, context: TcpFrontContext) {
    this.context = context;
    this.options = options;
    this.pools = this.poolsFor(options, new Map());
  }

  /** Pools for the TCP listeners of `options`, keeping those whose definition is unchanged. */
  private poolsFor(options: ProxyOptions, old: Map<string, TcpPool>): Map<string, TcpPool> {
    const wanted = new Set(options.listen.filter((l) => l.mode === 'tcp').map((l) => l.pool ?? DEFAULT_POOL));
    const pools = new Map<string, TcpPool>();
    for (const def of poolDefinitions(options)) {
      if (!wanted.has(def.name)) continue;
      const kept = old.get(def.name);
      const same = kept !== undefined && kept.key === tcpPoolKey(def, options);
      pools.set(def.name, same ? kept : new TcpPool(def, options, this.context, this.context.log));
    }
    return pools;
  }

  /** New options (a reload): new connections use the new pools; open ones finish on theirs. */
  reload(options: ProxyOptions, accessLog: AccessLog | null): void {
    const next = this.poolsFor(options, this.pools);
    for (const pool of this.pools.values()) if (![...next.values()].includes(pool)) this.retire(pool);
    this.pools = next;
    this.options = options;
    this.accessLog = accessLog;
  }

  setAccessLog(accessLog: AccessLog | null): void {
    this.accessLog = accessLog;
  }

  /** A connection on a TCP listener of pool `poolName`, from `origin`; `early`: bytes read past a PROXY header. */
  accept(socket: net.Socket, poolName: string, origin: Addresses, early: Buffer | null): void {
    const pool = this.pools.get(poolName);
    if (pool === undefined) {
      socket.destroy();
      return;
    }
    const session = new TcpSession(socket, pool, origin, early, {
      idleTimeoutMs: this.options.tcpIdleTimeoutMs,
      sendProxy: pool.sendProxy,
      now: this.context.now,
      ended: (s) => this.end(s),
    });
    this.sessions.add(session);
    session.start();
  }

  sweep(now: number): void {
    for (const pool of this.pools.values()) {
      // A backend that left its name's answer leaves the metrics too, as an HTTP pool's does.
      for (const name of pool.sweep(now)) {
        for (const key of this.ended.keys()) if (key.startsWith(`${pool.name}\n${name}\n`)) this.ended.delete(key);
      }
    }
    for (const s of this.sessions) s.sweep(now);
  }

  /** Resolves when no session is open. */
  idle(): Promise<void> {
    if (this.sessions.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.drained = resolve;
    });
  }

  /** Closes every session now. */
  closeAll(): void {
    for (const s of this.sessions) s.close();
  }

  private retire(pool: TcpPool): void {
    if ([...this.sessions].some((s) => s.pool === pool)) this.retiring.add(pool);
    else pool.close();
  }

  private end(s: TcpSession): void {
    this.sessions.delete(s);
    const backend = s.backend?.name ?? '';
    const key = `${s.pool.name}\n${backend}\n${s.result}`;
    this.ended.set(key, (this.ended.get(key) ?? 0) + 1);
    if (s.backend !== null) {
      s.backend.bytesIn += s.bytesIn;
      s.backend.bytesOut += s.bytesOut;
    }
    this.accessLog?.writeTcp({
      time: Date.now(), client: s.origin.source.address, pool: s.pool.name, backend: backend === '' ? '-' : backend, result: s.result,
      bytesIn: s.bytesIn, bytesOut: s.bytesOut, connectMs: s.connectMs < 0 ? -1 : Math.round(s.connectMs * 1000) / 1000,
      totalMs: Math.round((performance.now() - s.startedAt) * 1000) / 1000,
    });
    if (this.retiring.has(s.pool) && ![...this.sessions].some((x) => x.pool === s.pool)) {
      this.retiring.delete(s.pool);
      s.pool.close();
    }
    if (this.sessions.size === 0) this.drained?.();
  }
}
