/**
 * `dns:NAME:PORT` backends and the `dns` settings, from flags and from a config file: what they
 * become, and the errors that name the file, line and field.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCommandLine } from '../../../src/cli.js';
import { loadConfig } from '../../../src/options/config/load-config.js';
import type { ProxyOptions } from '../../../src/options/options.js';

function parse(argv: string[]): ProxyOptions {
  const options = parseCommandLine(argv);
  if (options === 'help') throw new Error('unexpected help');
  return options;
}

function yaml(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'chanlb-dns-')), 'chanlb.yaml');
  writeFileSync(file, text);
  return file;
}

test('--backend dns:NAME:PORT beside HOST:PORT; --dns-server, --dns-min-interval, --dns-max-interval, --dns-timeout', () => {
  const options = parse(['--backend', 'dns:API.internal:8080,10.0.0.1:80', '--dns-server', '127.0.0.1:5353,[::1]:53,10.0.0.2',
    '--dns-min-interval', '500ms', '--dns-max-interval', '30s', '--dns-timeout', '1s']);
  assert.equal(options.backends, [{ host: 'api.internal', port: 8080, dns: true }, { host: '10.0.0.1', port: 80 }]);
  assert.equal(options.dnsServers, ['127.0.0.1:5353', '[::1]:53', '10.0.0.2']);
  assert.equal([options.dnsMinIntervalMs, options.dnsMaxIntervalMs, options.dnsTimeoutMs], [500, 30_000, 1_000]);
  assert.equal(parse(['--backend', '10.0.0.1:80']).dnsServers, [], "the system's resolvers by default");
});

test('--backend dns: refuses an address, a missing port, and a min_interval above max_interval; takes TCP mode', () => {
  assert.throws(() => parse(['--backend', 'dns:10.0.0.1:80']), /"10\.0\.0\.1" in "dns:10\.0\.0\.1:80" is not a host name to resolve/);
  assert.throws(() => parse(['--backend', 'dns:api.internal']), /is not dns:NAME:PORT/);
  assert.throws(() => parse(['--backend', 'dns:api.internal:80', '--dns-server', 'dns.example.com']), /is not a DNS server's IP address/);
  assert.throws(() => parse(['--backend', 'dns:api.internal:80', '--dns-min-interval', '2m']), /dns\.min_interval: 120000 ms is longer than dns\.max_interval/);
  assert.ok(parse(['--backend', 'dns:api.internal:80', '--mode', 'tcp']).backends[0]?.dns, 'dns: backends in TCP mode too');
});

test('config: "dns:NAME:PORT" and { dns: NAME:PORT, weight } in a pool, and the dns section', () => {
  const options = loadConfig(yaml(`
dns: { servers: ["127.0.0.1:5353"], min_interval: 2s, max_interval: 10s, timeout: 500ms }
pools:
  api:
    backends: ["dns:api.internal:8080", { dns: "canary.internal:8080", weight: 2 }, { address: 10.0.0.1:80 }]
`));
  assert.equal(options.pools?.[0]?.backends, [
    { host: 'api.internal', port: 8080, dns: true }, { host: 'canary.internal', port: 8080, dns: true, weight: 2 }, { host: '10.0.0.1', port: 80 },
  ]);
  assert.equal([options.dnsServers, options.dnsMinIntervalMs, options.dnsMaxIntervalMs, options.dnsTimeoutMs], [['127.0.0.1:5353'], 2_000, 10_000, 500]);
});

test('config: a bad dns entry is an error naming the file, the line and the field', () => {
  const bad = (text: string, message: RegExp): void => assert.throws(() => loadConfig(yaml(text)), message);
  bad('backends:\n  - { dns: "10.0.0.1:80" }\n', /chanlb\.yaml:2: backends\[0\]\.dns: expected \[https:\/\/\]HOST:PORT or dns:NAME:PORT/);
  bad('backends:\n  - { dns: "api.internal:80", address: "10.0.0.1:80" }\n', /chanlb\.yaml:2: backends\[0\]: expected either an "address" or a "dns" key, got both/);
  bad('backends: [dns:api.internal:80]\ndns: { servers: [resolver.internal] }\n', /chanlb\.yaml:2: dns\.servers: expected a list of DNS server IP addresses/);
});

test.run();
