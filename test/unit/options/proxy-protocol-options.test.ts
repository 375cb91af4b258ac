/**
 * The PROXY protocol's flags: --accept-proxy (a switch, which needs trusted proxies) and
 * --send-proxy v1|v2 (the default for every pool that sets none).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCommandLine } from '../../../src/cli.js';
import { DEFAULTS, OptionError, type ProxyOptions } from '../../../src/options/options.js';
import { USAGE } from '../../../src/options/usage.js';

function parse(args: string[]): ProxyOptions {
  const options = parseCommandLine(['--backend', '127.0.0.1:9001', ...args]);
  if (options === 'help') throw new Error('unexpected help');
  return options;
}

function refusal(args: string[]): string {
  try {
    parse(args);
  } catch (err) {
    assert.instance(err, OptionError);
    return (err as Error).message;
  }
  throw new Error(`${JSON.stringify(args)} was accepted`);
}

test('defaults: nothing accepted, nothing sent', () => {
  assert.is(DEFAULTS.acceptProxy, false);
  assert.is(DEFAULTS.sendProxy, 'off');
});

test('--accept-proxy: on with trusted proxies; without any, refused with what to add', () => {
  assert.is(parse(['--accept-proxy', '--trust-proxy', '10.0.0.0/8']).acceptProxy, true);
  assert.is(refusal(['--accept-proxy']), '--accept-proxy: needs --trust-proxy (trusted_proxies) naming the proxies that may send a PROXY header');
});

test('--send-proxy: v1, v2 or off; anything else names the flag', () => {
  assert.is(parse(['--send-proxy', 'v1']).sendProxy, 'v1');
  assert.is(parse(['--send-proxy=v2']).sendProxy, 'v2');
  assert.is(parse(['--send-proxy', 'off']).sendProxy, 'off');
  assert.match(refusal(['--send-proxy=v3']), /^--send-proxy: /);
  assert.match(refusal(['--send-proxy=V1']), /^--send-proxy: /);
});

test('--help lists both', () => {
  assert.match(USAGE, '--accept-proxy');
  assert.match(USAGE, '--send-proxy v1|v2');
});

test('with TLS: --accept-proxy on a TLS listener and --send-proxy to an https:// backend are taken', () => {
  const tls = ['--tls-cert', 'fixtures/tls/a.test.pem', '--tls-key', 'fixtures/tls/a.test.key'];
  assert.ok(parse(['--accept-proxy', '--trust-proxy', '10.0.0.1', ...tls]).acceptProxy);
  assert.is(parse(['--send-proxy', 'v1', '--backend', 'https://127.0.0.1:9443']).sendProxy, 'v1');
});

test('TCP mode refuses https:// backends (it connects in plain TCP)', () => {
  assert.match(refusal(['--mode', 'tcp', '--backend', 'https://127.0.0.1:9443']), 'has https:// backends (TCP mode connects in plain TCP)');
});

test.run();
