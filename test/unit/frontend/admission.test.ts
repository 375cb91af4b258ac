import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Http1Parser, EV_HEAD, EV_ERROR } from '../../../src/http1/parser.js';
import { HeadScan } from '../../../src/http1/hop-by-hop.js';
import { Chan } from '../../../src/csp/chan.js';
import type { Job } from '../../../src/exchange/job.js';
import { Routing } from '../../../src/routing/routing.js';
import { RateLimiter } from '../../../src/routing/rate-limiter.js';
import { RouteTable } from '../../../src/routing/route-table.js';
import { Admission, parseRefusal, type AdmissionContext, type AdmissionLimits } from '../../../src/frontend/admission.js';
import { TrustedProxies } from '../../../src/frontend/trusted-proxies.js';

const LIMITS: AdmissionLimits = { maxHeadBytes: 16 * 1024, maxBodyBytes: 1000, allowTrace: false };
const work = new Chan<Job>(1);

function context(over: Partial<AdmissionContext> = {}): AdmissionContext {
  return { limits: LIMITS, routing: Routing.fixed(work), trustedProxies: null, ...over };
}

/** Admits one request head (the text up to the blank line); returns the refusal's status (0: admitted) and the admission. */
function admit(head: string, ctx = context(), peer = { address: '10.0.0.9', port: 8080 }): { status: number; code: string; a: Admission } {
  const p = new Http1Parser('request');
  assert.is(p.execute(Buffer.from(head, 'latin1'), 0), EV_HEAD, `${JSON.stringify(head)}: ${p.errorName}`);
  const scan = new HeadScan();
  scan.scan(p);
  const a = new Admission(peer, { leased: () => assert.unreachable('no limiter here asks for tokens') });
  const refusal = a.admit(p, scan, ctx, () => 0);
  p.destroy();
  return { status: refusal?.status ?? 0, code: refusal?.code ?? '', a };
}

test('the head checks, each with its status and code', () => {
  const cases: [string, number, string][] = [
    ['GET / HTTP/1.1\r\nHost: a\r\n\r\n', 0, ''],
    ['GET / HTTP/1.2\r\nHost: a\r\n\r\n', 0, ''],
    ['GET / HTTP/1.0\r\n\r\n', 0, ''],
    ['CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n', 501, 'PRX_ERR_NOT_IMPLEMENTED'],
    ['GET  / HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'PRX_ERR_REQUEST_LINE'],
    ['GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505, 'PRX_ERR_VERSION'],
    ['TRACE / HTTP/1.1\r\nHost: a\r\n\r\n', 405, 'PRX_ERR_METHOD_NOT_ALLOWED'],
    ['POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', 400, 'PRX_ERR_FRAMING'],
    ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 501, 'PRX_ERR_NOT_IMPLEMENTED'],
    ['GET / HTTP/1.1\r\n\r\n', 400, 'PRX_ERR_HOST'],
    ['GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400, 'PRX_ERR_HOST'],
    ['GET / HTTP/1.1\r\nHost: a/b@c\r\n\r\n', 400, 'PRX_ERR_HOST'],
    ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n', 413, 'PRX_ERR_BODY_TOO_LARGE'],
    ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n', 0, ''],
  ];
  for (const [head, status, code] of cases) {
    const got = admit(head);
    assert.is(got.status, status, JSON.stringify(head));
    assert.is(got.code, code, JSON.stringify(head));
  }
  assert.is(admit('TRACE / HTTP/1.1\r\nHost: a\r\n\r\n', context({ limits: { ...LIMITS, allowTrace: true } })).status, 0, 'TRACE when allowed');
});

test('routing: by the Host, or by an absolute-form target\'s authority; 404 when nothing matches and there is no default', () => {
  const api = { pool: { work }, rateLimiter: null };
  const table = new RouteTable([{ host: 'api.example.com', pathPrefix: '/v1', port: null, target: api }]);
  const ctx = context({ routing: Routing.of(table, null) });
  assert.is(admit('GET /v1/x HTTP/1.1\r\nHost: api.example.com\r\n\r\n', ctx).a.route, api);
  assert.is(admit('GET http://api.example.com/v1/x HTTP/1.1\r\nHost: other\r\n\r\n', ctx).a.route, api);
  const missed = admit('GET /v1/x HTTP/1.1\r\nHost: other\r\n\r\n', ctx);
  assert.is(missed.status, 404);
  assert.is(missed.code, 'PRX_ERR_NO_ROUTE');
});

test('the client address: the peer, or X-Forwarded-For past trusted hops; the rate limit is per client', () => {
  const trusted = TrustedProxies.parse(['10.0.0.0/8']);
  const rateLimiter = new RateLimiter({ rate: 1, burst: 1, maxClients: 10 });
  const ctx = context({ trustedProxies: trusted, routing: Routing.of(new RouteTable([]), { pool: { work }, rateLimiter }) });
  const head = 'GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.5, 10.1.1.1\r\n\r\n';
  const first = admit(head, ctx);
  assert.is(first.status, 0);
  assert.is(first.a.client, '203.0.113.5');
  const second = admit(head, ctx);
  assert.is(second.status, 429, 'the same client, over its burst');
  assert.is(second.a.retryAfter, 1);
  assert.is(admit(head.replace('203.0.113.5', '203.0.113.6'), ctx).status, 0, 'another client has its own bucket');
  assert.is(admit(head, ctx, { address: '192.0.2.1', port: 8080 }).a.client, '192.0.2.1', 'an untrusted peer: X-Forwarded-For is not believed');
});

test('parseRefusal: 414 in the request line, 431 in the fields, 501 only for a well-formed unknown method', () => {
  const refused = (bytes: string, maxHeadBytes = 64): string => {
    const p = new Http1Parser('request', { maxHeadBytes });
    assert.is(p.execute(Buffer.from(bytes, 'latin1'), 0), EV_ERROR, bytes);
    const r = parseRefusal(p, maxHeadBytes);
    p.destroy();
    return `${r.status} ${r.code}`;
  };
  assert.is(refused(`GET /${'a'.repeat(100)} HTTP/1.1\r\n`), '414 PRX_ERR_URI_TOO_LONG');
  assert.is(refused(`GET / HTTP/1.1\r\nX: ${'a'.repeat(100)}\r\n`), '431 PRX_ERR_HEAD_TOO_LARGE');
  assert.is(refused('BREW /pot HTTP/1.1\r\n', 1024), '501 PRX_ERR_NOT_IMPLEMENTED');
  assert.is(refused('G@T / HTTP/1.1\r\n', 1024), '400 PRX_ERR_PARSE');
  assert.is(refused('GET / HTTP/1.1\r\nHost : a\r\n', 1024), '400 PRX_ERR_PARSE');
});

test.run();
