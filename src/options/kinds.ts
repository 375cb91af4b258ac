/**
 * The kinds of option values: how a flag's text and a config file's value become one, what a config
 * file is told it should have written, and how a value is shown in --help and the README.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { parseAddressOrSubnet } from './address-or-subnet.js';
import type { Address } from './options.js';
import { OptionError, parseAddress, parseChoice, parseCount, parseDuration, parseLogTarget, parseSize } from './values.js';
import { POLICIES, type LogTarget } from './vocabulary.js';

interface KindBase<T> {
  /** The flag's placeholder in --help (`D`, `N`, `PATH`); '' for a switch, which takes no value. */
  readonly arg: string;
  /** A limit or timeout: --help and the README's table list these together. */
  readonly limit: boolean;
  /** The value as a user writes it ("5s", "16k"); '' for none. */
  show(value: T): string;
}

/** A value read by the same rules from a flag and from a config file (cli.ts, config/validate.ts). */
export interface ScalarKind<T> extends KindBase<T> {
  readonly byHand: false;
  /** What a config file must hold here: the `expected ...` of its error. */
  readonly expected: string;
  /** For --help: the values there are to choose from. */
  readonly choices?: readonly string[];
  /** The text `parse` takes, from a config value; undefined when the value's type is wrong. */
  text(value: unknown): string | undefined;
  /** The value a flag's text stands for; an OptionError naming `flag` otherwise. */
  parse(flag: string, text: string): T;
}

/** A list whose flag (repeated) and config value cli.ts and config/shapes.ts read by hand. */
export interface HandKind<T> extends KindBase<T> {
  readonly byHand: true;
}

export type Kind<T> = ScalarKind<T> | HandKind<T>;

/** A duration or size may be written as a string with a unit or as a bare number. */
const stringOrNumber = (value: unknown): string | undefined =>
  typeof value === 'string' ? value : typeof value === 'number' && Number.isFinite(value) ? String(value) : undefined;
const string = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

export const duration: ScalarKind<number> = {
  byHand: false,
  limit: true,
  arg: 'D',
  expected: 'a duration of at least 1ms ("500ms", "5s", "2m", or a number of ms)',
  text: stringOrNumber,
  parse: parseDuration,
  show: (ms) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`),
};

const SIZE_UNITS: readonly [string, number][] = [['g', 1024 ** 3], ['m', 1024 ** 2], ['k', 1024]];

export const size: ScalarKind<number> = {
  byHand: false,
  limit: true,
  arg: 'N',
  expected: 'a size > 0 ("64k", "10m", or a whole number of bytes)',
  text: stringOrNumber,
  parse: parseSize,
  show: (bytes) => {
    const [unit, n] = SIZE_UNITS.find(([, n]) => bytes % n === 0) ?? ['', 1];
    return `${bytes / n}${unit}`;
  },
};

/** A duration, or 0 for none (a feature that is off): `0`, `0s` or `off`. */
export const durationOrOff: ScalarKind<number> = {
  ...duration,
  expected: 'a duration ("500ms", "30s", "2m", a number of ms), or 0 or "off" for off',
  parse: (flag, text) => (/^\s*(?:0+(?:\.0+)?(?:ms|s|m)?|off)\s*$/.test(text) ? 0 : parseDuration(flag, text)),
  show: (ms) => (ms === 0 ? '0' : duration.show(ms)),
};

/** A whole number from 0 to 100. */
export const percent: ScalarKind<number> = {
  byHand: false,
  limit: true,
  arg: 'N',
  expected: 'a whole number of percent, 0-100',
  text: (value) => (typeof value === 'number' && Number.isFinite(value) ? String(value) : undefined),
  parse: (flag, text) => {
    const n = parseCount(flag, text, 0);
    if (n > 100) throw new OptionError(`${flag}: "${text}" is over 100 (percent)`);
    return n;
  },
  show: String,
};

/** A list written as one comma-separated flag value, or as a list (or such a string) in a config file. */
const listText = (value: unknown): string | undefined => {
  if (typeof value === 'string') return value;
  // One entry alone: `expect: 404`, `on: 503`.
  if (typeof value === 'number' && Number.isInteger(value)) return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string' || (typeof v === 'number' && Number.isInteger(v)))) return value.join(',');
  return undefined;
};

/** Some of `choices`, as a list. */
export function choices<T extends string>(all: readonly T[]): ScalarKind<T[]> {
  return {
    byHand: false,
    limit: false,
    arg: 'LIST',
    expected: `a list of ${all.join(', ')}`,
    choices: all,
    text: listText,
    parse: (flag, text) => text.split(',').map((t) => t.trim()).filter((t) => t !== '').map((t) => parseChoice(flag, t, all)),
    show: (values) => values.join(','),
  };
}

/** HTTP status codes and ranges: `200-399,401`. */
export const statusRanges: ScalarKind<[number, number][]> = {
  byHand: false,
  limit: false,
  arg: 'RANGES',
  expected: 'status codes or ranges 100-599 ("200-399", "200,204")',
  text: listText,
  parse: (flag, text) => text.split(',').map((t) => t.trim()).map((t): [number, number] => {
    const m = /^([1-5]\d\d)(?:-([1-5]\d\d))?$/.exec(t);
    const from = Number(m?.[1]);
    const to = Number(m?.[2] ?? m?.[1]);
    if (m === null || to < from) throw new OptionError(`${flag}: "${t}" is not a status code or range 100-599`);
    return [from, to];
  }),
  show: (ranges) => ranges.map(([from, to]) => (from === to ? String(from) : `${from}-${to}`)).join(','),
};

/** The path and query of a request the proxy makes itself (a health check). */
export const requestPath: ScalarKind<string> = {
  byHand: false,
  limit: false,
  arg: 'PATH',
  expected: 'a path starting with "/", without spaces',
  text: string,
  parse: (flag, text) => {
    if (!/^\/[\x21-\x7e]*$/.test(text)) throw new OptionError(`${flag}: "${text}" is not a path starting with "/"`);
    return text;
  },
  show: (value) => value,
};

/** A host name (and port) to send as Host, or null for the default. */
export const hostHeader: ScalarKind<string | null> = {
  byHand: false,
  limit: false,
  arg: 'HOST',
  expected: 'a host name, with a port if it must have one',
  text: (value) => (typeof value === 'string' && value !== '' ? value : undefined),
  parse: (flag, text) => {
    if (!/^[A-Za-z0-9._~%!$&'()*+,;=:[\]-]+$/.test(text)) throw new OptionError(`${flag}: "${text}" is not a host name`);
    return text;
  },
  show: (value) => value ?? '',
};

/** A whole number, `min` or more. */
export function count(min: number): ScalarKind<number> {
  return {
    byHand: false,
    limit: true,
    arg: 'N',
    expected: `a whole number >= ${min}`,
    // Numbers only: in a config file a quoted "32" is more likely a mistake than a count.
    text: (value) => (typeof value === 'number' && Number.isFinite(value) ? String(value) : undefined),
    parse: (flag, text) => parseCount(flag, text, min),
    show: String,
  };
}

/**
 * How many worker processes: a whole number from 1 up to 256, or `auto` (one per core the process may use,
 * os.availableParallelism()), resolved when read.
 */
export const workerCount: ScalarKind<number> = {
  byHand: false,
  limit: false,
  arg: 'N|auto',
  expected: 'a whole number from 1 to 256, or "auto"',
  text: (value) => (typeof value === 'number' && Number.isFinite(value) ? String(value) : value === 'auto' ? value : undefined),
  parse: (flag, text) => {
    if (text.trim() === 'auto') return availableParallelism();
    const n = parseCount(flag, text, 1);
    if (n > MAX_WORKERS) throw new OptionError(`${flag}: "${text}" is more than ${MAX_WORKERS} worker processes`);
    return n;
  },
  show: String,
};
const MAX_WORKERS = 256;

/** One of `choices`, spelt exactly. */
export function choice<T extends string>(choices: readonly T[]): ScalarKind<T> {
  return {
    byHand: false,
    limit: false,
    arg: 'NAME',
    expected: `one of ${choices.join(', ')}`,
    choices,
    text: string,
    parse: (flag, text) => parseChoice(flag, text, choices),
    show: (value) => value,
  };
}

export const policy = choice(POLICIES);

/** On or off: a flag without a value, `true` or `false` in a config file. */
export const toggle: ScalarKind<boolean> = {
  byHand: false,
  limit: false,
  arg: '',
  expected: 'true or false',
  text: (value) => (typeof value === 'boolean' ? String(value) : undefined),
  parse: (flag, text) => {
    if (text !== 'true' && text !== 'false') throw new OptionError(`${flag}: "${text}" is not true or false`);
    return text === 'true';
  },
  show: (on) => (on ? 'on' : 'off'),
};

/** A file path, or null for none. A config file may not give an empty one. */
export const path: ScalarKind<string | null> = {
  byHand: false,
  limit: false,
  arg: 'PATH',
  expected: 'a file path',
  text: (value) => (typeof value === 'string' && value !== '' ? value : undefined),
  parse: (_flag, text) => text,
  show: (value) => value ?? '',
};

/** A PEM file of CA certificates, read (and checked to hold one) when the option is: its path and text. */
export const caFile: ScalarKind<{ file: string; pem: string } | null> = {
  byHand: false,
  limit: false,
  arg: 'FILE',
  expected: 'a readable PEM file of CA certificates',
  text: (value) => (typeof value === 'string' && value !== '' ? value : undefined),
  parse: (flag, text) => {
    let pem: string;
    try {
      pem = readFileSync(text, 'utf8');
    } catch (err) {
      throw new OptionError(`${flag}: cannot read ${text}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new OptionError(`${flag}: ${text} holds no PEM certificate`);
    return { file: text, pem };
  },
  show: (value) => value?.file ?? '',
};

/** A Redis URL, `redis://[user:password@]HOST:PORT[/DB]` (or `rediss://` for TLS), checked when read. */
export const redisUrl: ScalarKind<string | null> = {
  byHand: false,
  limit: false,
  arg: 'URL',
  expected: 'a redis://HOST:PORT[/DB] URL',
  text: (value) => (typeof value === 'string' && value !== '' ? value : undefined),
  parse: (flag, text) => {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new OptionError(`${flag}: "${text}" is not a URL (redis://HOST:PORT[/DB])`);
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new OptionError(`${flag}: "${text}" is not a redis:// or rediss:// URL`);
    if (url.hostname === '') throw new OptionError(`${flag}: "${text}" names no host`);
    if (!/^\/?(\d*)$/.test(url.pathname)) throw new OptionError(`${flag}: "${text}": the path must be a database number`);
    return text;
  },
  // A password in the URL is never shown.
  show: (value) => (value === null ? '' : value.replace(/\/\/[^@/]*@/, '//***@')),
};

/** A file path, `stdout` or `stderr`. */
export const logTarget: ScalarKind<LogTarget> = {
  byHand: false,
  limit: false,
  arg: 'PATH',
  expected: 'a file path, "stdout" or "stderr"',
  text: string,
  parse: parseLogTarget,
  show: (target) => (target === 1 ? 'stdout' : target === 2 ? 'stderr' : target),
};

/** `HOST:PORT`, `[v6]:PORT` or `:PORT`: to listen on, or of a backend to connect to. */
function address(use: 'listen' | 'connect'): ScalarKind<Address> {
  return {
    byHand: false,
    limit: false,
    arg: 'HOST:PORT',
    expected: use === 'connect' ? '[https://]HOST:PORT or dns:NAME:PORT with a port 1-65535' : 'HOST:PORT with a port 1-65535',
    text: string,
    parse: (flag, text) => parseAddress(flag, text, use),
    show: (a) => `${a.https === true ? 'https://' : a.dns === true ? 'dns:' : ''}${a.host}:${a.port}`,
  };
}
export const listenAddress = address('listen');
export const backendAddress = address('connect');

/** An address to listen on, or null for none (off). */
export const optionalListenAddress: ScalarKind<Address | null> = {
  ...listenAddress,
  show: (a) => (a === null ? '' : listenAddress.show(a)),
};

/** A secret: any non-empty text (read as a path is), never shown (in --help or the README). */
export const secret: ScalarKind<string | null> = { ...path, arg: 'TOKEN', expected: 'a non-empty string', show: () => '' };

/** Histogram bucket bounds: durations, ascending, as a list or comma-separated; kept in seconds. */
export const buckets: ScalarKind<number[]> = {
  byHand: false,
  limit: false,
  arg: 'D,D,...',
  expected: 'durations in ascending order, e.g. [5ms, 50ms, 500ms, 5s]',
  text: (value) => (Array.isArray(value) && value.every((v) => stringOrNumber(v) !== undefined) ? value.map(stringOrNumber).join(',')
    : typeof value === 'string' ? value : undefined),
  parse: (flag, text) => {
    const bounds = text.split(',').map((t) => parseDuration(flag, t) / 1000);
    for (let i = 1; i < bounds.length; i++) {
      if ((bounds[i] as number) <= (bounds[i - 1] as number)) throw new OptionError(`${flag}: "${text}" is not in ascending order`);
    }
    return bounds;
  },
  show: (bounds) => bounds.map((b) => (b < 1 ? `${Math.round(b * 1000)}ms` : `${b}s`)).join(','),
};

/** DNS servers to ask: IP addresses, each with an optional port (`127.0.0.1:5353`, `[::1]:53`), kept as written. */
export const dnsServers: ScalarKind<string[]> = {
  byHand: false,
  limit: false,
  arg: 'IP[:PORT],...',
  expected: 'a list of DNS server IP addresses, each with an optional port ("10.0.0.2", "127.0.0.1:5353", "[::1]:53")',
  text: listText,
  parse: (flag, text) => text.split(',').map((t) => t.trim()).filter((t) => t !== '').map((t) => {
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([\d.]+))(?::(\d{1,5}))?$/.exec(t);
    const ip = m?.[1] ?? m?.[2] ?? (isIP(t) === 6 ? t : '');
    const port = Number(m?.[3] ?? 53);
    if (isIP(ip) === 0 || port < 1 || port > 65535) throw new OptionError(`${flag}: "${t}" is not a DNS server's IP address with an optional port`);
    return t;
  }),
  show: (servers) => servers.join(','),
};

/** A trusted proxy: an IP address or CIDR subnet, kept as written. */
export const addressOrSubnet: ScalarKind<string> = {
  byHand: false,
  limit: false,
  arg: 'ADDR',
  expected: 'an IP address or CIDR subnet ("10.0.0.0/8")',
  text: string,
  parse: (flag, text) => {
    const parsed = parseAddressOrSubnet(text);
    if (typeof parsed === 'string') throw new OptionError(`${flag}: ${parsed}`);
    return text;
  },
  show: (entry) => entry,
};

/** A list read by hand, of entries shown by `item` (and given as its flag's `arg`). */
export function list<T>(item: { arg: string; show(entry: T): string }): HandKind<T[]> {
  return { byHand: true, limit: false, arg: item.arg, show: (entries) => entries.map((e) => item.show(e)).join(', ') };
}
