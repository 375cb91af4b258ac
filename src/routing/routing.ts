/**
 * What a request goes to: the route table (host, path prefix, listening port; first match wins),
 * each route's pool and rate limiter, and the default route to the pool named `default`.
 *
 * A Routing is immutable once built; a reload builds a new one and swaps it in, so a request is
 * routed by exactly one configuration. Pools whose definition is unchanged are carried over from
 * the previous Routing (connections, pending counts and health state go on); the others are new.
 */
import { Pool, poolKey, type PoolServices } from '../balancer/pool.js';
import { RateLimiter } from './rate-limiter.js';
import { RouteTable } from './route-table.js';
import type { Chan } from '../csp/chan.js';
import type { Job } from '../exchange/job.js';
import { DEFAULT_POOL, type PoolOptions, type ProxyOptions, type RateLimitOptions, type RouteOptions } from '../options/options.js';

export interface Route {
  /** Where the request is sent (a Pool, or any work channel in benchmarks). */
  pool: { readonly work: Chan<Job> };
  /** Null: no rate limit on this route. */
  rateLimiter: RateLimiter | null;
}

export class Routing {
  readonly table: RouteTable<Route>;
  /** Where requests no route matches go; null: they get 404. */
  readonly fallback: Route | null;
  readonly pools: ReadonlyMap<string, Pool>;
  /** Every rate limiter of this configuration, to sweep. */
  readonly rateLimiters: readonly RateLimiter[];

  private constructor(table: RouteTable<Route>, fallback: Route | null, pools: Map<string, Pool>, limiters: RateLimiter[]) {
    this.table = table;
    this.fallback = fallback;
    this.pools = pools;
    this.rateLimiters = limiters;
  }

  /** Whether `pool` is one of this routing's pools (the same object, not only the same name). */
  has(pool: Pool): boolean {
    return this.pools.get(pool.name) === pool;
  }

  /** The route for a request; '' may be passed for the host or target when the table does not need it. */
  route(hostHeader: string, target: string, port: number): Route | null {
    return this.table.match(hostHeader, target, port) ?? this.fallback;
  }

  /** Every request to `work`, no rate limit: for benchmarks that wire a balancer by hand. */
  static fixed(work: Chan<Job>): Routing {
    return Routing.of(new RouteTable<Route>([]), { pool: { work }, rateLimiter: null });
  }

  /** A routing of `table` and `fallback` alone, with no pools of its own (tests and benchmarks). */
  static of(table: RouteTable<Route>, fallback: Route | null): Routing {
    return new Routing(table, fallback, new Map(), []);
  }

  /**
   * Builds the routing `options` describe, reusing `previous`'s pools that are unchanged. New pools
   * are not started: the caller starts them when it swaps the routing in.
   */
  static build(options: ProxyOptions, previous: Routing | null, services: PoolServices): Routing {
    const pools = new Map<string, Pool>();
    for (const definition of poolDefinitions(options)) {
      const old = previous?.pools.get(definition.name);
      if (old !== undefined && old.key === poolKey(definition, options)) {
        pools.set(definition.name, old);
        continue;
      }
      // A backend the old pool of that name did not have slow-starts (when the pool has slow start).
      const before = old === undefined ? null : new Set(old.workers.map((w) => w.name));
      pools.set(definition.name, new Pool(definition, options, services, before));
    }
    const limiters: RateLimiter[] = [];
    const limiter = (limit: RateLimitOptions, name: string): RateLimiter | null => {
      if (limit.rate <= 0) return null;
      const made = new RateLimiter({
        rate: limit.rate,
        burst: limit.burst > 0 ? limit.burst : Math.max(1, Math.ceil(limit.rate)),
        maxClients: options.rateLimitClients,
      }, name);
      limiters.push(made);
      return made;
    };
    // Routes without a limit of their own share the proxy-wide one (one bucket per client across them).
    const shared = limiter({ rate: options.rateLimit, burst: options.rateBurst }, '*');
    const rules = options.routes.map((r, i) => {
      const pool = pools.get(r.pool);
      if (pool === undefined) throw new Error(`route to pool "${r.pool}", which is not defined`); // withDefaults refuses such options
      return {
        host: r.host,
        pathPrefix: r.pathPrefix,
        port: r.port,
        target: { pool, rateLimiter: r.rateLimit === null ? shared : limiter(r.rateLimit, routeName(r, i)) },
      };
    });
    const defaultPool = pools.get(DEFAULT_POOL);
    const fallback = defaultPool === undefined ? null : { pool: defaultPool, rateLimiter: shared };
    return new Routing(new RouteTable(rules), fallback, pools, limiters);
  }
}

/** A route as the metrics label it: its place in the list and what it matches (`2 api.example.com/v1 :8081`). */
function routeName(r: RouteOptions, index: number): string {
  const match = `${r.host ?? ''}${r.pathPrefix ?? ''}${r.port === null ? '' : ` :${r.port}`}`;
  return `${index + 1} ${match === '' ? 'any' : match}`.trim();
}

/** The named pools, and the default pool when `backends` are given. */
export function poolDefinitions(options: ProxyOptions): PoolOptions[] {
  const defined = [...options.pools];
  if (options.backends.length > 0) defined.push({ name: DEFAULT_POOL, backends: options.backends, policy: options.policy });
  return defined;
}

