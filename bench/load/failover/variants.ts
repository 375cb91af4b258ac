// The rows of the tables: a proxy and its settings. A plain row is the proxy with compare's
// configuration (bench/load/compare/targets.ts) and its default failover behaviour; a "+" row adds
// what that proxy needs to fail over like the others in a scenario.
import { startProxy, type Target, type TargetName } from '../compare/targets.js';
import { DIST } from '../compare/driver.js';

export type Peer = Extract<TargetName, 'chanlb' | 'nginx' | 'haproxy'>;

export interface Variant {
  readonly label: string;
  readonly peer: Peer;
  /** chanlb flags, or lines for nginx's `location /` or HAProxy's `backend` section. */
  readonly extra: readonly string[];
}

/** What a scenario sets for every row of a peer (its timeouts), before the row's own extra. */
export type PeerSettings = Partial<Record<Peer, readonly string[]>>;

export const CHANLB: Variant = { label: 'chanlb', peer: 'chanlb', extra: [] };
export const CHANLB_503: Variant = { label: 'chanlb --retry-on …,503', peer: 'chanlb', extra: ['--retry-on', 'connect-failure,reset,503'] };
export const NGINX: Variant = { label: 'nginx', peer: 'nginx', extra: [] };
export const NGINX_503: Variant = { label: 'nginx + http_503', peer: 'nginx', extra: ['proxy_next_upstream error timeout http_503;'] };
export const HAPROXY: Variant = { label: 'haproxy', peer: 'haproxy', extra: [] };
export const HAPROXY_RETRY: Variant = {
  label: 'haproxy + redispatch, retry-on',
  peer: 'haproxy',
  extra: ['option redispatch', 'retry-on all-retryable-errors'],
};

/**
 * Without health checks the redispatched retry can land on the other dead server: failing fast, it
 * holds the fewest connections, so leastconn prefers it.
 */
export const HAPROXY_CHECK: Variant = {
  label: 'haproxy + redispatch, retry-on, check',
  peer: 'haproxy',
  extra: [...HAPROXY_RETRY.extra, 'default-server check'],
};

/** The four rows most scenarios show. */
export const DEFAULT_ROWS: readonly Variant[] = [CHANLB, NGINX, HAPROXY, HAPROXY_RETRY];
/** Those and HAProxy with health checks, where backends are dead (in the others the checks pass). */
export const DEAD_BACKEND_ROWS: readonly Variant[] = [...DEFAULT_ROWS, HAPROXY_CHECK];

/** The row's proxy in front of `ports` on 127.0.0.1, listening once this resolves. */
export function startVariant(variant: Variant, settings: PeerSettings, ports: readonly number[], tmp: string): Promise<Target> {
  const upstreams = ports.map((p) => `127.0.0.1:${p}`);
  return startProxy(variant.peer, { dist: DIST, tmp }, upstreams, [...(settings[variant.peer] ?? []), ...variant.extra]);
}
