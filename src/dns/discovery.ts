/**
 * Every name `dns:NAME:PORT` backends are found through, one per name however many pools (and
 * ports) use it, looked up on the proxy's one clock: the server's sweep starts the lookups that are
 * due (a name's first starts at once). In a worker process (`remote`) nothing is looked up: the
 * primary's sets come in through apply(), so every worker sees the same backends (as with health checks).
 */
import type { EventLog } from '../log/event-log.js';
import type { Address, ProxyOptions } from '../options/options.js';
import { DnsName, type DnsTiming } from './dns-name.js';
import { resolverLookup, type Lookup } from './lookup.js';

export type DnsOptions = Pick<ProxyOptions, 'dnsServers' | 'dnsMinIntervalMs' | 'dnsMaxIntervalMs' | 'dnsTimeoutMs'>;

/** A name's addresses, as the primary sends them. */
export interface DnsSet {
  host: string;
  addresses: readonly string[];
}

/** A backend's `host:port`: how a pool tells its backends apart. */
export const addressName = (b: Address): string => `${b.host}:${b.port}`;

/** A pool's `dns:` entry and the name it is found through. */
export interface DnsEntry {
  backend: Address;
  name: DnsName;
}

/**
 * The backends a pool's names give now, by `host:port`: each address once (with its entry's port and
 * weight), and none that `fixed` (the pool's other backends) already has.
 */
export function discoveredBackends(entries: readonly DnsEntry[], fixed: ReadonlySet<string>): Map<string, Address> {
  const found = new Map<string, Address>();
  for (const { backend, name } of entries) {
    for (const host of name.addresses) {
      const b: Address = { host, port: backend.port, ...(backend.weight === undefined ? {} : { weight: backend.weight }) };
      const key = addressName(b);
      if (!found.has(key) && !fixed.has(key)) found.set(key, b);
    }
  }
  return found;
}

export class Discovery {
  private readonly names = new Map<string, DnsName>();
  private readonly log: EventLog | null;
  private readonly remote: boolean;
  /** The latest set for each name (remote only), for a name a reload makes later. */
  private readonly known = new Map<string, readonly string[]>();
  private timing: DnsTiming;
  private resolver: { lookup: Lookup; cancel(): void } | null = null;
  private resolverOf = '';

  constructor(log: EventLog | null, options: DnsOptions, remote = false) {
    this.log = log;
    this.remote = remote;
    this.timing = { minIntervalMs: options.dnsMinIntervalMs, maxIntervalMs: options.dnsMaxIntervalMs };
    this.reconfigure(options);
  }

  /** New options (a reload): the next lookups use them; the sets found so far stay. */
  reconfigure(options: DnsOptions): void {
    this.timing = { minIntervalMs: options.dnsMinIntervalMs, maxIntervalMs: options.dnsMaxIntervalMs };
    const of = JSON.stringify([options.dnsServers, options.dnsTimeoutMs]);
    if (this.remote || of === this.resolverOf) return;
    // A lookup in flight on the old resolver still ends (and is answered) normally.
    this.resolver = resolverLookup({ servers: options.dnsServers, timeoutMs: options.dnsTimeoutMs });
    this.resolverOf = of;
  }

  /** The name `host`, made (and its first lookup started) the first time it is asked for. */
  nameOf(host: string, now: number): DnsName {
    let name = this.names.get(host);
    if (name !== undefined) return name;
    name = new DnsName(host, this.remote ? null : this.log);
    this.names.set(host, name);
    const known = this.known.get(host);
    if (known !== undefined) name.apply(known);
    this.lookUp(name, now);
    return name;
  }

  /** Resolves when every name's first lookup has ended (answered or not); at once in a worker process. */
  async settled(): Promise<void> {
    if (!this.remote) await Promise.all([...this.names.values()].map((n) => n.first));
  }

  /** Every name's set now (the primary sends these to a worker process that starts). */
  sets(): DnsSet[] {
    return [...this.names.values()].map((n) => ({ host: n.host, addresses: n.addresses }));
  }

  /** A set from the primary. */
  apply(set: DnsSet): void {
    this.known.set(set.host, set.addresses);
    this.names.get(set.host)?.apply(set.addresses);
  }

  /** The clock's sweep: lookups that are due start; a name no pool uses any more is forgotten. */
  sweep(now: number): void {
    for (const [host, name] of this.names) {
      if (name.subscribed === 0) {
        name.stop();
        this.names.delete(host);
        this.known.delete(host);
        continue;
      }
      this.lookUp(name, now);
    }
  }

  stop(): void {
    for (const name of this.names.values()) name.stop();
    this.names.clear();
    this.resolver?.cancel();
  }

  private lookUp(name: DnsName, now: number): void {
    if (this.resolver !== null) name.sweep(now, this.resolver.lookup, this.timing);
  }
}
