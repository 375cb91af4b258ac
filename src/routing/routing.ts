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
import { LeasedRateLimiter } from './leased-rate-limiter.js';
import { limitersOf } from './rate-limits.js';
import type { ClientLimiter, LeaseSource } from './client-limiter.js';
import { RouteTable } from './route-table.js';
import type { Chan } from '../csp/chan.js';
import type { Job } from '../exchange/job.js';
import { DEFAULT_POOL, type PoolOptions, type ProxyOptions } from '../options/options.js';

export interface Route {
  /** Where the request is sent (a Pool, or any work channel in benchmarks). */
  pool: { readonly work: Chan<Job> };
  /** Null: no rate limit on this route. */
  rateLimiter: ClientLimiter | null;
}

export class Routing {
  readonly table: RouteTable<Route>;
  /** Where requests no route matches go; null: they get 404. */
  readonly fallback: Route | null;
  readonly pools: ReadonlyMap<string, Pool>;
  /** Every rate limiter of this configuration, to sweep. */
  readonly rateLimiters: readonly ClientLimiter[];

  private constructor(table: RouteTable<Route>, fallback: Route | null, pools: Map<string, Pool>, limiters: ClientLimiter[]) {
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
   * are not started: the caller starts them when it swaps the routing in. With `leases` (a worker
   * process), rate limits spend tokens leased from the primary's buckets; without, the buckets are here.
   */
  static build(options: ProxyOptions, previous: Routing | null, services: PoolServices, leases: LeaseSource | null = null): Routing {
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
    const limiters = limitersOf<ClientLimiter>(options, (buckets, name) =>
      leases === null ? new RateLimiter(buckets, name) : new LeasedRateLimiter(buckets, name, leases));
    const rules = options.routes.map((r, i) => {
      const pool = pools.get(r.pool);
      if (pool === undefined) throw new Error(`route to pool "${r.pool}", which is not defined`); // withDefaults refuses such options
      return {
        host: r.host,
        pathPrefix: r.pathPrefix,
        port: r.port,
        target: { pool, rateLimiter: limiters.routes[i] ?? null },
      };
    });
    const defaultPool = pools.get(DEFAULT_POOL);
    const fallback = defaultPool === undefined ? null : { pool: defaultPool, rateLimiter: limiters.shared };
    return new Routing(new RouteTable(rules), fallback, pools, limiters.all);
  }
}

/** The named pools, and the default pool when `backends` are given. */
export function poolDefinitions(options: ProxyOptions): PoolOptions[] {
  const defined = [...options.pools];
  if (options.backends.length > 0) defined.push({ name: DEFAULT_POOL, backends: options.backends, policy: options.policy });
  return defined;
}


/** The shortest time between two lookups of a `dns:` backend's name (clock.ts's tick); Infinity with none. */
export function dnsInterval(options: ProxyOptions): number {
  return poolDefinitions(options).some((pool) => pool.backends.some((b) => b.dns === true)) ? options.dnsMinIntervalMs : Infinity;
}
