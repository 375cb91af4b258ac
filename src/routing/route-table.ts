/**
 * Routes by hostname, path prefix and listening port: `match` returns the target of the first rule
 * whose every non-null condition holds; a rule with all three null matches everything (a default).
 *
 * Host: the Host header is trimmed of spaces and tabs, loses a `:port` suffix (an IPv6 literal keeps
 * its brackets: `[::1]:8080` is `[::1]`) and one trailing dot, and is lowercased; patterns are
 * normalised the same way when the table is built. `*.example.com` matches names ending in
 * `.example.com` with at least one label before it, not `example.com` itself (as nginx does).
 * IPv6 literals are compared as text.
 *
 * Target: origin-form (`/a/b?x`) has the path before `?` or `#`. Absolute-form
 * (`http://Host:8080/a/b?x`, http or https in any case) has the path after the authority, `/` when
 * empty, and the authority replaces the Host header (RFC 9112 §3.2.2). Anything else (`*`,
 * authority-form, other schemes) has no path, so only rules without a path prefix match it.
 *
 * Path: prefixes match whole segments: `/api` matches `/api`, `/api/` and `/api/v1`, not `/apiary`;
 * a prefix ending in `/` matches any path starting with it, so `/` matches every path. The
 * comparison is case-sensitive on the raw path, with no percent-decoding or dot-segment removal:
 * the backend sees the same path, and routing is not access control.
 *
 * Invariants:
 * - The constructor rejects (RangeError) patterns that hostPatternProblem or pathPrefixProblem
 *   reject, so every rule can match something.
 * - match() allocates at most the normalised host, once per call, and only when a rule needs it.
 */
import { hostPatternProblem, pathPrefixProblem } from '../options/route-patterns.js';

export interface RouteRule<T> {
  /** Exact hostname ("api.example.com") or a wildcard ("*.example.com"); null matches any host. */
  host: string | null;
  /** Path prefix starting with "/"; null matches any path. */
  pathPrefix: string | null;
  /** Listening (local) port the connection arrived on; null matches any port. */
  port: number | null;
  target: T;
}

interface CompiledRule<T> {
  /** Normalised exact host, or null. */
  host: string | null;
  /** `.example.com` for `*.example.com`, or null. */
  hostSuffix: string | null;
  pathPrefix: string | null;
  /** The prefix ends in '/', so it needs no segment boundary after it. */
  prefixEndsInSlash: boolean;
  port: number | null;
  target: T;
}

const SLASH = 0x2f;
const ABSOLUTE_FORM = /^https?:\/\//i;

export class RouteTable<T> {
  /**
   * True when some rule looks at the host: otherwise the caller may pass '' as the Host header.
   * (Whenever this is true needsPath is too, since an absolute-form target carries the host.)
   */
  readonly needsHost: boolean;
  /** True when match() reads the target (some rule looks at the path or the host): otherwise the caller may pass ''. */
  readonly needsPath: boolean;
  private readonly rules: CompiledRule<T>[];

  constructor(rules: readonly RouteRule<T>[]) {
    this.rules = rules.map((rule, i) => compile(rule, i));
    this.needsHost = rules.some((rule) => rule.host !== null);
    this.needsPath = this.needsHost || rules.some((rule) => rule.pathPrefix !== null);
  }

  /** The number of rules: 0 means match() always returns undefined. */
  get size(): number {
    return this.rules.length;
  }

  /** The first rule's target whose every given condition matches, or undefined. */
  match(hostHeader: string, target: string, port: number): T | undefined {
    // The path is path[pathStart, pathEnd), or there is none (pathStart -1).
    let path = target;
    let pathStart = -1;
    let pathEnd = -1;
    let host = '';
    if (target.charCodeAt(0) === SLASH) {
      pathStart = 0;
      pathEnd = endOfPath(target, 0);
      if (this.needsHost) host = normaliseHost(hostHeader, 0, hostHeader.length);
    } else if (ABSOLUTE_FORM.test(target)) {
      const authorityStart = target.charCodeAt(4) === 0x3a /* ':' */ ? 7 : 8;
      let authorityEnd = authorityStart;
      while (authorityEnd < target.length && !endsAuthority(target.charCodeAt(authorityEnd))) authorityEnd++;
      pathStart = authorityEnd;
      pathEnd = endOfPath(target, authorityEnd);
      if (pathStart === pathEnd) {
        path = '/';
        pathStart = 0;
        pathEnd = 1;
      }
      if (this.needsHost) {
        // Userinfo ("user@") is forbidden in http URIs, but if present it is not the host.
        const at = target.lastIndexOf('@', authorityEnd - 1);
        host = normaliseHost(target, at >= authorityStart ? at + 1 : authorityStart, authorityEnd);
      }
    } else if (this.needsHost) {
      host = normaliseHost(hostHeader, 0, hostHeader.length);
    }

    for (const rule of this.rules) {
      if (rule.port !== null && rule.port !== port) continue;
      if (rule.host !== null && rule.host !== host) continue;
      if (rule.hostSuffix !== null && !(host.length > rule.hostSuffix.length && host.endsWith(rule.hostSuffix))) continue;
      if (rule.pathPrefix !== null) {
        if (pathStart < 0) continue;
        const after = pathStart + rule.pathPrefix.length;
        if (after > pathEnd || !path.startsWith(rule.pathPrefix, pathStart)) continue;
        if (!rule.prefixEndsInSlash && after !== pathEnd && path.charCodeAt(after) !== SLASH) continue;
      }
      return rule.target;
    }
    return undefined;
  }
}

function compile<T>(rule: RouteRule<T>, index: number): CompiledRule<T> {
  const fail = (what: string, value: unknown, problem: string): never => {
    throw new RangeError(`route ${index}: ${what}: expected ${problem}, got ${JSON.stringify(value)}`);
  };
  let host: string | null = null;
  let hostSuffix: string | null = null;
  if (rule.host !== null) {
    const problem = hostPatternProblem(rule.host);
    if (problem !== null) fail('host', rule.host, problem);
    const wildcard = rule.host.startsWith('*.');
    const normal = normaliseHost(rule.host, wildcard ? 1 : 0, rule.host.length);
    if (wildcard) hostSuffix = normal;
    else host = normal;
  }
  if (rule.pathPrefix !== null) {
    const problem = pathPrefixProblem(rule.pathPrefix);
    if (problem !== null) fail('path prefix', rule.pathPrefix, problem);
  }
  if (rule.port !== null && !(Number.isInteger(rule.port) && rule.port >= 0 && rule.port <= 65535)) {
    fail('port', rule.port, 'a whole number from 0 to 65535');
  }
  return {
    host,
    hostSuffix,
    pathPrefix: rule.pathPrefix,
    prefixEndsInSlash: rule.pathPrefix !== null && rule.pathPrefix.endsWith('/'),
    port: rule.port,
    target: rule.target,
  };
}

/** text[start, end) trimmed of spaces and tabs, without a `:port` or one trailing dot, lowercased. */
function normaliseHost(text: string, start: number, end: number): string {
  while (start < end && isBlank(text.charCodeAt(start))) start++;
  while (end > start && isBlank(text.charCodeAt(end - 1))) end--;
  if (text.charCodeAt(start) === 0x5b /* '[' */) {
    const close = text.indexOf(']', start);
    if (close !== -1 && close < end) end = close + 1;
  } else {
    // A name or IPv4 address has no ':' of its own, so the first one starts the port.
    const colon = text.indexOf(':', start);
    if (colon !== -1 && colon < end) end = colon;
    if (end > start && text.charCodeAt(end - 1) === 0x2e /* '.' */) end--;
  }
  return text.slice(start, end).toLowerCase();
}

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** Where the path starting at `from` ends: the first '?' or '#', or the end of the target. */
function endOfPath(target: string, from: number): number {
  let i = from;
  while (i < target.length) {
    const c = target.charCodeAt(i);
    if (c === 0x3f || c === 0x23) break;
    i++;
  }
  return i;
}

function endsAuthority(c: number): boolean {
  return c === SLASH || c === 0x3f || c === 0x23;
}
