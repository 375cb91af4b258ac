import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { RouteTable, type RouteRule } from '../../../src/routing/route-table.js';
import { hostPatternProblem, pathPrefixProblem } from '../../../src/options/route-patterns.js';

function rule(host: string | null, pathPrefix: string | null = null, port: number | null = null, target = 'x'): RouteRule<string> {
  return { host, pathPrefix, port, target };
}

/** One rule plus a default, so a miss shows as 'default' rather than undefined. */
function table(r: RouteRule<string>): RouteTable<string> {
  return new RouteTable([r, rule(null, null, null, 'default')]);
}

test('exact host, compared case-insensitively, without its port or trailing dot', () => {
  const t = table(rule('API.example.com', null, null, 'api'));
  assert.is(t.match('api.example.com', '/', 80), 'api');
  assert.is(t.match('Api.Example.COM', '/', 80), 'api', 'case');
  assert.is(t.match('api.example.com:8080', '/', 80), 'api', 'port in the Host header');
  assert.is(t.match('api.example.com.', '/', 80), 'api', 'trailing dot');
  assert.is(t.match('api.example.com.:8080', '/', 80), 'api', 'trailing dot and port');
  assert.is(t.match(' \tapi.example.com \t', '/', 80), 'api', 'spaces and tabs around');
  assert.is(t.match('www.example.com', '/', 80), 'default');
  assert.is(t.match('api.example.co', '/', 80), 'default');
  assert.is(t.match('xapi.example.com', '/', 80), 'default');
  assert.is(t.match('', '/', 80), 'default', 'no Host header');
  assert.is(new RouteTable([rule('example.com.', null, null, 'dot')]).match('EXAMPLE.com', '/', 80), 'dot', 'pattern with a trailing dot');
});

test('IPv6 host header keeps its brackets and loses its port', () => {
  const t = table(rule('[::1]', null, null, 'v6'));
  assert.is(t.match('[::1]', '/', 80), 'v6');
  assert.is(t.match('[::1]:8080', '/', 80), 'v6');
  assert.is(t.match('[::2]:8080', '/', 80), 'default');
  const upper = table(rule('[FE80::1]', null, null, 'v6'));
  assert.is(upper.match('[fe80::1]:443', '/', 80), 'v6', 'hex digits compare case-insensitively');
});

test('a wildcard matches one or several labels, but not the bare domain', () => {
  const t = table(rule('*.example.com', null, null, 'wild'));
  assert.is(t.match('a.example.com', '/', 80), 'wild', 'one label');
  assert.is(t.match('a.b.example.com', '/', 80), 'wild', 'several labels');
  assert.is(t.match('A.Example.Com.:443', '/', 80), 'wild', 'normalised like an exact host');
  assert.is(t.match('example.com', '/', 80), 'default', 'the bare domain');
  assert.is(t.match('example.com.', '/', 80), 'default', 'the bare domain with a trailing dot');
  assert.is(t.match('.example.com', '/', 80), 'default', 'an empty label before');
  assert.is(t.match('aexample.com', '/', 80), 'default', 'no dot before the domain');
  assert.is(t.match('a.example.com.evil', '/', 80), 'default');
});

test('path prefixes match whole segments', () => {
  const t = table(rule(null, '/api', null, 'api'));
  assert.is(t.match('h', '/api', 80), 'api');
  assert.is(t.match('h', '/api/', 80), 'api');
  assert.is(t.match('h', '/api/v1/users', 80), 'api');
  assert.is(t.match('h', '/api?x=1', 80), 'api', 'query string ignored');
  assert.is(t.match('h', '/api#frag', 80), 'api', 'fragment ignored');
  assert.is(t.match('h', '/apiary', 80), 'default', 'not a segment boundary');
  assert.is(t.match('h', '/ap', 80), 'default');
  assert.is(t.match('h', '/API', 80), 'default', 'case-sensitive');
  assert.is(t.match('h', '/%61pi', 80), 'default', 'no percent-decoding');
  assert.is(t.match('h', '/x/../api', 80), 'default', 'no dot-segment removal');
  assert.is(t.match('h', '/x?/api', 80), 'default', 'the query is not part of the path');
});

test('a prefix ending in / matches paths starting with it; / matches every path', () => {
  const t = table(rule(null, '/static/', null, 'static'));
  assert.is(t.match('h', '/static/', 80), 'static');
  assert.is(t.match('h', '/static/a.css?v=2', 80), 'static');
  assert.is(t.match('h', '/static', 80), 'default', 'the prefix is longer than the path');
  assert.is(t.match('h', '/staticx/', 80), 'default');
  const root = table(rule(null, '/', null, 'root'));
  for (const path of ['/', '/a', '/a/b?c', '/?x']) assert.is(root.match('h', path, 80), 'root', path);
});

test('an absolute-form target gives the path and replaces the Host header', () => {
  const t = new RouteTable([
    rule('a.example.com', '/api', null, 'a-api'),
    rule('a.example.com', null, null, 'a'),
    rule(null, null, null, 'default'),
  ]);
  assert.is(t.match('b.example.com', 'http://A.example.com:8080/api/v1?x', 80), 'a-api');
  assert.is(t.match('b.example.com', 'HTTPS://a.example.com/apiary', 80), 'a', 'scheme in any case; path still segment-aware');
  assert.is(t.match('b.example.com', 'http://a.example.com', 80), 'a', 'empty path');
  assert.is(t.match('a.example.com', 'http://b.example.com/api', 80), 'default', 'the Host header is ignored');
  assert.is(t.match('b.example.com', 'http://user@a.example.com/api', 80), 'a-api', 'userinfo is not the host');
  const root = table(rule(null, '/', null, 'root'));
  assert.is(root.match('h', 'http://h?x', 80), 'root', 'an empty path is /');
  assert.is(root.match('h', 'ftp://h/a', 80), 'default', 'another scheme has no path');
});

test('an asterisk-form target has no path: only rules without a prefix match', () => {
  const t = new RouteTable([rule(null, '/', null, 'root'), rule('h', null, null, 'host'), rule(null, null, null, 'default')]);
  assert.is(t.match('h', '*', 80), 'host');
  assert.is(t.match('other', '*', 80), 'default');
  assert.is(t.match('h', 'h:443', 80), 'host', 'authority-form has no path either');
});

test('port rules compare the listening port exactly', () => {
  const t = table(rule(null, null, 8443, 'tls'));
  assert.is(t.match('h', '/', 8443), 'tls');
  assert.is(t.match('h:8443', '/', 80), 'default', 'the port in the Host header is not the listening port');
  assert.is(t.match('h', '/', 844), 'default');
});

test('a combined rule needs every condition', () => {
  const t = table(rule('*.example.com', '/api', 443, 'all'));
  assert.is(t.match('a.example.com', '/api/x', 443), 'all');
  assert.is(t.match('example.com', '/api/x', 443), 'default', 'host');
  assert.is(t.match('a.example.com', '/apix', 443), 'default', 'path');
  assert.is(t.match('a.example.com', '/api/x', 80), 'default', 'port');
});

test('rules are tried in order, the first match wins; all-null is a default route', () => {
  const t = new RouteTable([
    rule('a.example.com', '/api', null, 'a-api'),
    rule('*.example.com', null, null, 'any-example'),
    rule('a.example.com', null, null, 'never: shadowed by the wildcard'),
    rule(null, null, null, 'default'),
    rule(null, '/', null, 'never: after the default'),
  ]);
  assert.is(t.match('a.example.com', '/api', 80), 'a-api');
  assert.is(t.match('a.example.com', '/web', 80), 'any-example');
  assert.is(t.match('other.org', '/', 80), 'default');
});

test('no match is undefined, and an empty table matches nothing', () => {
  const t = new RouteTable([rule('a.example.com', '/api', 80, 'a')]);
  assert.is(t.match('b.example.com', '/api', 80), undefined);
  assert.is(t.match('a.example.com', '/web', 80), undefined);
  assert.is(t.match('a.example.com', '/api', 81), undefined);
  const empty = new RouteTable<string>([]);
  assert.is(empty.size, 0);
  assert.is(empty.match('h', '/', 80), undefined);
  assert.is(t.size, 1);
});

test('needsHost and needsPath say which arguments match() reads', () => {
  const flags = (rules: RouteRule<string>[]): [boolean, boolean] => {
    const t = new RouteTable(rules);
    return [t.needsHost, t.needsPath];
  };
  assert.equal(flags([]), [false, false]);
  assert.equal(flags([rule(null, null, 80)]), [false, false]);
  assert.equal(flags([rule(null, '/api')]), [false, true]);
  // The target can carry the host (absolute-form), so host rules need the target too.
  assert.equal(flags([rule('h', null, null)]), [true, true]);
  assert.equal(flags([rule(null, null, 80), rule('*.h', '/')]), [true, true]);
  const t = new RouteTable([rule(null, '/api', null, 'api'), rule(null, null, null, 'default')]);
  assert.is(t.match('', '/api/x', 80), 'api', 'the host may be left out when not needed');
  const p = new RouteTable([rule(null, null, 80, 'p')]);
  assert.is(p.match('', '', 80), 'p', 'both may be left out');
});

test('hostPatternProblem accepts names, leading wildcards and IPv6 literals', () => {
  for (const good of ['example.com', 'API.Example.com', 'example.com.', 'localhost', '127.0.0.1', 'a-b_c.d1', '*.example.com', '*.com', '[::1]', '[fe80::1:2]', '[::ffff:10.0.0.1]']) {
    assert.is(hostPatternProblem(good), null, good);
  }
});

test('hostPatternProblem rejects everything else with a reason', () => {
  const cases: [string, RegExp][] = [
    ['', /non-empty/],
    ['.', /non-empty/],
    ['*', /wildcard/],
    ['*.', /domain after/],
    ['*..', /domain after/],
    ['*.a..b', /empty labels/],
    ['**.example.com', /wildcard/],
    ['*example.com', /wildcard/],
    ['a.*.example.com', /wildcard/],
    ['example.*', /wildcard/],
    ['*.*.example.com', /wildcard/],
    ['example.com:80', /port/],
    ['*.example.com:80', /port/],
    ['[::1]:80', /IPv6/],
    ['[example.com]', /IPv6/],
    ['exa mple.com', /letters/],
    [' example.com', /letters/],
    ['example.com\t', /letters/],
    ['exa/mple.com', /letters/],
    ['ex\u00e4mple.com', /letters/],
    ['a..b', /empty labels/],
    ['.example.com', /empty labels/],
    ['example.com..', /empty labels/],
  ];
  for (const [bad, reason] of cases) {
    const problem = hostPatternProblem(bad);
    assert.ok(problem !== null && reason.test(problem), `${JSON.stringify(bad)}: ${problem}`);
  }
});

test('pathPrefixProblem accepts absolute paths and rejects the rest with a reason', () => {
  for (const good of ['/', '/api', '/static/', '/a/b/c', '/%20x', '/a;b=c', '/~user']) assert.is(pathPrefixProblem(good), null, good);
  const cases: [string, RegExp][] = [
    ['', /starting with/],
    ['api', /starting with/],
    ['*', /starting with/],
    ['http://h/api', /starting with/],
    ['/api?x=1', /'\?' or '#'/],
    ['/api#x', /'\?' or '#'/],
    ['/a b', /visible ASCII/],
    ['/a\tb', /visible ASCII/],
    ['/a\nb', /visible ASCII/],
    ['/a\u007fb', /visible ASCII/],
    ['/\u00fc', /visible ASCII/],
  ];
  for (const [bad, reason] of cases) {
    const problem = pathPrefixProblem(bad);
    assert.ok(problem !== null && reason.test(problem), `${JSON.stringify(bad)}: ${problem}`);
  }
});

test('the constructor rejects rules the validators reject', () => {
  assert.throws(() => new RouteTable([rule('a.*.com')]), /route 0: host: expected .*wildcard/);
  assert.throws(() => new RouteTable([rule(null), rule(null, 'api')]), /route 1: path prefix: expected/);
  assert.throws(() => new RouteTable([rule(null, null, 65536)]), /route 0: port: expected/);
});

// The slow, obviously-correct model: regular expressions and label arrays instead of index arithmetic.

function referenceHost(raw: string): string {
  const trimmed = raw.replace(/^[ \t]+|[ \t]+$/g, '');
  const ipv6 = /^\[[^\]]*\]/.exec(trimmed);
  if (ipv6 !== null) return ipv6[0].toLowerCase();
  return trimmed.split(':')[0]!.replace(/\.$/, '').toLowerCase();
}

function referenceMatch(rules: RouteRule<number>[], hostHeader: string, target: string, port: number): number | undefined {
  let host = referenceHost(hostHeader);
  let path: string | null = null;
  const absolute = /^https?:\/\/([^/?#]*)([^?#]*)/i.exec(target);
  if (absolute !== null) {
    host = referenceHost(absolute[1]!.split('@').pop()!);
    path = absolute[2] === '' ? '/' : absolute[2]!;
  } else if (target.startsWith('/')) {
    path = target.split(/[?#]/)[0]!;
  }
  const hostOk = (pattern: string): boolean => {
    const want = pattern.toLowerCase().replace(/\.$/, '').split('.');
    const got = host.split('.');
    if (want[0] !== '*') return got.join('.') === want.join('.');
    const domain = want.slice(1);
    const before = got.slice(0, got.length - domain.length);
    // Something before the domain; malformed names like '.a.example.com' still count (a textual match).
    return before.join('.') !== '' && got.slice(before.length).join('.') === domain.join('.');
  };
  const pathOk = (prefix: string): boolean =>
    path !== null && (path === prefix || path.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`));
  return rules.find(
    (r) =>
      (r.host === null || hostOk(r.host)) &&
      (r.pathPrefix === null || pathOk(r.pathPrefix)) &&
      (r.port === null || r.port === port),
  )?.target;
}

test('property: match() agrees with the reference model, and leaving out unneeded arguments changes nothing', () => {
  // Few distinct labels and segments, so rules and requests often collide.
  const label = fc.constantFrom('a', 'b', 'api', 'example', 'com', 'Example', 'COM');
  const name = fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ls.join('.'));
  const pattern = fc.oneof(
    { weight: 4, arbitrary: name },
    { weight: 3, arbitrary: name.map((n) => `*.${n}`) },
    { weight: 1, arbitrary: fc.constantFrom('[::1]', '[FE80::1]', 'example.com.') },
  );
  const authority = fc
    .tuple(
      fc.oneof({ weight: 5, arbitrary: name }, { weight: 1, arbitrary: fc.constantFrom('[::1]', '[fe80::1]', '', '.example.com') }),
      fc.constantFrom('', '.'),
      fc.constantFrom('', ':80', ':8080'),
    )
    .map(([n, dot, p]) => (n.startsWith('[') ? n + p : n + dot + p));
  const hostHeader = fc.tuple(fc.constantFrom('', ' ', '\t '), authority, fc.constantFrom('', ' ', '\t')).map((parts) => parts.join(''));
  const segment = fc.constantFrom('', 'api', 'apiary', 'API', 'v1', 'static', '%2F', '..');
  const path = fc.array(segment, { minLength: 1, maxLength: 4 }).map((ss) => `/${ss.join('/')}`);
  const prefix = fc.oneof(path, path.map((p) => (p.endsWith('/') ? p : `${p}/`)));
  const suffix = fc.constantFrom('', '?', '?x=1', '?a=/api', '#f');
  const target = fc.oneof(
    { weight: 6, arbitrary: fc.tuple(path, suffix).map(([p, s]) => p + s) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.constantFrom('http', 'https', 'HTTP', 'Https'), authority, fc.oneof(path, fc.constant('')), suffix)
        .map(([scheme, a, p, s]) => `${scheme}://${a}${p}${s}`),
    },
    { weight: 1, arbitrary: fc.constantFrom('*', 'api:443', 'ftp://a/api') },
  );
  const listenPort = fc.constantFrom(80, 443, 8080);
  const ruleArb = fc.record({
    host: fc.option(pattern, { freq: 2 }),
    pathPrefix: fc.option(prefix, { freq: 2 }),
    port: fc.option(listenPort, { freq: 2 }),
  });
  const request = fc.record({ host: hostHeader, target, port: listenPort });

  fc.assert(
    fc.property(fc.array(ruleArb, { maxLength: 6 }), fc.array(request, { minLength: 1, maxLength: 10 }), (shapes, requests) => {
      const rules = shapes.map((s, i): RouteRule<number> => ({ ...s, target: i }));
      for (const r of rules) {
        if (r.host !== null && hostPatternProblem(r.host) !== null) throw new Error(`generated a bad host ${r.host}`);
        if (r.pathPrefix !== null && pathPrefixProblem(r.pathPrefix) !== null) throw new Error(`generated a bad prefix ${r.pathPrefix}`);
      }
      const t = new RouteTable(rules);
      for (const q of requests) {
        const want = referenceMatch(rules, q.host, q.target, q.port);
        const got = t.match(q.host, q.target, q.port);
        if (got !== want) throw new Error(`${JSON.stringify(q)}: got ${got}, want ${want}`);
        const lean = t.match(t.needsHost ? q.host : '', t.needsPath ? q.target : '', q.port);
        if (lean !== got) throw new Error(`${JSON.stringify(q)}: ${lean} with unneeded arguments left out, ${got} with them`);
      }
    }),
    { numRuns: 2000 },
  );
});

test.run();
