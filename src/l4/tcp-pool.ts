/**
 * A pool's backends for TCP-mode listeners: the same least-pending heap as HTTP pools
 * (balancer/worker-heap.ts), where pending counts the connections open to a backend. A backend is in
 * rotation unless its active health check says down (the pool's `health_check`, run once per
 * backend like an HTTP pool's) or it refused `--eject-after` connects in a row (then it is out for
 * `--eject-cooldown`). A TCP pool is its own: an HTTP pool of the same name keeps its own heap.
 *
 * Its backends are its fixed ones and one per address its `dns:` entries resolve to: an address that
 * appears joins the heap, one that disappears leaves rotation at once and is dropped when its last
 * connection closes (a connection open to it goes on).
 */
import { checkOptionsOf, checkTargetOf, type ActiveCheck, type CheckOptions, type CheckSubscriber, type HealthChecks } from '../balancer/active-health.js';
import { settingsOf, type BackendSettings } from '../balancer/pool.js';
import { leastLoadedExcept, WorkerHeap, type PoolMember } from '../balancer/worker-heap.js';
import { addressName, discoveredBackends, type Discovery, type DnsEntry } from '../dns/discovery.js';
import type { DnsSubscriber } from '../dns/dns-name.js';
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
  /** Its address left its `dns:` name's answer: out of rotation, dropped once its last connection closes. */
  leaving = false;
  readonly check: ActiveCheck | null;
  private readonly pool: TcpPool;

  constructor(address: Address, check: ActiveCheck | null, pool: TcpPool) {
    this.name = addressName(address);
    this.host = address.host;
    this.port = address.port;
    this.weight = address.weight ?? 1;
    this.check = check;
    this.pool = pool;
    check?.subscribe(this);
  }

  get inRotation(): boolean {
    return !this.leaving && this.ejectedUntil < 0 && (this.check?.up ?? true);
  }

  checkChanged(): void {
    this.pool.placeInRotation(this);
  }
}

/** What a TCP pool is made from: a reload keeps a pool whose key is unchanged (its heap, counts and health go on). */
export function tcpPoolKey(pool: PoolOptions, proxyWide: BackendSettings): string {
  return JSON.stringify([pool.backends, settingsOf(pool, proxyWide)]);
}

/** What a TCP pool finds its checks and its `dns:` names through, and the proxy's clock. */
export interface TcpPoolServices {
  checks: HealthChecks;
  discovery: Discovery;
  now(): number;
}

export class TcpPool implements DnsSubscriber {
  readonly name: string;
  readonly key: string;
  private members: TcpBackend[];
  private readonly heap = new WorkerHeap<TcpBackend>();
  private readonly settings: BackendSettings;
  private readonly log: EventLog | null;
  private readonly services: TcpPoolServices;
  private readonly check: CheckOptions | null;
  /** `host:port` of the fixed backends (an address a name also gives is not added twice). */
  private readonly fixedNames: Set<string>;
  private readonly dns: DnsEntry[];

  constructor(pool: PoolOptions, proxyWide: BackendSettings, services: TcpPoolServices, log: EventLog | null) {
    this.name = pool.name;
    this.settings = settingsOf(pool, proxyWide);
    this.key = tcpPoolKey(pool, proxyWide);
    this.log = log;
    this.services = services;
    this.check = checkOptionsOf(this.settings);
    const fixed = pool.backends.filter((b) => b.dns !== true);
    this.fixedNames = new Set(fixed.map(addressName));
    const now = services.now();
    this.dns = pool.backends.filter((b) => b.dns === true).map((backend) => ({ backend, name: services.discovery.nameOf(backend.host, now) }));
    this.members = [...fixed, ...this.discovered().values()].map((b) => this.backendOf(b));
    for (const b of this.members) if (b.inRotation) this.heap.add(b);
    for (const { name } of this.dns) name.subscribe(this);
  }

  /** Its backends now: the fixed ones and those its names give (and those leaving, until their last connection closes). */
  get backends(): readonly TcpBackend[] {
    return this.members;
  }

  /** DnsSubscriber: a name's set changed; backends join and leave to match. */
  addressesChanged(): void {
    const wanted = this.discovered();
    for (const b of this.members) {
      if (this.fixedNames.has(b.name)) continue;
      const stays = wanted.delete(b.name);
      if (stays !== b.leaving) continue;
      b.leaving = !stays;
      this.placeInRotation(b);
    }
    for (const address of wanted.values()) {
      const b = this.backendOf(address);
      this.members.push(b);
      this.placeInRotation(b);
    }
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
    return leastLoadedExcept(this.heap, tried);
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

  /**
   * The clock's sweep: an ejection whose cooldown is over ends (one more refusal ejects it again); a
   * backend that left its name's answer is dropped once no connection to it is open. Returns the
   * names of those dropped.
   */
  sweep(now: number): string[] {
    for (const b of this.members) {
      if (b.ejectedUntil >= 0 && now >= b.ejectedUntil) {
        b.ejectedUntil = -1;
        b.failuresInARow = this.settings.failuresToEject - 1;
        this.placeInRotation(b);
      }
    }
    const gone = this.members.filter((b) => b.leaving && b.pending === 0);
    if (gone.length === 0) return [];
    for (const b of gone) b.check?.unsubscribe(b);
    this.members = this.members.filter((b) => !gone.includes(b));
    return gone.map((b) => b.name);
  }

  placeInRotation(b: TcpBackend): void {
    if (b.inRotation) this.heap.add(b);
    else this.heap.remove(b);
  }

  /** Lets go of the health checks and the names (a reload replaced this pool and its last connection closed). */
  close(): void {
    for (const { name } of this.dns) name.unsubscribe(this);
    for (const b of this.members) b.check?.unsubscribe(b);
  }

  private backendOf(address: Address): TcpBackend {
    const check = this.check === null ? null : this.services.checks.checkOf(checkTargetOf(address, this.settings), this.check, this.services.now());
    return new TcpBackend(address, check, this);
  }

  /** The backends the pool's names give now (discoveredBackends). */
  private discovered(): Map<string, Address> {
    return discoveredBackends(this.dns, this.fixedNames);
  }
}

