import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { parseCommandLine } from '../cli.js';
import { ConfigError } from './load-config.js';
import type { ProxyOptions } from '../options.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../../../fixtures/configs/${name}`, import.meta.url));

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

test.run();
