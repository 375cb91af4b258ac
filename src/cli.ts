/**
 * Command-line flags → ProxyOptions, by the schema (options/schema.ts): each flag is read by its
 * option's kind, and the lists (--listen, --backend, --trust-proxy) by the readers below. Every bad
 * flag or value is an OptionError whose message names it.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfig } from './options/config/load-config.js';
import { addressOrSubnet, backendAddress, listenAddress } from './options/kinds.js';
import { OptionError, withDefaults, type ProxyOptions } from './options/options.js';
import { argOf, COMMAND_FLAGS, OPTION_KEYS, OPTIONS, type HandKey } from './options/schema.js';
import { loadCertificate } from './options/tls-files.js';

type Key = keyof ProxyOptions;
/** A list flag's texts → its option's value; undefined keeps the config file's. */
type FlagReader<K extends Key> = (flag: string, texts: string[]) => ProxyOptions[K] | undefined;

/** Repeated flags, each of which may also hold several values separated by commas. */
const commaList = (texts: string[]): string[] =>
  texts.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');

/** A reader for every option read by hand; null where it has no flag. */
const HAND_FLAGS: { readonly [K in HandKey]: FlagReader<K> | null } = {
  listen: (flag, texts) => texts.map((text) => listenAddress.parse(flag, text)),
  // --backend replaces the file's top-level backends (when it names any).
  backends: (flag, texts) => {
    const backends = commaList(texts).map((text) => backendAddress.parse(flag, text));
    return backends.length > 0 ? backends : undefined;
  },
  pools: null,
  routes: null,
  trustedProxies: (flag, texts) => commaList(texts).map((text) => addressOrSubnet.parse(flag, text)),
};
/** HAND_FLAGS, looked up by any key. */
const HAND_OF: { readonly [K in Key]?: FlagReader<K> | null } = HAND_FLAGS;

const name = (flag: string): string => flag.slice('--'.length);

/** node:util parseArgs' table: every option's flag, and the command line's own. */
const FLAGS: NonNullable<ParseArgsConfig['options']> = {};
for (const key of OPTION_KEYS) {
  const { flag, kind } = OPTIONS[key];
  // A list's flag may be repeated.
  if (flag !== undefined) FLAGS[name(flag)] = { type: argOf(key) === '' ? 'boolean' : 'string', multiple: kind.byHand };
}
for (const { flag, arg } of Object.values(COMMAND_FLAGS)) FLAGS[name(flag)] = { type: arg === '' ? 'boolean' : 'string' };

export function parseCommandLine(argv: string[]): ProxyOptions | 'help' {
  let values;
  try {
    values = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new OptionError((err as Error).message.split('\n')[0] ?? 'bad arguments');
  }
  if (values[name(COMMAND_FLAGS.help.flag)] === true) return 'help';
  const file = values[name(COMMAND_FLAGS.config.flag)];
  // The file first, then every flag given on top of it.
  const options: Partial<ProxyOptions> = typeof file === 'string' ? loadConfig(file) : {};
  const given = (key: Key): string | boolean | (string | boolean)[] | undefined => {
    const { flag } = OPTIONS[key];
    return flag === undefined ? undefined : values[name(flag)];
  };
  const read = <K extends Key>(key: K): void => {
    const { flag, kind } = OPTIONS[key];
    const value = given(key);
    if (flag === undefined || value === undefined) return;
    const hand = HAND_OF[key];
    if (!kind.byHand) {
      // A switch gives true, which its kind reads as "true".
      options[key] = kind.parse(flag, String(value));
    } else if (hand) {
      const list = hand(flag, (Array.isArray(value) ? value : [value]).map(String));
      if (list !== undefined) options[key] = list;
    }
  };
  OPTION_KEYS.forEach(read);
  // An access-log file alone means "log there": JSON unless a format was chosen.
  if (given('accessLogFile') !== undefined && given('accessLog') === undefined && (options.accessLog ?? 'off') === 'off') {
    options.accessLog = 'json';
  }
  withFlagTls(options);
  // --mode tcp: the listeners without a mode of their own pipe TCP to the default pool.
  if (options.mode === 'tcp') options.listen = (options.listen ?? OPTIONS.listen.default).map((l) => (l.mode === undefined ? { ...l, mode: 'tcp' } : l));
  return withDefaults({ ...options, backends: options.backends ?? [] });
}

/** --tls-cert and --tls-key: every listener without a tls of its own (from the config) serves HTTPS with them. */
function withFlagTls(options: Partial<ProxyOptions>): void {
  const { tlsCert, tlsKey } = options;
  if ((tlsCert ?? null) === null && (tlsKey ?? null) === null) return;
  if (tlsCert === null || tlsCert === undefined) throw new OptionError('--tls-key: give --tls-cert too');
  if (tlsKey === null || tlsKey === undefined) throw new OptionError('--tls-cert: give --tls-key too');
  let certificate;
  try {
    certificate = loadCertificate(tlsCert, tlsKey);
  } catch (err) {
    if (err instanceof OptionError) throw new OptionError(`--tls-cert/--tls-key: ${err.message}`);
    throw err;
  }
  const minVersion = options.tlsMinVersion ?? OPTIONS.tlsMinVersion.default;
  options.listen = (options.listen ?? OPTIONS.listen.default).map((l) => l.tls === undefined ? { ...l, tls: { certificates: [certificate], minVersion } } : l);
}
