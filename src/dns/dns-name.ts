/**
 * One name that `dns:NAME:PORT` backends are found through: its last good set of addresses, when it
 * is looked up next, and who is told when the set changes.
 *
 * Invariants:
 * - At most one lookup of the name is in flight; the next is due the records' TTL after an answer,
 *   bounded by `minIntervalMs` and `maxIntervalMs` (HAProxy's `hold valid` is a fixed interval;
 *   Caddy's dynamic upstreams follow the TTL: this follows it within bounds), or `minIntervalMs`
 *   after a failure or an empty answer.
 * - A failure and an empty answer (NXDOMAIN, NODATA) both keep the last good set: a DNS outage or a
 *   mistaken zone must not empty a pool (a backend really gone is taken out by the health checks).
 * - The error log hears of each change of state (answering, failing, empty) and of each change of
 *   the set, never once per attempt.
 */
import type { EventLog } from '../log/event-log.js';
import type { Answer, Lookup } from './lookup.js';

export interface DnsSubscriber {
  addressesChanged(name: DnsName): void;
}

export interface DnsTiming {
  minIntervalMs: number;
  maxIntervalMs: number;
}

type State = 'new' | Answer['kind'];

export class DnsName {
  readonly host: string;
  /** The last good answer's addresses, sorted; empty until the first. */
  addresses: readonly string[] = [];
  private readonly subscribers = new Set<DnsSubscriber>();
  private readonly log: EventLog | null;
  private state: State = 'new';
  private nextAt = -Infinity;
  private inFlight = false;
  private stopped = false;
  /** Resolved when the first lookup has ended, whatever its outcome. */
  readonly first: Promise<void>;
  private firstEnded: () => void = () => {};

  constructor(host: string, log: EventLog | null) {
    this.host = host;
    this.log = log;
    this.first = new Promise((resolve) => {
      this.firstEnded = resolve;
    });
  }

  get subscribed(): number {
    return this.subscribers.size;
  }

  subscribe(s: DnsSubscriber): void {
    this.subscribers.add(s);
  }

  unsubscribe(s: DnsSubscriber): void {
    this.subscribers.delete(s);
  }

  /** Starts a lookup if one is due and none is in flight (the clock's sweep, and a name's creation). */
  sweep(now: number, lookup: Lookup, timing: DnsTiming): void {
    if (this.inFlight || now < this.nextAt) return;
    this.inFlight = true;
    void lookup(this.host).then((answer) => {
      this.inFlight = false;
      if (!this.stopped) this.answered(answer, performance.now(), timing);
    });
  }

  /** No pool uses the name any more (or the proxy is closing): a lookup in flight is ignored. */
  stop(): void {
    this.stopped = true;
  }

  /** A set found elsewhere (the primary process looks names up for its workers). */
  apply(addresses: readonly string[]): void {
    this.state = 'addresses';
    this.firstEnded();
    this.change(addresses);
  }

  private answered(answer: Answer, now: number, { minIntervalMs, maxIntervalMs }: DnsTiming): void {
    const was = this.state;
    this.state = answer.kind;
    this.firstEnded();
    if (answer.kind === 'addresses') {
      this.nextAt = now + Math.min(maxIntervalMs, Math.max(minIntervalMs, answer.ttlSeconds * 1000));
      if (was !== 'addresses' && was !== 'new') this.log?.info('dns_answering', `DNS answers for ${this.host} again`, { name: this.host });
      this.change(answer.addresses);
      return;
    }
    this.nextAt = now + minIntervalMs;
    if (was === answer.kind) return;
    const kept = this.addresses.length === 0 ? 'no backends from it yet' : `keeping its ${this.addresses.length} addresses`;
    if (answer.kind === 'empty') {
      this.log?.warn('dns_empty', `DNS has no addresses for ${this.host} (${answer.why}): ${kept}`, { name: this.host, reason: answer.why });
    } else {
      this.log?.error('dns_failed', `DNS lookup of ${this.host} failed (${answer.why}): ${kept}`, { name: this.host, reason: answer.why });
    }
  }

  private change(addresses: readonly string[]): void {
    const before = this.addresses;
    if (addresses.length === before.length && addresses.every((a, i) => a === before[i])) return;
    this.addresses = addresses;
    const added = addresses.filter((a) => !before.includes(a));
    const removed = before.filter((a) => !addresses.includes(a));
    this.log?.info('dns_changed', `DNS for ${this.host}: ${addresses.length} addresses (added ${added.join(' ') || 'none'}; removed ${removed.join(' ') || 'none'})`,
      { name: this.host, added, removed });
    for (const s of this.subscribers) s.addressesChanged(this);
  }
}
