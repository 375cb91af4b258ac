/**
 * A pool's backends for TCP-mode listeners: the same least-pending heap as HTTP pools
 * (balancer/worker-heap.ts), where pending counts the connections open to a backend. A backend is in
 * rotation unless its active health check says down (the pool's `health_check`, run once per
 * backend like an HTTP pool's) or it refused `--eject-after` connects in a row (then it is out for
 * `--eject-cooldown`). A TCP pool is its own: an HTTP pool of the same name keeps its own heap.
 */
import { checkOptionsOf, checkTargetOf, type ActiveCheck, type CheckSubscriber, type HealthChecks } from '../balancer/active-health.js';
import { settingsOf, type BackendSettings } from '../balancer/pool.js';
import { WorkerHeap, type PoolMember } from '../balancer/worker-heap.js';
import type { EventLog } from '../log/event-log.js';
import type { Address, PoolOptions } from '../options/options.js';
import type { SendProxy } from '../options/vocabulary.js';

export class TcpBackend implements PoolMember, CheckSubscriber {
  heapIndex = -1;
  pending = 0;
  turn = 0;
  seq = 0;
  weight: number;
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Connections piped, and those whose connect failed; bytes from the client to it, and back. */
  connections = 0;
  connectFailures = 0;
  bytesIn = 0;
  bytesOut = 0;
  failuresInARow = 0;
  /** Out of rotation until this time (clock ms) after refused connects; -1: not ejected. */
  ejectedUntil = -1;
  readonly check: ActiveCheck | null;
  private readonly pool: TcpPool;

  constructor(address: Address, check: ActiveCheck | null, pool: TcpPool) {
    this.name = `${address.host}:${address.port}`;
    this.host = address.host;
    this.port = address.port;
    this.weight = address.weight ?? 1;
    this.check = check;
    this.pool = pool;
    check?.subscribe(this);
  }

  get inRotation(): boolean {
    return this.ejectedUntil < 0 && (this.check?.up ?? true);
  }

  checkChanged(): void {
    this.pool.placeInRotation(this);
  }
}

export class TcpPool {
  readonly name: string;
  readonly key: string;
  readonly backends: readonly TcpBackend[];
  private readonly heap = new WorkerHeap<TcpBackend>();
  private readonly settings: BackendSettings;
  private readonly log: EventLog | null;

  constructor(pool: PoolOptions, proxyWide: BackendSettings, checks: HealthChecks, now: number, log: EventLog | null) {
    this.name = pool.name;
    this.settings = settingsOf(pool, proxyWide);
    this.key = JSON.stringify([pool.backends, this.settings]);
    this.log = log;
    const check = checkOptionsOf(this.settings);
    this.backends = pool.backends.map((b) => new TcpBackend(b, check === null ? null : checks.checkOf(checkTargetOf(b, this.settings), check, now), this));
    for (const b of this.backends) if (b.inRotation) this.heap.add(b);
  }

  get connectTimeoutMs(): number {
    return this.settings.connectTimeoutMs;
  }

  get sendProxy(): SendProxy {
    return this.settings.sendProxy;
  }

  /** The least loaded backend in rotation that is not in `tried`; undefined when there is none. */
  pick(tried: readonly TcpBackend[]): TcpBackend | undefined {
    const top = this.heap.min();
    if (top !== undefined && !tried.includes(top)) return top;
    let best: TcpBackend | undefined;
    for (const b of this.heap) if (!tried.includes(b) && (best === undefined || b.pending * best.weight < best.pending * b.weight)) best = b;
    return best;
  }

  opened(b: TcpBackend): void {
    this.heap.dispatched(b);
    b.connections++;
  }

  closed(b: TcpBackend): void {
    this.heap.completed(b);
  }

  /** A connect to `b` worked: its refusals in a row start again from 0. */
  connected(b: TcpBackend): void {
    b.failuresInARow = 0;
  }

  /** A connect to `b` failed (refused, timed out): after --eject-after in a row, it is out for --eject-cooldown. */
  connectFailed(b: TcpBackend, why: string, now: number): void {
    b.connectFailures++;
    b.failuresInARow++;
    this.log?.error('backend_failed', `TCP connect to backend ${b.name} failed: ${why}`, { backend: b.name, pool: this.name, mode: 'tcp', reason: why });
    if (b.failuresInARow < this.settings.failuresToEject || b.ejectedUntil >= 0) return;
    b.ejectedUntil = now + this.settings.ejectCooldownMs;
    this.log?.error('backend_ejected', `backend ${b.name} refused ${b.failuresInARow} TCP connects in a row: out of rotation for ${this.settings.ejectCooldownMs} ms`,
      { backend: b.name, pool: this.name, mode: 'tcp' });
    this.placeInRotation(b);
  }

  /** The clock's sweep: an ejection whose cooldown is over ends (one more refusal ejects it again). */
  sweep(now: number): void {
    for (const b of this.backends) {
      if (b.ejectedUntil >= 0 && now >= b.ejectedUntil) {
        b.ejectedUntil = -1;
        b.failuresInARow = this.settings.failuresToEject - 1;
        this.placeInRotation(b);
      }
    }
  }

  placeInRotation(b: TcpBackend): void {
    if (b.inRotation) this.heap.add(b);
    else this.heap.remove(b);
  }

  /** Lets go of the health checks (a reload replaced this pool and its last connection closed). */
  close(): void {
    for (const b of this.backends) b.check?.unsubscribe(b);
  }
}
