/**
 * One value of an option, from the text a flag or config file gives: an OptionError whose message
 * names the flag (or field) otherwise.
 */
import { PRX_ERR_OPTION } from '../errors.js';
import type { Address } from './options.js';
import type { LogTarget } from './vocabulary.js';

export class OptionError extends Error {
  readonly code = PRX_ERR_OPTION;
  constructor(message: string) {
    super(message);
    this.name = 'OptionError';
  }
}

/** The host of an address to listen on given as `:PORT`. */
export const DEFAULT_LISTEN_HOST = '0.0.0.0';
/** The host of an address to connect to (a backend) given as `:PORT`. */
const DEFAULT_CONNECT_HOST = '127.0.0.1';

/**
 * `HOST:PORT`, `[v6]:PORT` or `:PORT`, an address to listen on or to connect to. Port 0 (any free
 * port, which tests use) is for listening only.
 */
export function parseAddress(flag: string, text: string, use: 'listen' | 'connect'): Address {
  // dns:NAME:PORT: every address NAME resolves to (A and AAAA, re-resolved at their TTL) is a backend.
  const dns = use === 'connect' ? /^dns:(?!\/\/)/i.exec(text.trim()) : null;
  if (dns !== null) return dnsBackend(flag, text, text.trim().slice(dns[0].length));
  // A backend may be given as http://HOST:PORT or https://HOST:PORT (spoken to over TLS).
  const scheme = use === 'connect' ? /^(https?):\/\//i.exec(text.trim()) : null;
  const rest = scheme === null ? text.trim() : text.trim().slice(scheme[0].length);
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(rest);
  if (match === null) throw new OptionError(`${flag}: "${text}" is not HOST:PORT`);
  const port = Number(match[3]);
  if ((port < 1 || port > 65535) && !(port === 0 && use === 'listen')) {
    throw new OptionError(`${flag}: port ${match[3]} is out of range 1-65535`);
  }
  const defaultHost = use === 'listen' ? DEFAULT_LISTEN_HOST : DEFAULT_CONNECT_HOST;
  const host = match[1] ?? (match[2] === '' || match[2] === undefined ? defaultHost : match[2]);
  return scheme?.[1]?.toLowerCase() === 'https' ? { host, port, https: true } : { host, port };
}

/** A DNS name is a host name: labels of letters, digits and hyphens (an address would need no lookup). */
const DNS_NAME = /^(?=.{1,253}$)(?!.*\.\.)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?$/;

function dnsBackend(flag: string, text: string, rest: string): Address {
  const match = /^([^:[\]\s]+):(\d{1,5})$/.exec(rest);
  if (match === null) throw new OptionError(`${flag}: "${text}" is not dns:NAME:PORT`);
  const [, host = '', digits = ''] = match;
  if (!DNS_NAME.test(host) || /^[\d.]+$/.test(host)) throw new OptionError(`${flag}: "${host}" in "${text}" is not a host name to resolve (give an address as HOST:PORT)`);
  const port = Number(digits);
  if (port < 1 || port > 65535) throw new OptionError(`${flag}: port ${digits} is out of range 1-65535`);
  return { host: host.toLowerCase(), port, dns: true };
}

/** `250ms`, `5s`, `2m`, or a bare number of milliseconds. */
export function parseDuration(flag: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (match === null) throw new OptionError(`${flag}: "${text}" is not a duration (e.g. 500ms, 5s, 2m)`);
  const value = Number(match[1]);
  const ms = Math.round(match[2] === 's' ? value * 1000 : match[2] === 'm' ? value * 60_000 : value);
  // Zero would read as "no timeout" to a reader of the code; it is never what a user means here.
  if (ms < 1 || !Number.isFinite(ms)) throw new OptionError(`${flag}: must be at least 1ms`);
  return ms;
}

/** `16384`, `16k`, `1m`, `1g` (binary multiples). */
export function parseSize(flag: string, text: string): number {
  const match = /^(\d+)([kmg])?b?$/i.exec(text.trim());
  if (match === null) throw new OptionError(`${flag}: "${text}" is not a size (e.g. 16384, 64k, 10m)`);
  const unit = (match[2] ?? '').toLowerCase();
  const size = Number(match[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1);
  if (size <= 0) throw new OptionError(`${flag}: must be greater than zero`);
  return size;
}

export function parseCount(flag: string, text: string, min: number): number {
  const match = /^\d+$/.exec(text.trim());
  const count = Number(text);
  if (match === null || count < min) throw new OptionError(`${flag}: "${text}" is not a whole number >= ${min}`);
  return count;
}

/** One of `choices`, exactly as spelt there. */
export function parseChoice<T extends string>(flag: string, text: string, choices: readonly T[]): T {
  const choice = choices.find((c) => c === text);
  if (choice === undefined) throw new OptionError(`${flag}: "${text}" is not one of ${choices.join(', ')}`);
  return choice;
}

/** `stdout`, `stderr`, or a file path. */
export function parseLogTarget(flag: string, text: string): LogTarget {
  if (text === '') throw new OptionError(`${flag}: expected a file path, stdout or stderr`);
  return text === 'stdout' ? 1 : text === 'stderr' ? 2 : text;
}
