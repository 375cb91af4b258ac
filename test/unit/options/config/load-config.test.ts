import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError, loadConfig } from '../../../../src/options/config/load-config.js';

const FIXTURES = new URL('../../../../../fixtures/configs/', import.meta.url);
const fixture = (name: string): string => fileURLToPath(new URL(name, FIXTURES));

function configError(name: string): ConfigError {
  try {
    loadConfig(fixture(name));
  } catch (err) {
    assert.instance(err, ConfigError);
    return err as ConfigError;
  }
  assert.unreachable(`${name}: expected a ConfigError, got none`);
  throw new Error('unreachable');
}

test('edge.yaml: workers, an HTTPS listener with two certificates, a TCP listener, an https:// backend, the Redis store', () => {
  const o = loadConfig(fixture('edge.yaml'));
  assert.is(o.workers, 2);
  assert.is(o.listen?.length, 3);
  const [plain, https, tcp] = o.listen ?? [];
  assert.equal(plain, { host: '127.0.0.1', port: 8080 });
  assert.equal(https?.tls?.certificates.map((c) => c.names), [['default.test', 'localhost'], ['a.test']]);
  assert.is(https?.tls?.minVersion, 'TLSv1.2');
  assert.equal([tcp?.mode, tcp?.pool], ['tcp', 'redis']);
  assert.equal(o.backends, [{ host: 'localhost', port: 9443, https: true }]);
  assert.match(o.backendCa?.pem ?? '', /BEGIN CERTIFICATE/);
  assert.equal([o.handshakeTimeoutMs, o.tcpIdleTimeoutMs], [5_000, 600_000]);
  assert.equal([o.rateLimitStore, o.rateLimitStoreFailure], ['redis://127.0.0.1:6379/0', 'open']);
});

test('example.yaml and example.toml load to the same options, durations in ms, sizes in bytes, weights kept', () => {
  const yaml = loadConfig(fixture('example.yaml'));
  const toml = loadConfig(fixture('example.toml'));
  assert.equal(yaml, toml);
  assert.equal(yaml, {
    listen: [{ host: '127.0.0.1', port: 8081 }],
    policy: 'p2c',
    backends: [
      { host: '127.0.0.1', port: 9001 },
      { host: '127.0.0.1', port: 9002, weight: 2 },
      { host: '::1', port: 9003, weight: 0.5 },
    ],
    connectTimeoutMs: 750,
    responseTimeoutMs: 30_000,
    backendIdleTimeoutMs: 4_000,
    headerTimeoutMs: 10_000,
    keepAliveTimeoutMs: 120_000,
    shutdownTimeoutMs: 1_500,
    maxHeadBytes: 32_768,
    maxBodyBytes: 10 * 1024 * 1024,
    maxConnections: 5_000,
    maxPipeline: 16,
    maxConnectionsPerBackend: 64,
    failuresToEject: 3,
    ejectCooldownMs: 15_000,
    rateLimit: 100,
    rateBurst: 200,
    rateLimitClients: 50_000,
    accessLog: 'combined',
    accessLogFile: '/var/log/chanlb.log',
  });
});

test('routes.yaml and routes.toml: frontends, pools, routes, per-route rate limits, trusted proxies, log', () => {
  const yaml = loadConfig(fixture('routes.yaml'));
  const toml = loadConfig(fixture('routes.toml'));
  assert.equal(yaml, toml);
  const local = (port: number, weight?: number): { host: string; port: number; weight?: number } =>
    weight === undefined ? { host: '127.0.0.1', port } : { host: '127.0.0.1', port, weight };
  assert.equal(yaml, {
    listen: [local(8080), local(8443)],
    backends: [local(9001)],
    pools: [
      { name: 'api', backends: [local(9101), local(9102, 2)], policy: 'least-pending' },
      { name: 'static', backends: [local(9201)], policy: 'round-robin' },
      { name: 'admin', backends: [local(9301)], policy: 'least-pending' },
    ],
    routes: [
      { host: 'api.example.com', pathPrefix: '/v1', port: null, pool: 'api', rateLimit: { rate: 50, burst: 100 } },
      { host: '*.static.example.com', pathPrefix: null, port: null, pool: 'static', rateLimit: { rate: 0, burst: 0 } },
      { host: null, pathPrefix: '/static/', port: null, pool: 'static', rateLimit: null },
      { host: null, pathPrefix: null, port: 8443, pool: 'admin', rateLimit: null },
    ],
    trustedProxies: ['10.0.0.0/8', '::1'],
    rateLimit: 10,
    rateBurst: 20,
    logLevel: 'warn',
    logTo: 1,
  });
});

test('failover.yaml and failover.toml: retry, health_check and health.slow_start, and pools with settings of their own', () => {
  const yaml = loadConfig(fixture('failover.yaml'));
  const toml = loadConfig(fixture('failover.toml'));
  assert.equal(yaml, toml);
  const local = (port: number): { host: string; port: number } => ({ host: '127.0.0.1', port });
  assert.equal(yaml, {
    backends: [local(9001), local(9002)],
    maxBackendQueue: 512,
    failuresToEject: 4,
    slowStartMs: 30_000,
    healthCheck: 'http',
    healthCheckPath: '/healthz?full=1',
    healthCheckMethod: 'HEAD',
    healthCheckHost: 'health.example.com:8080',
    healthCheckExpect: [[200, 299], [404, 404]],
    healthCheckIntervalMs: 5_000,
    healthCheckTimeoutMs: 750,
    healthCheckRise: 3,
    healthCheckFall: 5,
    healthCheckJitter: 25,
    retries: 3,
    retryOn: ['connect-failure', 'reset', 'timeout', '503'],
    retryTimeoutMs: 2_000,
    retryBudgetPercent: 50,
    retryBudgetMin: 10,
    pools: [
      {
        name: 'api',
        backends: [local(9101)],
        policy: 'round-robin',
        // Every setting a pool may give, zeros and "off" kept (not mistaken for "not given").
        settings: {
          slowStartMs: 0,
          healthCheck: 'tcp',
          healthCheckPath: '/ping',
          healthCheckMethod: 'OPTIONS',
          healthCheckHost: 'api.internal',
          healthCheckExpect: [[204, 204]],
          healthCheckIntervalMs: 1_000,
          healthCheckTimeoutMs: 300,
          healthCheckRise: 1,
          healthCheckFall: 1,
          healthCheckJitter: 0,
          retries: 0,
          retryOn: ['502', '504'],
          retryTimeoutMs: 500,
          retryBudgetPercent: 0,
          retryBudgetMin: 1,
        },
      },
      { name: 'static', backends: [local(9201)], policy: 'least-pending', settings: { slowStartMs: 60_000 } },
      // Nothing of its own: no settings at all, rather than an empty table.
      { name: 'plain', backends: [local(9301)], policy: 'least-pending' },
    ],
  });
});

test('proxy-protocol.yaml and .toml: accept_proxy, trusted proxies, send_proxy proxy-wide and per pool ("off" kept)', () => {
  const yaml = loadConfig(fixture('proxy-protocol.yaml'));
  assert.equal(yaml, loadConfig(fixture('proxy-protocol.toml')));
  const local = (port: number): { host: string; port: number } => ({ host: '127.0.0.1', port });
  assert.equal(yaml, {
    listen: [{ host: '0.0.0.0', port: 8080 }],
    acceptProxy: true,
    trustedProxies: ['10.0.0.0/8'],
    sendProxy: 'v1',
    backends: [local(9001)],
    pools: [
      { name: 'haproxy_behind', backends: [local(9101)], policy: 'least-pending', settings: { sendProxy: 'v2' } },
      { name: 'plain', backends: [local(9201)], policy: 'least-pending', settings: { sendProxy: 'off' } },
    ],
  });
});

test('only the options present are returned; an access-log file alone means JSON, as with --access-log-file', () => {
  assert.equal(loadConfig(fixture('file-only-log.toml')), {
    backends: [{ host: '127.0.0.1', port: 9001 }],
    accessLog: 'json',
    accessLogFile: '/tmp/chanlb-access.log',
  });
});

// [fixture, line, field path, a fragment of what was expected or found]
const INVALID: readonly [string, number, string, string][] = [
  ['typo-key.yaml', 5, 'timeouts.respones', 'unknown key "respones"'],
  ['typo-key.toml', 5, 'timeouts.respones', 'unknown key "respones"'],
  ['typo-top.toml', 2, 'polcy', 'unknown key "polcy"'],
  ['bad-duration.yaml', 4, 'health.eject_cooldown', 'got "10 seconds"'],
  ['bad-duration.toml', 5, 'health.eject_cooldown', 'got "10 seconds"'],
  ['empty-backends.yaml', 3, 'backends', 'got an empty list'],
  ['empty-backends.toml', 3, 'backends', 'got an empty list'],
  ['bad-address.yaml', 4, 'backends[2]', 'HOST:PORT'],
  ['bad-address.toml', 4, 'backends[2]', 'HOST:PORT'],
  ['zero-weight.yaml', 5, 'backends[1].weight', 'expected a number > 0, got 0'],
  ['zero-weight.toml', 7, 'backends[1].weight', 'expected a number > 0, got 0'],
  ['zero-weight-inline.toml', 4, 'backends[2].weight', 'expected a number > 0, got 0'],
  ['wrong-type.yaml', 4, 'limits.max_pipeline', 'expected a whole number >= 1, got "many"'],
  ['wrong-type.toml', 4, 'limits.max_pipeline', 'expected a whole number >= 1, got "many"'],
  ['route-unknown-pool.yaml', 8, 'routes[1].pool', 'expected one of the pools api, got "apii"'],
  ['route-unknown-pool.toml', 10, 'routes[1].pool', 'expected one of the pools api, got "apii"'],
  ['route-bad-host.yaml', 3, 'routes[0].host', 'got "api.*.com"'],
  ['route-bad-path.toml', 5, 'routes[0].path', 'starting with "/"'],
  ['route-bad-port.yaml', 4, 'routes[0].port', 'expected a port number 1-65535, got 70000'],
  ['route-rate-limit-typo.yaml', 6, 'routes[0].rate_limit.brust', 'unknown key "brust"'],
  ['pool-without-backends.toml', 1, 'pools.api', 'expected a "backends" key'],
  ['default-pool-twice.yaml', 3, 'pools.default', 'beside top-level backends'],
  ['bad-trusted-proxy.toml', 4, 'trusted_proxies[1]', 'got "10.0.0.0/33"'],
  ['bad-log-level.yaml', 3, 'log.level', 'expected one of debug, info, warn, error, silent, got "verbose"'],
  ['bad-health-check-expect.yaml', 4, 'health_check.expect', 'expected status codes or ranges 100-599 ("200-399", "200,204"), got a list of 1'],
  ['bad-health-check-expect.toml', 5, 'health_check.expect', 'got "200,300-200"'],
  ['bad-health-check-type.toml', 4, 'health_check.type', 'expected one of off, http, tcp, got "udp"'],
  ['bad-health-check-path.yaml', 4, 'health_check.path', 'expected a path starting with "/", without spaces, got "healthz"'],
  ['bad-health-check-method.yaml', 4, 'health_check.method', 'expected one of GET, HEAD, OPTIONS, got "POST"'],
  ['bad-health-check-host.toml', 5, 'health_check.host', 'expected a host name, with a port if it must have one, got "example.com\\r\\nX-Injected: 1"'],
  ['bad-health-check-jitter.yaml', 3, 'health_check.jitter', 'expected a whole number of percent, 0-100, got "10%"'],
  ['health-check-typo.yaml', 4, 'health_check.intervall', 'unknown key "intervall"'],
  ['bad-retry-on.yaml', 5, 'retry.on', 'expected a list of connect-failure, reset, timeout, 502, 503, 504, got a list of 2'],
  ['bad-retry-on.toml', 5, 'retry.on', 'expected a list of connect-failure, reset, timeout, 502, 503, 504, got a list of 2'],
  ['bad-retry-budget.yaml', 3, 'retry.budget_percent', 'expected a whole number of percent, 0-100, got 150'],
  ['bad-retries.toml', 4, 'retry.retries', 'expected a whole number >= 0, got -1'],
  ['retry-typo.toml', 5, 'retry.retry_on', 'unknown key "retry_on"'],
  ['bad-slow-start.yaml', 4, 'health.slow_start', 'or 0 or "off" for off, got "soon"'],
  ['bad-max-backend-queue.toml', 5, 'limits.max_backend_queue', 'expected a whole number >= 1, got 0'],
  ['pool-bad-rise.yaml', 6, 'pools.api.health_check.rise', 'expected a whole number >= 1, got 0'],
  ['pool-bad-rise.toml', 7, 'pools.api.health_check.rise', 'expected a whole number >= 1, got 0'],
  ['pool-bad-slow-start.toml', 3, 'pools.api.slow_start', 'got "-5s"'],
  ['pool-retry-typo.yaml', 6, 'pools.api.retry.budget', 'unknown key "budget"'],
  ['pool-health-section.yaml', 4, 'pools.api.health', 'expected one of the keys backends, policy, slow_start, health_check, retry, send_proxy, got unknown key "health"'],
  ['pool-bad-send-proxy.yaml', 4, 'pools.api.send_proxy', 'expected one of off, v1, v2, got "v3"'],
  ['syntax-error.yaml', 5, 'YAML syntax', 'All mapping items must start at the same column'],
  ['syntax-error.toml', 5, 'TOML syntax', 'expected valid TOML, got'],
];

for (const [name, line, field, fragment] of INVALID) {
  test(`${name}: ConfigError at line ${line}, naming ${field}`, () => {
    const err = configError(name);
    assert.is(err.code, 'PRX_ERR_CONFIG');
    assert.not.match(err.message, '\n');
    assert.ok(err.message.startsWith(`${fixture(name)}:${line}: ${field}: `), err.message);
    assert.match(err.message, fragment);
  });
}

test('a config without backends sets none (they may come from --backend)', () => {
  const options = loadConfig(fixture('no-backends.yaml'));
  assert.is(options.backends, undefined);
  assert.equal(options.listen, [{ host: '0.0.0.0', port: 8080 }]);
});

test('an unsupported extension or a missing file is a ConfigError naming the file', () => {
  assert.match(configError('unsupported.json').message, /unsupported\.json: config file: expected a \.yaml, \.yml or \.toml extension, got "\.json"$/);
  assert.match(configError('no-such-file.toml').message, /no-such-file\.toml: config file: expected a readable file, got ENOENT$/);
});

test.run();
