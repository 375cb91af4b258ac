/**
 * `--config FILE`: YAML (.yaml/.yml) or TOML (.toml) → the ProxyOptions it sets. Every problem is a
 * ConfigError of one line, `<file>:<line>: <field path>: <expected>, got <found>`.
 *
 * Both formats are parsed to plain values and checked by one validator; each format supplies a
 * locator that maps a field path back to a line of the file.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { parse as parseToml, TomlDate, TomlError } from 'smol-toml';
import { parseAddressOrSubnet } from '../address-or-subnet.js';
import { hostPatternProblem, pathPrefixProblem } from '../route-patterns.js';
import { ACCESS_LOG_FORMATS, LOG_LEVELS, POLICIES } from '../vocabulary.js';
import { OptionError, parseAddress, parseChoice, parseCount, parseDuration, parseLogTarget, parseSize } from '../values.js';
import {
  DEFAULT_POOL, DEFAULTS,
  type Address, type PoolOptions, type ProxyOptions, type RouteOptions,
} from '../options.js';
import { PRX_ERR_CONFIG } from '../../errors.js';

export class ConfigError extends Error {
  readonly code = PRX_ERR_CONFIG;
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Path = readonly (string | number)[];
/** Line (1-based) of the key at `path`, or of its value; undefined when it cannot be told. */
type Locate = (path: Path, at: 'key' | 'value') => number | undefined;

/** Reads and validates FILE; returns the options it sets (only those present). */
export function loadConfig(file: string): Partial<ProxyOptions> {
  const ext = extname(file).toLowerCase();
  if (ext !== '.yaml' && ext !== '.yml' && ext !== '.toml') {
    throw new ConfigError(`${file}: config file: expected a .yaml, .yml or .toml extension, got "${ext}"`);
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: config file: expected a readable file, got ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const { value, locate } = ext === '.toml' ? readToml(file, text) : readYaml(file, text);
  return validate(file, value, locate);
}

// ---------------------------------------------------------------------------------------------
// YAML

function readYaml(file: string, text: string): { value: unknown; locate: Locate } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  const error = doc.errors[0];
  if (error !== undefined) {
    const line = error.linePos?.[0].line ?? lineCounter.linePos(error.pos[0]).line;
    // The message carries a code frame after its first line, and repeats the position.
    const what = (error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    throw new ConfigError(`${file}:${line}: YAML syntax: expected valid YAML, got ${what}`);
  }
  const lineOf = (node: YamlNode | null | undefined): number | undefined =>
    node?.range ? lineCounter.linePos(node.range[0]).line : undefined;
  const locate: Locate = (path, at) => {
    let node: unknown = doc.contents;
    let keyLine: number | undefined = path.length === 0 ? 1 : undefined;
    for (const [i, seg] of path.entries()) {
      node = resolveAlias(doc, node);
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (pair === undefined) return keyLine;
        keyLine = lineOf(pair.key as YamlNode);
        if (i === path.length - 1 && at === 'key') return keyLine;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        node = node.items[seg];
        keyLine = lineOf(node as YamlNode) ?? keyLine;
      } else {
        return keyLine;
      }
    }
    node = resolveAlias(doc, node);
    // An empty value (`timeouts:` and nothing) has no useful position of its own: use its key's.
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) return keyLine;
    return lineOf(node as YamlNode) ?? keyLine;
  };
  return { value: doc.toJS({ maxAliasCount: 100 }), locate };
}

function resolveAlias(doc: Document, node: unknown): unknown {
  return isAlias(node) ? node.resolve(doc) : node;
}

// ---------------------------------------------------------------------------------------------
// TOML

function readToml(file: string, text: string): { value: unknown; locate: Locate } {
  try {
    return { value: parseToml(text), locate: tomlLocator(text) };
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    const what = (err.message.split('\n')[0] ?? '').replace(/^Invalid TOML document: /, '');
    throw new ConfigError(`${file}:${err.line}: TOML syntax: expected valid TOML, got ${what}`);
  }
}

/**
 * smol-toml gives no positions for values, so this finds lines by scanning the text. It knows
 * [table] and [[array]] headers, bare or quoted keys at the start of a line, one-level dotted keys
 * (`timeouts.connect = ...`), and elements of an array of strings or inline tables (`key = [...]`).
 * It is fooled by look-alike lines inside multi-line strings and does not follow deeper nesting;
 * then it falls back to the enclosing key's line, or to none. Used for error messages only.
 */
function tomlLocator(text: string): Locate {
  const lines = text.split('\n');
  const lineAt = (offset: number): number => text.slice(0, offset).split('\n').length;
  const lineStart = (index: number): number => lines.slice(0, index).reduce((n, l) => n + l.length + 1, 0);
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const keyPattern = (key: string): string => `(?:${esc(key)}|"${esc(key)}"|'${esc(key)}')`;
  const unquote = (s: string): string => s.trim().replace(/^["']|["']$/g, '');

  // Sections: the top level (name ''), then one per header up to the next.
  interface Section { name: string; array: boolean; index: number; header: number; from: number; to: number }
  const sections: Section[] = [{ name: '', array: false, index: 0, header: 0, from: 0, to: lines.length }];
  const arrayCounts = new Map<string, number>();
  lines.forEach((line, i) => {
    const m = /^\s*(\[\[?)\s*([^\]]+?)\s*\]/.exec(line);
    if (m === null) return;
    const array = m[1] === '[[';
    const name = (m[2] ?? '').split('.').map(unquote).join('.');
    const index = array ? (arrayCounts.get(name) ?? 0) : 0;
    if (array) arrayCounts.set(name, index + 1);
    const last = sections[sections.length - 1];
    if (last !== undefined) last.to = i;
    sections.push({ name, array, index, header: i + 1, from: i + 1, to: lines.length });
  });

  /** Line index and the offset just after `=` of `key = ...` within a section. */
  const findKey = (section: Section, key: string): { line: number; valueAt: number } | undefined => {
    const re = new RegExp(`^\\s*${keyPattern(key)}\\s*=`);
    for (let i = section.from; i < section.to; i++) {
      const m = re.exec(lines[i] ?? '');
      if (m !== null) return { line: i + 1, valueAt: lineStart(i) + m[0].length };
    }
    return undefined;
  };
  const top = sections[0] as Section;

  /** The [table] named by an all-string path, or the [[array]] element a path ending in an index names. */
  const sectionFor = (prefix: Path): Section | undefined => {
    const last = prefix[prefix.length - 1];
    const names = typeof last === 'number' ? prefix.slice(0, -1) : prefix;
    if (names.length === 0 || !names.every((n) => typeof n === 'string')) return undefined;
    const name = names.join('.');
    return typeof last === 'number'
      ? sections.find((s) => s.array && s.name === name && s.index === last)
      : sections.find((s) => !s.array && s.name === name);
  };

  /** The line of `rest` inside a section: its key (or a dotted `key.sub =`), then into an array value. */
  const within = (section: Section, rest: Path): number | undefined => {
    const header = section === top ? undefined : section.header;
    const [key, next, third] = rest;
    if (typeof key !== 'string') return header;
    const found = findKey(section, key);
    if (found === undefined) {
      const sub = typeof next === 'string' ? `\\s*\\.\\s*${keyPattern(next)}\\s*=` : '\\s*\\.';
      const dotted = new RegExp(`^\\s*${keyPattern(key)}${sub}`);
      for (let i = section.from; i < section.to; i++) if (dotted.test(lines[i] ?? '')) return i + 1;
      return header;
    }
    if (typeof next !== 'number') return found.line;
    // An element of `key = [...]`, and a key inside it when it is an inline table.
    const { starts, end } = arrayElements(text, found.valueAt);
    const start = starts[next];
    if (start === undefined) return found.line;
    if (typeof third !== 'string') return lineAt(start);
    const stop = starts[next + 1] ?? end;
    const m = new RegExp(`(?:^|[{,\\s])${keyPattern(third)}\\s*=`).exec(text.slice(start, stop));
    return m === null ? lineAt(start) : lineAt(start + m.index + (m[0].length - m[0].trimStart().length));
  };

  return (path) => {
    // The deepest table the path goes through, then the rest of the path inside it.
    for (let k = path.length; k >= 1; k--) {
      const section = sectionFor(path.slice(0, k));
      if (section !== undefined) return within(section, path.slice(k));
    }
    return within(top, path);
  };
}

/** Offsets where each top-level element of the array starting at or after `from` begins. */
function arrayElements(text: string, from: number): { starts: number[]; end: number } {
  const starts: number[] = [];
  let depth = 0;
  let expecting = false;
  let i = from;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === '#') {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl;
      continue;
    }
    if (/\s/.test(c)) { i++; continue; }
    if (depth === 0) {
      if (c !== '[') return { starts, end: i };
      depth = 1;
      expecting = true;
      i++;
      continue;
    }
    if (depth === 1 && c === ',') { expecting = true; i++; continue; }
    if (depth === 1 && c === ']') return { starts, end: i };
    if (depth === 1 && expecting) { starts.push(i); expecting = false; }
    if (c === '"' || c === "'") { i = skipString(text, i); continue; }
    if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') depth--;
    i++;
  }
  return { starts, end: text.length };
}

/** The offset just past the string (basic, literal, or either multi-line form) that starts at i. */
function skipString(text: string, i: number): number {
  const q = text[i] as string;
  const triple = text.startsWith(q.repeat(3), i);
  const close = triple ? q.repeat(3) : q;
  let j = i + close.length;
  while (j < text.length) {
    if (q === '"' && text[j] === '\\') { j += 2; continue; }
    if (text.startsWith(close, j)) return j + close.length;
    if (!triple && text[j] === '\n') return j;
    j++;
  }
  return j;
}

// ---------------------------------------------------------------------------------------------
// Validation, shared by both formats

type NumericOption = { [K in keyof ProxyOptions]: ProxyOptions[K] extends number ? K : never }[keyof ProxyOptions];
type Kind = 'duration' | 'size' | { min: number };
type Table = Record<string, unknown>;

const SECTIONS: Record<string, Record<string, readonly [NumericOption, Kind]>> = {
  timeouts: {
    connect: ['connectTimeoutMs', 'duration'],
    response: ['responseTimeoutMs', 'duration'],
    backend_idle: ['backendIdleTimeoutMs', 'duration'],
    header: ['headerTimeoutMs', 'duration'],
    keep_alive: ['keepAliveTimeoutMs', 'duration'],
    shutdown: ['shutdownTimeoutMs', 'duration'],
  },
  limits: {
    max_header_bytes: ['maxHeadBytes', 'size'],
    max_body_bytes: ['maxBodyBytes', 'size'],
    max_connections: ['maxConnections', { min: 0 }],
    max_pipeline: ['maxPipeline', { min: 1 }],
    max_backend_connections: ['maxConnectionsPerBackend', { min: 1 }],
  },
  health: {
    eject_after: ['failuresToEject', { min: 1 }],
    eject_cooldown: ['ejectCooldownMs', 'duration'],
  },
  rate_limit: {
    rate: ['rateLimit', { min: 0 }],
    burst: ['rateBurst', { min: 0 }],
    clients: ['rateLimitClients', { min: 1 }],
  },
};
const TOP_KEYS = ['listen', 'policy', 'backends', 'pools', 'routes', 'trusted_proxies', ...Object.keys(SECTIONS), 'access_log', 'log', 'allow_trace'];
const ACCESS_LOG_CHOICES = ['off', ...ACCESS_LOG_FORMATS] as const;
const POOL_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof TomlDate || value instanceof Date) return `a date (${value.toISOString()})`;
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : `a list of ${value.length}`;
  return 'a table';
}

const isTable = (v: unknown): v is Table =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

function fieldPath(path: Path): string {
  if (path.length === 0) return '(top level)';
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

function validate(file: string, root: unknown, locate: Locate): Partial<ProxyOptions> {
  const fail = (path: Path, expected: string, got: string, at: 'key' | 'value' = 'value'): never => {
    const line = locate(path, at);
    throw new ConfigError(`${file}${line === undefined ? '' : `:${line}`}: ${fieldPath(path)}: expected ${expected}, got ${got}`);
  };
  const table = (path: Path, value: unknown, keys: readonly string[]): Table => {
    if (!isTable(value)) return fail(path, 'a table', describe(value));
    for (const key of Object.keys(value)) {
      if (!keys.includes(key)) fail([...path, key], `one of the keys ${keys.join(', ')}`, `unknown key "${key}"`, 'key');
    }
    return value;
  };
  // options.ts validates values and names a flag; we keep its checks and phrase the message ourselves.
  const check = <T>(path: Path, value: unknown, expected: string, parse: (text: string) => T): T => {
    const text = typeof value === 'string' ? value : typeof value === 'number' && Number.isFinite(value) ? String(value) : undefined;
    if (text === undefined) return fail(path, expected, describe(value));
    try {
      return parse(text);
    } catch (err) {
      if (err instanceof OptionError) return fail(path, expected, describe(value));
      throw err;
    }
  };
  const flag = (path: Path): string => fieldPath(path);
  const address = (path: Path, value: unknown, use: 'listen' | 'connect'): Address => {
    if (typeof value !== 'string') return fail(path, 'a "HOST:PORT" string', describe(value));
    return check(path, value, 'HOST:PORT with a port 1-65535', (t) => parseAddress(flag(path), t, use));
  };

  const doc = table([], root, TOP_KEYS);
  const options: Partial<ProxyOptions> = {};

  if (doc.listen !== undefined) {
    const list = typeof doc.listen === 'string' ? [doc.listen] : doc.listen;
    if (!Array.isArray(list) || list.length === 0) fail(['listen'], 'a "HOST:PORT" string or a non-empty list of them', describe(doc.listen));
    options.listen = (list as unknown[]).map((entry, i) =>
      address(typeof doc.listen === 'string' ? ['listen'] : ['listen', i], entry, 'listen'));
  }
  const policy = (path: Path, value: unknown): PoolOptions['policy'] =>
    check(path, value, `one of ${POLICIES.join(', ')}`, (s) => parseChoice('policy', s, POLICIES));
  if (doc.policy !== undefined) options.policy = policy(['policy'], doc.policy);

  const backendList = (path: Path, list: unknown): Address[] => {
    if (!Array.isArray(list) || list.length === 0) fail(path, 'a non-empty list of "HOST:PORT" or { address, weight }', describe(list));
    return (list as unknown[]).map((entry, i): Address => {
      const at = [...path, i];
      if (typeof entry === 'string') return address(at, entry, 'connect');
      const t = table(at, entry, ['address', 'weight']);
      if (t.address === undefined) fail(at, 'an "address" key', 'none');
      const backend: Address = address([...at, 'address'], t.address, 'connect');
      if (t.weight !== undefined) {
        if (typeof t.weight !== 'number' || !(t.weight > 0) || !Number.isFinite(t.weight)) {
          fail([...at, 'weight'], 'a number > 0', describe(t.weight));
        }
        backend.weight = t.weight as number;
      }
      return backend;
    });
  };
  // Backends may come from --backend instead; with neither, option validation says so.
  if (doc.backends !== undefined) options.backends = backendList(['backends'], doc.backends);

  if (doc.pools !== undefined) {
    if (!isTable(doc.pools)) fail(['pools'], 'a table of pools by name', describe(doc.pools));
    options.pools = Object.entries(doc.pools as Table).map(([name, value]): PoolOptions => {
      const path = ['pools', name];
      if (!POOL_NAME.test(name)) fail(path, 'a pool name of letters, digits, "_", "-" or "." (at most 64)', JSON.stringify(name), 'key');
      if (name === DEFAULT_POOL && doc.backends !== undefined) {
        fail(path, `no pool named "${DEFAULT_POOL}" beside top-level backends (they are the "${DEFAULT_POOL}" pool)`, 'both', 'key');
      }
      const t = table(path, value, ['backends', 'policy']);
      if (t.backends === undefined) fail(path, 'a "backends" key', 'none');
      return { name, backends: backendList([...path, 'backends'], t.backends), policy: t.policy === undefined ? DEFAULTS.policy : policy([...path, 'policy'], t.policy) };
    });
  }

  if (doc.routes !== undefined) {
    if (!Array.isArray(doc.routes) || doc.routes.length === 0) fail(['routes'], 'a non-empty list of routes', describe(doc.routes));
    const known = [...(options.pools ?? []).map((p) => p.name), ...(doc.backends !== undefined ? [DEFAULT_POOL] : [])];
    options.routes = (doc.routes as unknown[]).map((entry, i): RouteOptions => {
      const path = ['routes', i];
      const t = table(path, entry, ['host', 'path', 'port', 'pool', 'rate_limit']);
      const text = (key: string, problem: (v: string) => string | null, expected: string): string | null => {
        const value = t[key];
        if (value === undefined) return null;
        if (typeof value !== 'string') return fail([...path, key], expected, describe(value));
        const why = problem(value);
        return why === null ? value : fail([...path, key], `${expected} (${why})`, describe(value));
      };
      const route: RouteOptions = {
        host: text('host', hostPatternProblem, 'a hostname or "*.domain"'),
        pathPrefix: text('path', pathPrefixProblem, 'a path prefix starting with "/"'),
        port: null,
        pool: '',
        rateLimit: null,
      };
      if (t.port !== undefined) {
        if (typeof t.port !== 'number' || !Number.isInteger(t.port) || t.port < 1 || t.port > 65535) {
          fail([...path, 'port'], 'a port number 1-65535', describe(t.port));
        }
        route.port = t.port as number;
      }
      if (t.pool === undefined) fail(path, 'a "pool" key', 'none');
      if (typeof t.pool !== 'string' || !known.includes(t.pool)) {
        fail([...path, 'pool'], known.length === 0 ? 'a pool defined under pools' : `one of the pools ${known.join(', ')}`, describe(t.pool));
      }
      route.pool = t.pool as string;
      if (t.rate_limit !== undefined) {
        const limit = table([...path, 'rate_limit'], t.rate_limit, ['rate', 'burst']);
        const count = (key: string): number => {
          const value = limit[key];
          if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) fail([...path, 'rate_limit', key], 'a whole number >= 0', describe(value));
          return value as number;
        };
        if (limit.rate === undefined) fail([...path, 'rate_limit'], 'a "rate" key (requests per second, 0 for no limit)', 'none');
        route.rateLimit = { rate: count('rate'), burst: limit.burst === undefined ? 0 : count('burst') };
      }
      return route;
    });
  }

  if (doc.trusted_proxies !== undefined) {
    const list = doc.trusted_proxies;
    if (!Array.isArray(list)) fail(['trusted_proxies'], 'a list of addresses or CIDR subnets', describe(list));
    options.trustedProxies = (list as unknown[]).map((entry, i) => {
      const path = ['trusted_proxies', i];
      if (typeof entry !== 'string') return fail(path, 'an address or CIDR subnet string', describe(entry));
      if (typeof parseAddressOrSubnet(entry) === 'string') fail(path, 'an IP address or CIDR subnet ("10.0.0.0/8")', describe(entry));
      return entry;
    });
  }

  for (const [section, fields] of Object.entries(SECTIONS)) {
    if (doc[section] === undefined) continue;
    const t = table([section], doc[section], Object.keys(fields));
    for (const [key, [option, kind]] of Object.entries(fields)) {
      const value = t[key];
      if (value === undefined) continue;
      const path = [section, key];
      if (kind === 'duration') {
        options[option] = check(path, value, 'a duration of at least 1ms ("500ms", "5s", "2m", or a number of ms)', (s) => parseDuration(flag(path), s));
      } else if (kind === 'size') {
        options[option] = check(path, value, 'a size > 0 ("64k", "10m", or a whole number of bytes)', (s) => parseSize(flag(path), s));
      } else {
        const expected = `a whole number >= ${kind.min}`;
        // Numbers only: a quoted "32" is more likely a mistake than a count.
        if (typeof value !== 'number') fail(path, expected, describe(value));
        options[option] = check(path, value, expected, (s) => parseCount(flag(path), s, kind.min));
      }
    }
  }

  if (doc.access_log !== undefined) {
    const t = table(['access_log'], doc.access_log, ['format', 'file']);
    if (t.format !== undefined) {
      const path = ['access_log', 'format'];
      options.accessLog = check(path, t.format, `one of ${ACCESS_LOG_CHOICES.join(', ')}`, (s) => parseChoice(flag(path), s, ACCESS_LOG_CHOICES));
    }
    if (t.file !== undefined) {
      if (typeof t.file !== 'string' || t.file === '') fail(['access_log', 'file'], 'a file path', describe(t.file));
      options.accessLogFile = t.file as string;
      // As on the command line (--access-log-file alone): a file without a format means JSON.
      options.accessLog ??= 'json';
    }
  }

  if (doc.allow_trace !== undefined) {
    if (typeof doc.allow_trace !== 'boolean') fail(['allow_trace'], 'true or false', describe(doc.allow_trace));
    options.allowTrace = doc.allow_trace as boolean;
  }

  if (doc.log !== undefined) {
    const t = table(['log'], doc.log, ['level', 'file']);
    if (t.level !== undefined) {
      const path = ['log', 'level'];
      options.logLevel = check(path, t.level, `one of ${LOG_LEVELS.join(', ')}`, (s) => parseChoice(flag(path), s, LOG_LEVELS));
    }
    if (t.file !== undefined) {
      if (typeof t.file !== 'string' || t.file === '') fail(['log', 'file'], 'a file path, "stdout" or "stderr"', describe(t.file));
      options.logTo = parseLogTarget(flag(['log', 'file']), t.file as string);
    }
  }
  return options;
}
