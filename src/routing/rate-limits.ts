/**
 * The rate limiters a configuration sets, and their names: `*` the proxy-wide one, which every route
 * without a limit of its own shares (one bucket per client across them), and one per route with its
 * own limit, named by its place and match. Routing.build makes the limiters a process admits with;
 * rateLimitersOf makes the authoritative ones a primary holds for its workers, under the same names.
 */
import { RateLimiter, type RateLimitOptions as Buckets } from './rate-limiter.js';
import type { ProxyOptions, RateLimitOptions, RouteOptions } from '../options/options.js';

export interface Limiters<L> {
  /** The proxy-wide limiter; null: none. */
  shared: L | null;
  /** Each route's limiter, in the routes' order: its own, or `shared`. */
  routes: (L | null)[];
  /** Every limiter made. */
  all: L[];
}

/** The limiters `options` set, each made by `make` from its bucket settings and name. */
export function limitersOf<L>(options: ProxyOptions, make: (buckets: Buckets, name: string) => L): Limiters<L> {
  const all: L[] = [];
  const limiter = (limit: RateLimitOptions, name: string): L | null => {
    if (limit.rate <= 0) return null;
    const made = make({
      rate: limit.rate,
      burst: limit.burst > 0 ? limit.burst : Math.max(1, Math.ceil(limit.rate)),
      maxClients: options.rateLimitClients,
    }, name);
    all.push(made);
    return made;
  };
  const shared = limiter({ rate: options.rateLimit, burst: options.rateBurst }, '*');
  const routes = options.routes.map((r, i) => (r.rateLimit === null ? shared : limiter(r.rateLimit, routeName(r, i))));
  return { shared, routes, all };
}

/** Each limiter's bucket settings by name: what a shared store (Redis) keeps buckets by. */
export function bucketLimitsOf(options: ProxyOptions): Map<string, Buckets> {
  return new Map(limitersOf(options, (buckets, name) => [name, buckets] as const).all);
}

/** The authoritative limiters of `options` by name, for a primary to lease their tokens to its workers. */
export function rateLimitersOf(options: ProxyOptions): Map<string, RateLimiter> {
  return new Map(limitersOf(options, (buckets, name) => new RateLimiter(buckets, name)).all.map((l) => [l.name, l]));
}

/** A route as the metrics label it: its place in the list and what it matches (`2 api.example.com/v1 :8081`). */
function routeName(r: RouteOptions, index: number): string {
  const match = `${r.host ?? ''}${r.pathPrefix ?? ''}${r.port === null ? '' : ` :${r.port}`}`;
  return `${index + 1} ${match === '' ? 'any' : match}`.trim();
}
