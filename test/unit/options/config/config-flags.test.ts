import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { parseCommandLine } from '../../../../src/cli.js';
import { ConfigError } from '../../../../src/options/config/load-config.js';
import { withDefaults, type ProxyOptions } from '../../../../src/options/options.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../../../../../fixtures/configs/${name}`, import.meta.url));

function parse(argv: string[]): ProxyOptions {
  const options = parseCommandLine(argv);
  if (options === 'help') throw new Error('unexpected help');
  return options;
}

test('--config: the file sets the options; flags given as well win over it', () => {
  const fromFile = parse(['--config', fixture('example.yaml')]);
  assert.is(fromFile.policy, 'p2c');
  assert.is(fromFile.maxPipeline, 16);
  assert.is(fromFile.backends.length, 3);
  const overridden = parse(['--config', fixture('example.yaml'), '--max-pipeline', '4', '--policy', 'round-robin', '--backend', '127.0.0.1:7000']);
  assert.is(overridden.maxPipeline, 4);
  assert.is(overridden.policy, 'round-robin');
  assert.equal(overridden.backends, [{ host: '127.0.0.1', port: 7000 }], '--backend replaces the file\'s list');
  assert.is(overridden.connectTimeoutMs, fromFile.connectTimeoutMs, 'what no flag names stays as the file says');
});

test('--config: a bad file is a ConfigError naming file and line; a file without backends needs --backend', () => {
  assert.throws(() => parse(['--config', fixture('typo-key.yaml')]), (err: unknown) => err instanceof ConfigError && /typo-key\.yaml:\d+: /.test(err.message));
  assert.throws(() => parse(['--config', fixture('no-backends.yaml')]), /at least one backend/);
  assert.is(parse(['--config', fixture('no-backends.yaml'), '--backend', '127.0.0.1:7000']).backends.length, 1);
});

test('--listen repeats for several frontends; --trust-proxy and --log-level/--log-file are checked; flags win over the file', () => {
  const options = parse(['--config', fixture('routes.yaml'), '--listen', '127.0.0.1:7001', '--listen', ':7002', '--trust-proxy', '192.168.0.0/16,::1',
    '--log-level', 'error', '--log-file', 'stderr']);
  assert.equal(options.listen, [{ host: '127.0.0.1', port: 7001 }, { host: '0.0.0.0', port: 7002 }]);
  assert.equal(options.trustedProxies, ['192.168.0.0/16', '::1']);
  assert.is(options.logLevel, 'error');
  assert.is(options.logTo, 2);
  assert.equal(options.pools.map((p) => p.name), ['api', 'static', 'admin'], 'pools and routes come from the file');
  assert.is(options.routes.length, 4);
  assert.throws(() => parse(['--backend', '127.0.0.1:7000', '--trust-proxy', '10.0.0.0/40']), /^--trust-proxy: "10\.0\.0\.0\/40"/);
  assert.throws(() => parse(['--backend', '127.0.0.1:7000', '--log-level', 'loud']), /^--log-level: "loud" is not one of debug, info, warn, error, silent$/);
  assert.throws(() => parse(['--backend', '127.0.0.1:7000', '--listen', ':7001', '--listen', '0.0.0.0:7001']), /^--listen: 0\.0\.0\.0:7001 is given twice$/);
});

test('a config with pools and routes but no top-level backends needs no --backend', () => {
  const options = parse(['--config', fixture('route-only-pools.toml')]);
  assert.equal(options.backends, []);
  assert.equal(options.routes.map((r) => r.pool), ['api']);
});

test('options built in code are checked too: a route to a pool that is not defined is an OptionError naming it', () => {
  const route = { host: null, pathPrefix: '/api', port: null, pool: 'api', rateLimit: null };
  assert.throws(() => withDefaults({ backends: [{ host: '127.0.0.1', port: 7000 }], routes: [route] }), /^routes\[0\]\.pool: "api" is not a defined pool$/);
  assert.throws(() => withDefaults({ backends: [], pools: [{ name: 'web', policy: 'p2c', backends: [{ host: '127.0.0.1', port: 7000 }] }], routes: [{ ...route, pool: 'default' }] }),
    /"default" is not a defined pool/, 'no backends: no default pool');
  assert.is(withDefaults({ backends: [{ host: '127.0.0.1', port: 7000 }], routes: [{ ...route, pool: 'default' }] }).routes.length, 1);
});

test.run();
