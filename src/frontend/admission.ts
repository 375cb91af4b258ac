/**
 * Admission: whether the proxy forwards a request whose head is complete, and where, decided from
 * the parsed head alone (no socket). In order: the request line and target (RFC 9112 §3), the
 * method and version, the framing (RFC 9112 §6), Host (RFC 9110 §7.2), the body limit, the route,
 * the client's address (through trusted proxies) and its rate limit.
 *
 * An Admission is owned by one client connection and reused for every request; it allocates only
 * when it refuses, or when a rule needs a string (a route that looks at the Host or path). A rate
 * limit shared with other worker processes may have to ask for tokens: then admit leaves the
 * request `waiting`, the connection (the limiter's waiter) is told the answer, and `leased` ends it.
 */
import type { Http1Parser } from '../http1/parser.js';
import { CODINGS_CHUNKED, CODINGS_OTHERS_THEN_CHUNKED, trimmedLength, type HeadScan } from '../http1/hop-by-hop.js';
import { RequestTarget, unknownMethodStatus, validHost } from '../http1/request-target.js';
import { ERR_HEAD_TOO_LARGE } from '../http1/parser.js';
import { METHOD_CONNECT, METHOD_TRACE } from '../http1/methods.js';
import { ProxyError } from '../errors.js';
import type { Route, Routing } from '../routing/routing.js';
import { LEASE_PENDING, type LeaseWaiter } from '../routing/client-limiter.js';
import type { TrustedProxies } from './trusted-proxies.js';

/**
 * Token buckets refill continuously: a rate limit reads the time, not the coarse clock (read only
 * when a route has a limit: a reading allocates).
 */
const exactTime = (): number => performance.now();

export interface AdmissionLimits {
  maxHeadBytes: number;
  maxBodyBytes: number;
  /** TRACE is forwarded; otherwise it gets 405 (it echoes a request's cookies back, as nginx refuses it). */
  allowTrace: boolean;
}

/** What admission reads of the proxy's current configuration (a reload replaces it). */
export interface AdmissionContext {
  limits: AdmissionLimits;
  routing: Routing;
  trustedProxies: TrustedProxies | null;
}

/**
 * The checks of the head itself: null when the proxy can forward it, else the refusal. The framing
 * llhttp accepted is otherwise one the proxy can write (framing.ts).
 */
export function checkHead(p: Http1Parser, scan: HeadScan, target: RequestTarget, limits: AdmissionLimits): ProxyError | null {
  // CONNECT (authority-form, a tunnel to anywhere) is a forward proxy's business, not this one's.
  if (p.method === METHOD_CONNECT) return new ProxyError('PRX_ERR_NOT_IMPLEMENTED', 'CONNECT is not supported');
  if (target.read(p) !== 0) return new ProxyError('PRX_ERR_REQUEST_LINE', target.reason);
  // HTTP/1.x above 1.1 is answered as 1.1 (RFC 9110 §6.2); other majors (0.9, 2, 3) are not spoken here.
  if (p.versionMajor !== 1) return new ProxyError('PRX_ERR_VERSION', `HTTP/${p.versionMajor}.${p.versionMinor} is not supported`);
  if (p.method === METHOD_TRACE && !limits.allowTrace) return new ProxyError('PRX_ERR_METHOD_NOT_ALLOWED', 'TRACE is not allowed');
  if (scan.hasTransferEncoding) {
    // RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
    if (p.versionMinor === 0) return new ProxyError('PRX_ERR_FRAMING', 'Transfer-Encoding in an HTTP/1.0 request');
    const codings = scan.transferCodings(p);
    if (codings === CODINGS_OTHERS_THEN_CHUNKED) return new ProxyError('PRX_ERR_NOT_IMPLEMENTED', 'a transfer coding other than chunked');
    if (codings !== CODINGS_CHUNKED || !p.chunked) return new ProxyError('PRX_ERR_FRAMING', 'a Transfer-Encoding that does not end in one chunked');
  }
  // RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host; an HTTP/1.0 one at most one.
  if (scan.hostCount > 1) return new ProxyError('PRX_ERR_HOST', 'more than one Host header');
  if (scan.hostIndex < 0) {
    if (p.versionMinor !== 0) return new ProxyError('PRX_ERR_HOST', 'no Host header');
  } else {
    const start = p.valueStart(scan.hostIndex);
    if (!validHost(p.head, start, trimmedLength(p.head, start, p.valueLength(scan.hostIndex)))) {
      return new ProxyError('PRX_ERR_HOST', 'a Host that is not host[:port]');
    }
  }
  if (p.contentLength > limits.maxBodyBytes) return new ProxyError('PRX_ERR_BODY_TOO_LARGE', 'Content-Length over the body limit');
  return null;
}

/**
 * The refusal for a request llhttp could not parse (RFC 9112 §2.2, §6.1, §6.3). Too large is URI Too
 * Long when the limit was crossed in the request line or the target alone is over it; an unknown
 * method is 501 only in a well-formed request line (judged on what arrived of it), else 400.
 */
export function parseRefusal(p: Http1Parser, maxHeadBytes: number): ProxyError {
  const why = `${p.errorName}: ${p.errorReason}`;
  if (p.errorCode === ERR_HEAD_TOO_LARGE) {
    return p.headerCount === 0 || p.urlLength > maxHeadBytes
      ? new ProxyError('PRX_ERR_URI_TOO_LONG', why)
      : new ProxyError('PRX_ERR_HEAD_TOO_LARGE', why);
  }
  if (p.errorName === 'HPE_INVALID_METHOD' && unknownMethodStatus(p.headSoFar) === 501) {
    return new ProxyError('PRX_ERR_NOT_IMPLEMENTED', 'a method the proxy does not know');
  }
  return new ProxyError('PRX_ERR_PARSE', why);
}

/** The connection a request arrived on. */
export interface Peer {
  /** The TCP peer's address. */
  readonly address: string;
  /** The listening port the connection arrived on (routes may match it). */
  readonly port: number;
}

export class Admission {
  readonly target = new RequestTarget();
  /** After admit(): where the request goes. */
  route: Route | null = null;
  /** After admit(): the client's address, the peer's or, behind trusted proxies, the one X-Forwarded-For names. */
  client: string;
  /** Seconds until the client may try again, after a 429. */
  retryAfter = 0;
  /** After admit(): the rate limiter is asking for tokens; `leased` gives the outcome. */
  waiting = false;
  /** The TCP peer (kept as two fields: the object it came in is not held by every idle connection). */
  readonly peerAddress: string;
  private readonly peerPort: number;
  /** Told when a waiting request's tokens come (the connection). */
  private readonly waiter: LeaseWaiter;
  /** Where a waiting request goes once admitted. */
  private waitingRoute: Route | null = null;
  /** The trusted-proxy list `behindProxy` was worked out for (a reload may replace it). */
  private trustedSeen: TrustedProxies | null = null;
  private behindProxy = false;

  constructor(peer: Peer, waiter: LeaseWaiter) {
    this.peerAddress = peer.address;
    this.peerPort = peer.port;
    this.waiter = waiter;
    this.client = peer.address;
  }

  /**
   * Null: forward the request to `route` for `client`, or when `waiting`, once `leased` says so.
   * Else the refusal (the proxy answers it).
   */
  admit(p: Http1Parser, scan: HeadScan, context: AdmissionContext, readTime: () => number = exactTime): ProxyError | null {
    this.route = null;
    this.waiting = false;
    this.client = this.peerAddress;
    const refused = checkHead(p, scan, this.target, context.limits);
    if (refused !== null) return refused;
    const route = this.routeOf(p, scan, context.routing);
    if (route === null) return new ProxyError('PRX_ERR_NO_ROUTE', 'no route matches the request');
    this.client = this.clientOf(p, scan, context.trustedProxies);
    if (route.rateLimiter !== null) {
      const wait = route.rateLimiter.take(this.client, readTime(), this.waiter);
      if (wait === LEASE_PENDING) {
        this.waiting = true;
        this.waitingRoute = route;
        return null;
      }
      if (wait > 0) return this.limited(wait);
    }
    this.route = route;
    return null;
  }

  /** A waiting request's outcome (what its limiter told the waiter): null, forward it to `route`; else the 429. */
  leased(retryAfter: number): ProxyError | null {
    this.waiting = false;
    const route = this.waitingRoute;
    this.waitingRoute = null;
    if (retryAfter > 0) return this.limited(retryAfter);
    this.route = route;
    return null;
  }

  private limited(retryAfter: number): ProxyError {
    this.retryAfter = retryAfter;
    return new ProxyError('PRX_ERR_RATE_LIMITED', 'over the rate limit');
  }

  /** The route under the current routing; strings are made only for rules that look at them. */
  private routeOf(p: Http1Parser, scan: HeadScan, routing: Routing): Route | null {
    const table = routing.table;
    if (table.size === 0) return routing.fallback;
    const target = this.target;
    // An absolute-form target's authority is the host (RFC 9112 §3.2.2).
    let host = '';
    if (table.needsHost) {
      if (target.authorityStart >= 0) host = p.head.toString('latin1', target.authorityStart, target.authorityEnd);
      else if (scan.hostIndex >= 0) host = p.head.toString('latin1', p.valueStart(scan.hostIndex), p.valueStart(scan.hostIndex) + p.valueLength(scan.hostIndex));
    }
    const path = table.needsPath ? (target.slash ? '/' : '') + p.head.toString('latin1', target.start, target.end) : '';
    return routing.route(host, path, this.peerPort);
  }

  /** The peer, or when it is a trusted proxy the client X-Forwarded-For names, as far as trusted hops vouch for it. */
  private clientOf(p: Http1Parser, scan: HeadScan, trusted: TrustedProxies | null): string {
    if (trusted !== this.trustedSeen) {
      this.trustedSeen = trusted;
      this.behindProxy = trusted?.isTrusted(this.peerAddress) ?? false;
    }
    if (!this.behindProxy || trusted === null) return this.peerAddress;
    const values = scan.forwardedFor.map((i) => p.head.toString('latin1', p.valueStart(i), p.valueStart(i) + p.valueLength(i)));
    return trusted.clientAddress(this.peerAddress, values.join(', '));
  }
}
