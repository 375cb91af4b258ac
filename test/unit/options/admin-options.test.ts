import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCommandLine } from '../../../src/cli.js';
import { ConfigError, loadConfig } from '../../../src/options/config/load-config.js';
import { DEFAULTS, OptionError } from '../../../src/options/options.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../../../../fixtures/configs/${name}`, import.meta.url));

test('--admin and --metrics-buckets: off and Prometheus\' buckets by default; durations in ascending order', () => {
  assert.is(DEFAULTS.admin, null);
  assert.is(DEFAULTS.adminToken, null);
  assert.equal(DEFAULTS.metricsBuckets, [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
  const options = parseCommandLine(['--backend', '127.0.0.1:9001', '--admin', '127.0.0.1:9901', '--metrics-buckets', '1ms,20ms,1s']);
  assert.ok(options !== 'help');
  assert.equal(options.admin, { host: '127.0.0.1', port: 9901 });
  assert.equal(options.metricsBuckets, [0.001, 0.02, 1]);
  for (const bad of ['10ms,5ms', '5ms,5ms', 'fast', '0ms']) {
    assert.throws(() => parseCommandLine(['--backend', '127.0.0.1:9001', `--metrics-buckets=${bad}`]), (err: unknown) => err instanceof OptionError && /--metrics-buckets/.test((err as Error).message), bad);
  }
  assert.throws(() => parseCommandLine(['--backend', '127.0.0.1:9001', '--admin=nowhere']), (err: unknown) => err instanceof OptionError);
});

test('the admin section of a config file: listen, token (config only) and buckets; buckets out of order name the line', () => {
  assert.equal(loadConfig(fixture('admin.yaml')), {
    backends: [{ host: '127.0.0.1', port: 9001 }],
    admin: { host: '127.0.0.1', port: 9901 },
    adminToken: 'abc',
    metricsBuckets: [0.005, 0.05, 1],
  });
  try {
    loadConfig(fixture('bad-admin-buckets.yaml'));
    assert.unreachable('buckets out of order were accepted');
  } catch (err) {
    assert.instance(err, ConfigError);
    assert.match((err as Error).message, /bad-admin-buckets\.yaml:5: admin\.buckets: expected durations in ascending order/);
  }
});

test.run();
