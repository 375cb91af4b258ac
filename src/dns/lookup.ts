/**
 * One lookup of a name: its A and AAAA records at once, through node:dns's Resolver (c-ares: never
 * blocks the event loop, unlike dns.lookup, which takes a thread of libuv's small pool).
 *
 * The outcome is one of three: addresses (with the shortest TTL among them), no records (NXDOMAIN,
 * or NODATA for both families), or a failure (timeout, refused, SERVFAIL, ...). A name with records
 * in one family only is an answer; a failure in either family fails the whole lookup, so a transient
 * AAAA timeout does not drain every IPv6 backend.
 */
import { Resolver } from 'node:dns/promises';

export type Answer =
  | { kind: 'addresses'; addresses: string[]; ttlSeconds: number }
  | { kind: 'empty'; why: string }
  | { kind: 'failed'; why: string };

/** Looks a name up; never rejects. */
export type Lookup = (host: string) => Promise<Answer>;

export interface ResolverOptions {
  /** `IP` or `IP:PORT` ([v6]:PORT); empty: the system's. */
  servers: readonly string[];
  timeoutMs: number;
}

/** Errors that mean "no such records" rather than "no answer". */
const NO_RECORDS = new Set(['ENOTFOUND', 'ENODATA']);

type Family = { records: { address: string; ttl: number }[] } | { code: string };

/** A lookup function over a Resolver for `options`, and a way to cancel what it has in flight. */
export function resolverLookup(options: ResolverOptions): { lookup: Lookup; cancel(): void } {
  // One try: a lost packet fails this lookup, and the next comes after dns.min_interval, the last set kept meanwhile.
  const resolver = new Resolver({ timeout: options.timeoutMs, tries: 1 });
  if (options.servers.length > 0) resolver.setServers([...options.servers]);
  const family = (query: Promise<{ address: string; ttl: number }[]>): Promise<Family> =>
    query.then((records) => ({ records }), (err: NodeJS.ErrnoException) => ({ code: err.code ?? err.message }));
  const lookup: Lookup = async (host) => {
    const both = await Promise.all([family(resolver.resolve4(host, { ttl: true })), family(resolver.resolve6(host, { ttl: true }))]);
    const failed = both.find((f): f is { code: string } => 'code' in f && !NO_RECORDS.has(f.code));
    if (failed !== undefined) return { kind: 'failed', why: failed.code };
    const records = both.flatMap((f) => ('records' in f ? f.records : []));
    if (records.length === 0) {
      const codes = both.map((f) => ('code' in f ? f.code : 'no records'));
      return { kind: 'empty', why: codes.includes('ENOTFOUND') ? 'NXDOMAIN' : 'no A or AAAA records' };
    }
    const addresses = [...new Set(records.map((r) => r.address))].sort();
    return { kind: 'addresses', addresses, ttlSeconds: Math.min(...records.map((r) => r.ttl)) };
  };
  return { lookup, cancel: () => resolver.cancel() };
}
