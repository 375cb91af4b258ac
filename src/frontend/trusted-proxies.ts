/**
 * Trust X-Forwarded-For from listed proxy addresses only. The client address (for per-client rate
 * limiting and the access log) is the TCP peer, unless the peer is a configured trusted proxy (a CDN,
 * another load balancer in front): then it comes from X-Forwarded-For.
 *
 * Rules:
 * - Trusted proxies are IPv4/IPv6 addresses or CIDR subnets ("10.0.0.0/8", "2001:db8::/32",
 *   "127.0.0.1"). A bad entry is a TrustedProxyError when the config is read, never at request time.
 * - An untrusted peer's X-Forwarded-For is ignored: a client can write anything there.
 * - From a trusted peer, the list is walked from the right (each hop appends the address it saw),
 *   skipping trusted proxies; the first untrusted entry is the client. If all are trusted, the
 *   leftmost one is; if the list is empty, the peer is.
 * - An entry that is not an IP address ("unknown", an obfuscated identifier, garbage) stops the walk:
 *   the answer is the trusted hop to its right, which reported it, never the garbage.
 * - Entries may carry optional whitespace, a port ("1.2.3.4:80", "[2001:db8::1]:443") or brackets;
 *   these are dropped. IPv4-mapped IPv6 ("::ffff:1.2.3.4") counts as its IPv4 address, both when
 *   checking trust and in the address returned. Addresses come back in one canonical form (dotted
 *   IPv4, compressed lowercase IPv6), so one client is one rate-limit bucket however it is spelt.
 * - Bounded work per request: at most the last MAX_HOPS (32) entries are looked at, and an entry
 *   longer than any address with port (MAX_ENTRY) is garbage without being parsed.
 */
import { BlockList, SocketAddress, isIP } from 'node:net';
import { parseAddressOrSubnet } from '../options/address-or-subnet.js';

/** A client can send a header of any length; only this many entries from the right are examined. */
const MAX_HOPS = 32;
const MAX_ENTRY = 64;

export class TrustedProxyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrustedProxyError';
  }
}

export class TrustedProxies {
  private constructor(
    private readonly list: BlockList,
    readonly size: number,
  ) {}

  /** Entries are IPv4/IPv6 addresses or CIDR subnets; throws TrustedProxyError for a bad entry. */
  static parse(entries: readonly string[]): TrustedProxies {
    const list = new BlockList();
    for (const entry of entries) {
      const parsed = parseAddressOrSubnet(entry);
      if (typeof parsed === 'string') throw new TrustedProxyError(parsed);
      if (parsed.prefix === null) list.addAddress(parsed.address, parsed.type);
      else list.addSubnet(parsed.address, parsed.prefix, parsed.type);
    }
    return new TrustedProxies(list, entries.length);
  }

  /** Whether a TCP peer address (as socket.remoteAddress gives it) is a trusted proxy. */
  isTrusted(peer: string): boolean {
    const address = canonical(peer);
    return address !== undefined && this.trusts(address);
  }

  /**
   * The client address for a request from `peer` whose X-Forwarded-For values, joined with ", ",
   * are `forwardedFor` ('' when there are none).
   */
  clientAddress(peer: string, forwardedFor: string): string {
    if (!this.isTrusted(peer)) return peer;
    // The hop that reported the entry being looked at: the peer, then each trusted entry in turn.
    let reporter = peer;
    // Walk from the right with lastIndexOf rather than split, so a huge header costs only MAX_HOPS entries.
    let end = forwardedFor.length;
    for (let hops = 0; hops < MAX_HOPS && end >= 0; hops++) {
      const comma = end > 0 ? forwardedFor.lastIndexOf(',', end - 1) : -1;
      // Trimmed by hand: a regex like /[ \t]+$/ is quadratic on a long run of spaces.
      let start = comma + 1;
      let stop = end;
      while (start < stop && isOws(forwardedFor.charCodeAt(start))) start++;
      while (stop > start && isOws(forwardedFor.charCodeAt(stop - 1))) stop--;
      end = comma;
      if (start === stop) continue; // empty list elements are allowed and ignored (RFC 9110 5.6.1)
      // No address with port is this long ("[" + 45 + "]:65535"); don't feed a huge one to isIP.
      const address = stop - start > MAX_ENTRY ? undefined : forwardedAddress(forwardedFor.slice(start, stop));
      if (address === undefined) return reporter;
      if (!this.trusts(address)) return address;
      reporter = address;
    }
    return reporter;
  }

  private trusts(address: string): boolean {
    return this.list.check(address, isIP(address) === 4 ? 'ipv4' : 'ipv6');
  }
}

/** Optional whitespace: space or tab. */
function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** One X-Forwarded-For entry without brackets or port, canonical; undefined if it is not an IP address. */
function forwardedAddress(entry: string): string | undefined {
  if (entry.startsWith('[')) {
    // "[v6]" or "[v6]:port"
    const close = entry.indexOf(']');
    const rest = entry.slice(close + 1);
    if (close === -1 || (rest !== '' && !/^:\d{1,5}$/.test(rest))) return undefined;
    const address = entry.slice(1, close);
    return isIP(address) === 6 ? canonical(address) : undefined;
  }
  const colon = entry.indexOf(':');
  // A single colon can only be IPv4 with a port: IPv6 has at least two.
  if (colon !== -1 && entry.indexOf(':', colon + 1) === -1) {
    const address = entry.slice(0, colon);
    return isIP(address) === 4 && /^\d{1,5}$/.test(entry.slice(colon + 1)) ? address : undefined;
  }
  return canonical(entry);
}

/** The canonical text of an IP address, IPv4-mapped IPv6 as IPv4; undefined if it is not one. */
function canonical(address: string): string | undefined {
  const family = isIP(address);
  // node's isIP takes IPv4 only as dotted decimal without leading zeros, which is already canonical.
  if (family === 4) return address;
  if (family !== 6) return undefined;
  // SocketAddress prints the address back through inet_ntop: compressed, lowercase, zone id dropped.
  const text = new SocketAddress({ address, family: 'ipv6' }).address;
  const v4 = text.startsWith('::ffff:') ? text.slice(7) : '';
  return isIP(v4) === 4 ? v4 : text;
}
