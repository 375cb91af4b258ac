/**
 * The failover options' flags: slow start, active health checks, retries and their budget. Each
 * valid form reads to its value; each bad value is an OptionError whose message starts with the
 * flag. The durations and counts among them (--health-check-interval, --retries, ...) are in the
 * tables of test/e2e/limits/limits.test.ts. Also: their defaults, and flags over a config file.
 */
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCommandLine } from '../../../src/cli.js';
import { DEFAULTS, OptionError, withDefaults, type ProxyOptions } from '../../../src/options/options.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../../../../fixtures/configs/${name}`, import.meta.url));

function parse(args: string[]): ProxyOptions {
  const options = parseCommandLine(['--backend', '127.0.0.1:9001', ...args]);
  if (options === 'help') throw new Error('unexpected help');
  return options;
}

/** `--flag text` (and `--flag=text`) read to `value`. */
function assertReads<K extends keyof ProxyOptions>(flag: string, key: K, text: string, value: ProxyOptions[K]): void {
  assert.equal(parse([flag, text])[key], value, `${flag} ${JSON.stringify(text)}`);
  assert.equal(parse([`${flag}=${text}`])[key], value, `${flag}=${JSON.stringify(text)}`);
}

function refusal(args: string[]): string {
  let error: unknown = null;
  try {
    parse(args);
  } catch (err) {
    error = err;
  }
  assert.instance(error, OptionError, `${JSON.stringify(args)} must be refused`);
  return (error as Error).message;
}

/**
 * `--flag text` is an OptionError naming the flag, and `--flag=text` one whose message starts with
 * it (node:util refuses `--flag -1` itself, as ambiguous; `--flag=-1` reaches the option's parser).
 */
function assertRefused(flag: string, text: string | undefined): void {
  if (text === undefined) {
    assert.ok(refusal([flag]).includes(flag), `${flag} without a value: the message names it`);
    return;
  }
  const separate = refusal([flag, text]);
  assert.ok(separate.includes(flag), `${flag} ${JSON.stringify(text)}: the message names the flag: ${separate}`);
  const joined = refusal([`${flag}=${text}`]);
  assert.ok(joined.startsWith(`${flag}: `), `${flag}=${JSON.stringify(text)}: the message starts with the flag: ${joined}`);
}

test('--slow-start: a duration (ms, s, m, bare ms), or 0, 0s or off for none', () => {
  const cases: [string, number][] = [
    ['30s', 30_000], ['500ms', 500], ['2m', 120_000], ['1500', 1_500], ['1.5s', 1_500], [' 10s ', 10_000],
    ['0', 0], ['0s', 0], ['0ms', 0], ['off', 0],
  ];
  for (const [text, ms] of cases) assertReads('--slow-start', 'slowStartMs', text, ms);
});

test('--slow-start: anything else is refused naming the flag (a duration rounding to 0 is not "off")', () => {
  for (const text of ['', 'soon', '-5s', '5x', '1h', '2 s', 'of', 'offf', 'off5s', '0.4', '0.4ms']) assertRefused('--slow-start', text);
  assertRefused('--slow-start', undefined);
});

test('--health-check-jitter and --retry-budget: a whole percent, 0 to 100', () => {
  for (const [flag, key] of [['--health-check-jitter', 'healthCheckJitter'], ['--retry-budget', 'retryBudgetPercent']] as const) {
    for (const n of [0, 1, 50, 100]) assertReads(flag, key, String(n), n);
    for (const text of ['101', '150', '-1', '50%', '1.5', '1e2', '', 'half']) assertRefused(flag, text);
    assertRefused(flag, undefined);
  }
  assert.throws(() => parse(['--retry-budget', '150']), /^--retry-budget: "150" is over 100 \(percent\)$/);
});

test('--health-check: off, http or tcp, spelt exactly', () => {
  for (const type of ['off', 'http', 'tcp'] as const) assertReads('--health-check', 'healthCheck', type, type);
  for (const text of ['udp', 'HTTP', 'https', '', 'http,tcp']) assertRefused('--health-check', text);
  assertRefused('--health-check', undefined);
});

test('--retry-on: a comma-separated list of connect-failure, reset, timeout, 502, 503, 504', () => {
  assertReads('--retry-on', 'retryOn', 'reset', ['reset']);
  assertReads('--retry-on', 'retryOn', 'connect-failure,reset,timeout,502,503,504', ['connect-failure', 'reset', 'timeout', '502', '503', '504']);
  assertReads('--retry-on', 'retryOn', ' timeout , 503 ', ['timeout', '503']);
  for (const text of ['sometimes', 'reset,sometimes', '500', 'Reset', 'connect_failure', '5xx']) assertRefused('--retry-on', text);
  assertRefused('--retry-on', undefined);
});

test('--health-check-expect: status codes and ranges 100-599, separated by commas', () => {
  assertReads('--health-check-expect', 'healthCheckExpect', '200', [[200, 200]]);
  assertReads('--health-check-expect', 'healthCheckExpect', '200-399,404', [[200, 399], [404, 404]]);
  assertReads('--health-check-expect', 'healthCheckExpect', '100-599', [[100, 599]]);
  assertReads('--health-check-expect', 'healthCheckExpect', ' 204 , 301-302 ', [[204, 204], [301, 302]]);
  assertReads('--health-check-expect', 'healthCheckExpect', '418-418', [[418, 418]]);
});

test('--health-check-expect: a status outside 100-599, a range backwards or anything else is refused', () => {
  for (const text of ['600', '099', '99', '1000', '300-200', '200-600', '200-', '-200', '2xx', 'ok', '', '200,', '200,,204', '200 - 399', '200-399;404']) {
    assertRefused('--health-check-expect', text);
  }
  assertRefused('--health-check-expect', undefined);
});

test('--health-check-path: a path starting with "/", query allowed, no spaces or controls', () => {
  for (const text of ['/', '/healthz', '/health?full=1&x=%20', '/a/b/c.json']) assertReads('--health-check-path', 'healthCheckPath', text, text);
  for (const text of ['nopath', 'healthz', '', 'http://host/health', '/a b', '/a\r\nX: y', '/a\tb', ' /health']) assertRefused('--health-check-path', text);
  assertRefused('--health-check-path', undefined);
});

test('--health-check-host: a host name, with a port or as [v6]; never spaces, CR or LF (nothing can be injected into the check)', () => {
  for (const text of ['example.com', 'health.example.com:8080', '10.0.0.1', '[::1]:8080', 'xn--bcher-kva.example']) {
    assertReads('--health-check-host', 'healthCheckHost', text, text);
  }
  for (const text of ['a b', 'example.com\r\nX-Injected: 1', 'example.com\n', '\rexample.com', 'a\tb', '', 'example.com/path', 'user@example.com']) {
    assertRefused('--health-check-host', text);
  }
  assertRefused('--health-check-host', undefined);
});

test('health_check.method is for config files only: there is no flag for it', () => {
  assert.throws(() => parse(['--health-check-method', 'GET']), (err: unknown) => err instanceof OptionError && /Unknown option '--health-check-method'/.test(err.message));
  assert.is(parse([]).healthCheckMethod, 'GET');
});

test('withDefaults: HAProxy\'s check defaults (inter 2s, rise 2, fall 3, timeout 1s), retries 2 on connect-failure and reset, budget 20% / min 3, no slow start, queue 4096', () => {
  const expected: Partial<ProxyOptions> = {
    slowStartMs: 0,
    healthCheck: 'off',
    healthCheckPath: '/',
    healthCheckMethod: 'GET',
    healthCheckHost: null,
    healthCheckExpect: [[200, 399]],
    healthCheckIntervalMs: 2_000,
    healthCheckTimeoutMs: 1_000,
    healthCheckRise: 2,
    healthCheckFall: 3,
    healthCheckJitter: 10,
    retries: 2,
    retryOn: ['connect-failure', 'reset'],
    retryTimeoutMs: 10_000,
    retryBudgetPercent: 20,
    retryBudgetMin: 3,
    maxBackendQueue: 4_096,
  };
  const options = withDefaults({ backends: [{ host: '127.0.0.1', port: 9001 }] });
  const fromFlags = parse([]);
  for (const [key, value] of Object.entries(expected) as [keyof ProxyOptions, unknown][]) {
    assert.equal(options[key], value, `withDefaults: ${key}`);
    assert.equal(DEFAULTS[key], value, `DEFAULTS: ${key}`);
    assert.equal(fromFlags[key], value, `no flag: ${key}`);
  }
});

test('flags win over the file\'s top-level failover settings and leave what a pool sets for itself alone', () => {
  const file = fixture('failover.yaml');
  const fromFile = parseCommandLine(['--config', file]);
  const options = parseCommandLine(['--config', file, '--retries', '5', '--health-check', 'off', '--slow-start', 'off', '--retry-on', '504',
    '--health-check-expect', '204']);
  assert.ok(fromFile !== 'help' && options !== 'help');
  assert.is(fromFile.retries, 3);
  assert.is(options.retries, 5);
  assert.is(options.healthCheck, 'off');
  assert.is(options.slowStartMs, 0);
  assert.equal(options.retryOn, ['504']);
  assert.equal(options.healthCheckExpect, [[204, 204]]);
  assert.is(options.healthCheckRise, fromFile.healthCheckRise, 'what no flag names stays as the file says');
  assert.equal(options.pools, fromFile.pools, 'pools keep their own settings');
  assert.equal(options.pools.find((p) => p.name === 'api')?.settings?.retries, 0);
});

test.run();
