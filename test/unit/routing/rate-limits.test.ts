import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Routing } from '../../../src/routing/routing.js';
import { rateLimitersOf } from '../../../src/routing/rate-limits.js';
import { LeasedRateLimiter } from '../../../src/routing/leased-rate-limiter.js';
import { RateLimiter } from '../../../src/routing/rate-limiter.js';
import { Clock } from '../../../src/clock.js';
import { EventLog } from '../../../src/log/event-log.js';
import { HealthChecks } from '../../../src/balancer/active-health.js';
import { Discovery } from '../../../src/dns/discovery.js';
import { withDefaults } from '../../../src/options/options.js';

const options = withDefaults({
  backends: [{ host: '127.0.0.1', port: 1 }],
  rateLimit: 10,
  routes: [
    { host: 'api.example.com', pathPrefix: '/v1', port: null, pool: 'default', rateLimit: { rate: 5, burst: 0 } },
    { host: null, pathPrefix: null, port: 8081, pool: 'default', rateLimit: null },
    { host: null, pathPrefix: null, port: null, pool: 'default', rateLimit: { rate: 0, burst: 0 } },
    { host: null, pathPrefix: '/x', port: null, pool: 'default', rateLimit: { rate: 1, burst: 3 } },
  ],
});

function build(leases: boolean): Routing {
  const log = new EventLog('silent', 2);
  const services = { clock: new Clock(() => {}), log, checks: new HealthChecks(log), discovery: new Discovery(log, options), recordPicks: false };
  return Routing.build(options, null, services, leases ? { lease: () => {} } : null);
}

test('the primary\'s limiters (rateLimitersOf) carry the names of those each worker routes with, leased or not', () => {
  const primary = rateLimitersOf(options);
  assert.equal([...primary.keys()], ['*', '1 api.example.com/v1', '4 /x']);
  for (const leased of [false, true]) {
    const limiters = build(leased).rateLimiters;
    assert.equal(limiters.map((l) => l.name), [...primary.keys()]);
    assert.ok(limiters.every((l) => (leased ? l instanceof LeasedRateLimiter : l instanceof RateLimiter)));
  }
  assert.equal(primary.get('1 api.example.com/v1')?.lease('c', 9, 0), { granted: 5, retryAfter: 1 }, 'a burst of 0 means the rate');
});

test.run();
