/**
 * Command-line flags → ProxyOptions. Every bad flag or value is an OptionError whose message names it.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from './options/config/load-config.js';
import { parseAddressOrSubnet } from './options/address-or-subnet.js';
import { LOG_LEVELS, POLICIES } from './options/vocabulary.js';
import {
  ACCESS_LOG_CHOICES, DEFAULT_LISTEN_HOST, DEFAULTS, OptionError, parseAddress, parseChoice, parseCount, parseDuration, parseLogTarget, parseSize, withDefaults,
  type ProxyOptions,
} from './options/options.js';

const d = DEFAULTS;
const listenDefault = d.listen.map((a) => `${a.host}:${a.port}`).join(', ');
export const USAGE = `Usage: chanlb [--listen HOST:PORT ...] --backend HOST:PORT [--backend HOST:PORT ...] [options]
       chanlb --config FILE [options]

  --listen HOST:PORT          where to accept clients; repeat for several (default ${listenDefault})
  --backend HOST:PORT         a backend of the default pool; repeat the flag or separate with commas
  --config FILE               YAML (.yaml, .yml) or TOML (.toml): pools, routes and every setting; flags
                              given as well win. SIGHUP re-reads it (and these flags)
  --policy NAME               ${POLICIES.join(' | ')} (default ${d.policy})
  --access-log FORMAT         off | json | combined: one line per request (default ${d.accessLog})
  --access-log-file PATH      append the access log to PATH instead of standard output
  --log-level LEVEL           ${LOG_LEVELS.join(' | ')}: the error log (backend failures, refused requests,
                              reloads) at this level and above (default ${d.logLevel})
  --log-file PATH             the error log's destination: a file, stdout or stderr (default stderr)
  --trust-proxy ADDR          an address or CIDR subnet whose X-Forwarded-For names the client (rate
                              limits, logs); repeat the flag or separate with commas
  --allow-trace               forward TRACE requests (default: answer 405, as they echo cookies back)

Limits and timeouts (durations take ms, s or m; sizes k, m or g):
  --connect-timeout D         backend TCP connect (default ${d.connectTimeoutMs}ms) -> 502
  --response-timeout D        backend silent after a request or mid-response (default ${d.responseTimeoutMs}ms) -> 504
  --backend-idle-timeout D    idle pooled backend sockets close (default ${d.backendIdleTimeoutMs}ms)
  --header-timeout D          client must finish a request head (default ${d.headerTimeoutMs}ms) -> 408
  --keep-alive-timeout D      idle client connections close (default ${d.keepAliveTimeoutMs}ms)
  --max-header-bytes N        request line + headers (default ${d.maxHeadBytes}) -> 431 / 414
  --max-body-bytes N          request body (default ${d.maxBodyBytes}) -> 413
  --max-connections N         client connections at once, 0 for no limit (default ${d.maxConnections})
  --max-pipeline N            requests in flight per client connection (default ${d.maxPipeline})
  --max-backend-connections N sockets per backend (default ${d.maxConnectionsPerBackend})
  --eject-after N             consecutive failures that take a backend out (default ${d.failuresToEject})
  --eject-cooldown D          how long it stays out (default ${d.ejectCooldownMs}ms)
  --shutdown-timeout D        on SIGTERM/SIGINT, time for requests in flight to finish (default ${d.shutdownTimeoutMs}ms)
  --rate-limit N              requests per second per client address after its burst, 0 for none (default ${d.rateLimit}) -> 429
  --rate-burst N              requests a client address may make at once (default: the rate, at least 1)
  --rate-limit-clients N      client addresses the rate limit tracks at most (default ${d.rateLimitClients})
  --help                      this text
`;

const FLAGS = {
  listen: { type: 'string', multiple: true },
  backend: { type: 'string', multiple: true },
  'log-level': { type: 'string' },
  'log-file': { type: 'string' },
  'trust-proxy': { type: 'string', multiple: true },
  config: { type: 'string' },
  policy: { type: 'string' },
  'access-log': { type: 'string' },
  'access-log-file': { type: 'string' },
  'connect-timeout': { type: 'string' },
  'response-timeout': { type: 'string' },
  'backend-idle-timeout': { type: 'string' },
  'header-timeout': { type: 'string' },
  'keep-alive-timeout': { type: 'string' },
  'max-header-bytes': { type: 'string' },
  'max-body-bytes': { type: 'string' },
  'max-connections': { type: 'string' },
  'max-pipeline': { type: 'string' },
  'max-backend-connections': { type: 'string' },
  'eject-after': { type: 'string' },
  'eject-cooldown': { type: 'string' },
  'shutdown-timeout': { type: 'string' },
  'rate-limit': { type: 'string' },
  'rate-burst': { type: 'string' },
  'rate-limit-clients': { type: 'string' },
  'allow-trace': { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

type NumericOption = { [K in keyof ProxyOptions]: ProxyOptions[K] extends number ? K : never }[keyof ProxyOptions];
type LimitFlag = Exclude<keyof typeof FLAGS,
  'listen' | 'backend' | 'config' | 'policy' | 'access-log' | 'access-log-file' | 'log-level' | 'log-file' | 'trust-proxy' | 'allow-trace' | 'help'>;
const atLeast = (min: number) => (flag: string, text: string): number => parseCount(flag, text, min);

const LIMITS: readonly [LimitFlag, NumericOption, (flag: string, text: string) => number][] = [
  ['connect-timeout', 'connectTimeoutMs', parseDuration],
  ['response-timeout', 'responseTimeoutMs', parseDuration],
  ['backend-idle-timeout', 'backendIdleTimeoutMs', parseDuration],
  ['header-timeout', 'headerTimeoutMs', parseDuration],
  ['keep-alive-timeout', 'keepAliveTimeoutMs', parseDuration],
  ['max-header-bytes', 'maxHeadBytes', parseSize],
  ['max-body-bytes', 'maxBodyBytes', parseSize],
  ['max-connections', 'maxConnections', atLeast(0)],
  ['max-pipeline', 'maxPipeline', atLeast(1)],
  ['max-backend-connections', 'maxConnectionsPerBackend', atLeast(1)],
  ['eject-after', 'failuresToEject', atLeast(1)],
  ['eject-cooldown', 'ejectCooldownMs', parseDuration],
  ['shutdown-timeout', 'shutdownTimeoutMs', parseDuration],
  ['rate-limit', 'rateLimit', atLeast(0)],
  ['rate-burst', 'rateBurst', atLeast(0)],
  ['rate-limit-clients', 'rateLimitClients', atLeast(1)],
];

export function parseCommandLine(argv: string[]): ProxyOptions | 'help' {
  let values;
  try {
    values = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new OptionError((err as Error).message.split('\n')[0] ?? 'bad arguments');
  }
  if (values.help === true) return 'help';
  // The file first, then every flag given on top of it.
  const fromFile = values.config === undefined ? {} : loadConfig(values.config);
  const list = (texts: string[] | undefined): string[] =>
    (texts ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  const flagBackends = list(values.backend).map((v) => parseAddress('--backend', v, '127.0.0.1'));
  const options: Partial<ProxyOptions> & { backends: ProxyOptions['backends'] } = {
    ...fromFile,
    backends: flagBackends.length > 0 ? flagBackends : fromFile.backends ?? [],
  };
  const v = values;
  if (v.listen !== undefined) options.listen = v.listen.map((text) => parseAddress('--listen', text, DEFAULT_LISTEN_HOST));
  if (v.policy !== undefined) options.policy = parseChoice('--policy', v.policy, POLICIES);
  if (v['access-log'] !== undefined) options.accessLog = parseChoice('--access-log', v['access-log'], ACCESS_LOG_CHOICES);
  if (v['access-log-file'] !== undefined) {
    options.accessLogFile = v['access-log-file'];
    // A file alone means "log there": JSON unless a format was chosen.
    if (v['access-log'] === undefined && (options.accessLog ?? 'off') === 'off') options.accessLog = 'json';
  }
  if (v['log-level'] !== undefined) options.logLevel = parseChoice('--log-level', v['log-level'], LOG_LEVELS);
  if (v['log-file'] !== undefined) {
    if (v['log-file'] === '') throw new OptionError('--log-file: expected a file path, stdout or stderr');
    options.logTo = parseLogTarget(v['log-file']);
  }
  if (v['trust-proxy'] !== undefined) {
    options.trustedProxies = list(v['trust-proxy']);
    for (const entry of options.trustedProxies) {
      const parsed = parseAddressOrSubnet(entry);
      if (typeof parsed === 'string') throw new OptionError(`--trust-proxy: ${parsed}`);
    }
  }
  if (v['allow-trace'] === true) options.allowTrace = true;
  for (const [flag, key, parse] of LIMITS) {
    const text = v[flag];
    if (text !== undefined) options[key] = parse(`--${flag}`, text);
  }
  return withDefaults(options);
}
