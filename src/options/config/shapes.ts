/**
 * The config's lists and tables, read by hand: frontends, backends with weights, pools, routes with
 * their own rate limits, trusted proxies. Each reader checks one top-level key's value.
 */
import { addressOrSubnet, backendAddress, choice, listenAddress, policy, type ScalarKind } from '../kinds.js';
import { DEFAULT_POOL, POOL_SETTINGS, type Address, type Listener, type PoolOptions, type PoolSettings, type RouteOptions } from '../options.js';
import { loadCertificate, TLS_VERSIONS, type ListenerTls, type TlsCertificate } from '../tls-files.js';
import { LISTENER_MODES } from '../vocabulary.js';
import { OptionError } from '../values.js';
import { hostPatternProblem, pathPrefixProblem } from '../route-patterns.js';
import { OPTIONS, type HandKey, type ProxyOptions } from '../schema.js';
import type { Path } from './config-error.js';
import { describe, isTable, type Checker, type Table } from './check.js';

/** What a reader may consult besides its own value: the whole file, and the options read before it. */
export interface Context {
  doc: Table;
  options: Partial<ProxyOptions>;
}
export type Reader<K extends keyof ProxyOptions> = (c: Checker, path: Path, value: unknown, context: Context) => ProxyOptions[K];

const POOL_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** One "HOST:PORT" string. */
function address(c: Checker, path: Path, value: unknown, kind: ScalarKind<Address>): Address {
  if (typeof value !== 'string') return c.fail(path, 'a "HOST:PORT" string', describe(value));
  return c.value(path, value, kind);
}

const listen: Reader<'listen'> = (c, path, value, { doc }) => {
  if (typeof value === 'string') return [address(c, path, value, listenAddress)];
  if (!Array.isArray(value) || value.length === 0) return c.fail(path, 'a "HOST:PORT" string or a non-empty list of them', describe(value));
  return value.map((entry: unknown, i): Listener => {
    const at = [...path, i];
    if (typeof entry === 'string') return address(c, at, entry, listenAddress);
    const t = c.table(at, entry, ['address', 'tls', 'mode', 'pool']);
    if (t.address === undefined) c.fail(at, 'an "address" key', 'none');
    const listener: Listener = address(c, [...at, 'address'], t.address, listenAddress);
    if (t.tls !== undefined) listener.tls = listenerTls(c, [...at, 'tls'], t.tls, doc);
    if (t.mode !== undefined) listener.mode = c.value([...at, 'mode'], t.mode, listenerMode);
    if (t.pool !== undefined) {
      const known = [...(isTable(doc.pools) ? Object.keys(doc.pools) : []), ...(doc.backends !== undefined ? [DEFAULT_POOL] : [])];
      if (typeof t.pool !== 'string' || !known.includes(t.pool)) c.fail([...at, 'pool'], `one of the pools ${known.join(', ')}`, describe(t.pool));
      if (listener.mode !== 'tcp') c.fail([...at, 'pool'], 'a pool only beside mode: tcp (HTTP listeners are routed by routes)', describe(t.pool), 'key');
      listener.pool = t.pool as string;
    }
    return listener;
  });
};

const tlsVersion = choice(TLS_VERSIONS);
const listenerMode = choice(LISTENER_MODES);

/** `tls: { certificates: [{ cert, key }, ...], min_version }`: each file read and checked now. */
function listenerTls(c: Checker, at: Path, value: unknown, doc: Table): ListenerTls {
  const t = c.table(at, value, ['certificates', 'min_version']);
  if (!Array.isArray(t.certificates) || t.certificates.length === 0) {
    return c.fail([...at, 'certificates'], 'a non-empty list of { cert, key } (PEM files; the first is the default)', describe(t.certificates));
  }
  const certificates = t.certificates.map((entry: unknown, i): TlsCertificate => {
    const where = [...at, 'certificates', i];
    const files = c.table(where, entry, ['cert', 'key']);
    for (const key of ['cert', 'key']) {
      if (typeof files[key] !== 'string' || files[key] === '') c.fail([...where, key], 'a PEM file path', describe(files[key]));
    }
    try {
      return loadCertificate(files.cert as string, files.key as string);
    } catch (err) {
      if (!(err instanceof OptionError)) throw err;
      return c.fail(where, 'a readable certificate and its matching key', err.message);
    }
  });
  const top = isTable(doc.tls) ? doc.tls.min_version : undefined;
  const minVersion = t.min_version !== undefined ? c.value([...at, 'min_version'], t.min_version, tlsVersion)
    : top !== undefined ? c.value(['tls', 'min_version'], top, tlsVersion) : OPTIONS.tlsMinVersion.default;
  return { certificates, minVersion };
}

/** A non-empty list of "HOST:PORT", "dns:NAME:PORT", { address, weight } or { dns: "NAME:PORT", weight }. */
function backends(c: Checker, path: Path, value: unknown): Address[] {
  if (!Array.isArray(value) || value.length === 0) return c.fail(path, 'a non-empty list of "HOST:PORT" or { address, weight }', describe(value));
  return value.map((entry: unknown, i): Address => {
    const at = [...path, i];
    if (typeof entry === 'string') return address(c, at, entry, backendAddress);
    const t = c.table(at, entry, ['address', 'dns', 'weight']);
    if ((t.address === undefined) === (t.dns === undefined)) c.fail(at, 'either an "address" or a "dns" key', t.address === undefined ? 'none' : 'both');
    const backend = t.dns === undefined ? address(c, [...at, 'address'], t.address, backendAddress)
      : typeof t.dns === 'string' && !/^[a-z]+:/i.test(t.dns) ? address(c, [...at, 'dns'], `dns:${t.dns}`, backendAddress)
        : c.fail([...at, 'dns'], 'a "NAME:PORT" string', describe(t.dns));
    if (t.weight !== undefined) {
      if (typeof t.weight !== 'number' || !(t.weight > 0) || !Number.isFinite(t.weight)) {
        return c.fail([...at, 'weight'], 'a number > 0', describe(t.weight));
      }
      backend.weight = t.weight;
    }
    return backend;
  });
}

const pools: Reader<'pools'> = (c, path, value, { doc }) => {
  if (!isTable(value)) return c.fail(path, 'a table of pools by name', describe(value));
  return Object.entries(value).map(([name, entry]): PoolOptions => {
    const at = [...path, name];
    if (!POOL_NAME.test(name)) c.fail(at, 'a pool name of letters, digits, "_", "-" or "." (at most 64)', JSON.stringify(name), 'key');
    if (name === DEFAULT_POOL && doc.backends !== undefined) {
      c.fail(at, `no pool named "${DEFAULT_POOL}" beside top-level backends (they are the "${DEFAULT_POOL}" pool)`, 'both', 'key');
    }
    const t = c.table(at, entry, ['backends', 'policy', ...POOL_KEYS.keys()]);
    if (t.backends === undefined) c.fail(at, 'a "backends" key', 'none');
    const pool: PoolOptions = {
      name,
      backends: backends(c, [...at, 'backends'], t.backends),
      policy: t.policy === undefined ? OPTIONS.policy.default : c.value([...at, 'policy'], t.policy, policy),
    };
    const settings = poolSettings(c, at, t);
    if (Object.keys(settings).length > 0) pool.settings = settings;
    return pool;
  });
};

/**
 * A pool's own settings: its `retry` and `health_check` tables take the keys of the top-level
 * sections of those names, `slow_start` is `health.slow_start` for this pool alone, and `send_proxy`
 * the top-level key of that name.
 */
const POOL_KEYS = new Map<string, Map<string, (typeof POOL_SETTINGS)[number]>>();
for (const key of POOL_SETTINGS) {
  const config = OPTIONS[key].config ?? '';
  const [section = '', field = ''] = config === 'health.slow_start' ? ['slow_start', ''] : config.split('.');
  POOL_KEYS.set(section, (POOL_KEYS.get(section) ?? new Map()).set(field, key));
}

function poolSettings(c: Checker, at: Path, pool: Table): Partial<PoolSettings> {
  const settings: Partial<PoolSettings> = {};
  const read = <K extends keyof PoolSettings>(key: K, path: Path, value: unknown): void => {
    const kind = OPTIONS[key].kind;
    if (!kind.byHand) settings[key] = c.value(path, value, kind);
  };
  for (const [section, fields] of POOL_KEYS) {
    const value = pool[section];
    if (value === undefined) continue;
    const single = fields.get('');
    if (single !== undefined) {
      read(single, [...at, section], value);
      continue;
    }
    const t = c.table([...at, section], value, [...fields.keys()]);
    for (const [field, key] of fields) if (t[field] !== undefined) read(key, [...at, section, field], t[field]);
  }
  return settings;
}

const routes: Reader<'routes'> = (c, path, value, { doc, options }) => {
  if (!Array.isArray(value) || value.length === 0) return c.fail(path, 'a non-empty list of routes', describe(value));
  const known = [...(options.pools ?? []).map((p) => p.name), ...(doc.backends !== undefined ? [DEFAULT_POOL] : [])];
  return value.map((entry: unknown, i): RouteOptions => {
    const at = [...path, i];
    const t = c.table(at, entry, ['host', 'path', 'port', 'pool', 'rate_limit']);
    const pattern = (key: string, problem: (v: string) => string | null, expected: string): string | null => {
      const v = t[key];
      if (v === undefined) return null;
      if (typeof v !== 'string') return c.fail([...at, key], expected, describe(v));
      const why = problem(v);
      return why === null ? v : c.fail([...at, key], `${expected} (${why})`, describe(v));
    };
    const route: RouteOptions = {
      host: pattern('host', hostPatternProblem, 'a hostname or "*.domain"'),
      pathPrefix: pattern('path', pathPrefixProblem, 'a path prefix starting with "/"'),
      port: null,
      pool: '',
      rateLimit: null,
    };
    if (t.port !== undefined) {
      if (typeof t.port !== 'number' || !Number.isInteger(t.port) || t.port < 1 || t.port > 65535) {
        c.fail([...at, 'port'], 'a port number 1-65535', describe(t.port));
      }
      route.port = t.port as number;
    }
    if (t.pool === undefined) c.fail(at, 'a "pool" key', 'none');
    if (typeof t.pool !== 'string' || !known.includes(t.pool)) {
      c.fail([...at, 'pool'], known.length === 0 ? 'a pool defined under pools' : `one of the pools ${known.join(', ')}`, describe(t.pool));
    }
    route.pool = t.pool as string;
    if (t.rate_limit !== undefined) {
      const limit = c.table([...at, 'rate_limit'], t.rate_limit, ['rate', 'burst']);
      const count = (key: string): number => {
        const v = limit[key];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) c.fail([...at, 'rate_limit', key], 'a whole number >= 0', describe(v));
        return v as number;
      };
      if (limit.rate === undefined) c.fail([...at, 'rate_limit'], 'a "rate" key (requests per second, 0 for no limit)', 'none');
      route.rateLimit = { rate: count('rate'), burst: limit.burst === undefined ? 0 : count('burst') };
    }
    return route;
  });
};

function trustedProxies(c: Checker, path: Path, value: unknown): string[] {
  if (!Array.isArray(value)) return c.fail(path, 'a list of addresses or CIDR subnets', describe(value));
  return value.map((entry: unknown, i) => {
    if (typeof entry !== 'string') return c.fail([...path, i], 'an address or CIDR subnet string', describe(entry));
    return c.value([...path, i], entry, addressOrSubnet);
  });
}

/** A reader for every option the schema marks as read by hand. */
export const SHAPES: { readonly [K in HandKey]: Reader<K> } = { listen, backends, pools, routes, trustedProxies };
