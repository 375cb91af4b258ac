import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Http1Parser, EV_HEAD } from '../../../src/http1/parser.js';
import { RequestTarget, unknownMethodStatus, validHost } from '../../../src/http1/request-target.js';

const host = (value: string): boolean => validHost(Buffer.from(value, 'latin1'), 0, value.length);

test('validHost: uri-host [":" port] with a host that is not empty (RFC 3986 3.2.2, RFC 9110 4.2.1)', () => {
  for (const good of ['example.com', 'Example.COM.', 'a', 'a:80', 'a:', '127.0.0.1:8080', '[::1]', '[::1]:8080', '[v1.fe80::1+x]',
    'xn--bcher-kva.example', 'a-b_c~d', '%41b', "a!$&'()*+,;=b", 'h:65535', 'h:99999']) {
    assert.ok(host(good), good);
  }
  for (const bad of ['', ':80', 'a/b@c', 'a b', 'a@b', 'a:port', 'a:123456', '[::1', '[]', '[::1]x', 'a%4', 'a%zz', 'a\tb', 'a"b', 'a\\b', 'h:8:8']) {
    assert.not.ok(host(bad), JSON.stringify(bad));
  }
});

/** Parses a request head and reads its target; returns the status and the forwarded target and authority. */
function read(requestLine: string): { status: number; target: string; authority: string; reason: string } {
  const p = new Http1Parser('request');
  const ev = p.execute(Buffer.from(`${requestLine}\r\nHost: h\r\n\r\n`, 'latin1'), 0);
  assert.is(ev, EV_HEAD, `${requestLine}: llhttp parses it (${p.errorName})`);
  const t = new RequestTarget();
  const status = t.read(p);
  const target = (t.slash ? '/' : '') + p.head.toString('latin1', t.start, t.end);
  const authority = t.authorityStart < 0 ? '' : p.head.toString('latin1', t.authorityStart, t.authorityEnd);
  p.destroy();
  return { status, target, authority, reason: t.reason };
}

test('RequestTarget: origin-form and asterisk-form as they are; absolute-form taken apart (RFC 9112 3.2)', () => {
  const forwarded: [string, string, string][] = [
    ['GET /a/b?c=d HTTP/1.1', '/a/b?c=d', ''],
    ['OPTIONS * HTTP/1.1', '*', ''],
    ['GET http://example.com:8080/p?q HTTP/1.1', '/p?q', 'example.com:8080'],
    ['GET HTTPS://Example.com/x HTTP/1.1', '/x', 'Example.com'],
    ['GET http://example.com HTTP/1.1', '/', 'example.com'],
    ['GET http://example.com?q=1 HTTP/1.1', '/?q=1', 'example.com'],
    ['GET http://[::1]:81/ HTTP/1.1', '/', '[::1]:81'],
  ];
  for (const [line, target, authority] of forwarded) {
    const got = read(line);
    assert.is(got.status, 0, `${line}: ${got.reason}`);
    assert.is(got.target, target, line);
    assert.is(got.authority, authority, line);
  }
});

test('RequestTarget: shapes a proxy must not forward are 400, with a reason', () => {
  for (const line of [
    'GET  / HTTP/1.1', // two spaces after the method
    'GET /  HTTP/1.1', // two before the version
    'GET * HTTP/1.1', // asterisk-form with a method other than OPTIONS
    'GET /a#frag HTTP/1.1',
    'GET http://u:p@example.com/ HTTP/1.1',
    'GET http://@example.com/ HTTP/1.1',
    'GET ftp://example.com/ HTTP/1.1',
    'GET http:///nohost HTTP/1.1',
    'GET http://exa mple.com/ HTTP/1.1',
  ]) {
    let got: ReturnType<typeof read>;
    const p = new Http1Parser('request');
    const ev = p.execute(Buffer.from(`${line}\r\nHost: h\r\n\r\n`, 'latin1'), 0);
    p.destroy();
    if (ev !== EV_HEAD) continue; // llhttp refused it already (also a 400)
    got = read(line);
    assert.is(got.status, 400, line);
    assert.ok(got.reason.length > 0, `${line}: a reason`);
  }
  const p = new Http1Parser('request');
  assert.is(p.execute(Buffer.from('GET /\r\nHost: h\r\n\r\n', 'latin1'), 0), EV_HEAD, 'llhttp takes an HTTP/0.9-style line');
  const t = new RequestTarget();
  assert.is(t.read(p), 400, 'a request line without a version');
  p.destroy();
});

test('unknownMethodStatus: 501 for a well-formed line (or its start) with an unknown method token, else 400', () => {
  const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');
  for (const line of ['FOO / HTTP/1.1\r\n', 'BREW /pot HTTP/1.1\r\nHost: x\r\n', 'FOO', 'FOO ', 'FOO /x', 'FOO /x HTTP/1', 'M-SEARCH * HTTP/1.1\r\n', "X!#$%&'*+-.^_`|~9 / HTTP/1.1\r\n"]) {
    assert.is(unknownMethodStatus(bytes(line)), 501, JSON.stringify(line));
  }
  for (const line of [' GET / HTTP/1.1\r\n', 'G@T / HTTP/1.1\r\n', 'GET\t/ HTTP/1.1\r\n', 'FOO  / HTTP/1.1\r\n', 'FOO /\r\n', 'FOO / HTTP/x.1\r\n',
    'FOO / HTTP/1.1 \r\n', 'FOO / HTTP/1.1\n', 'FO(O / HTTP/1.1\r\n', '']) {
    assert.is(unknownMethodStatus(bytes(line)), 400, JSON.stringify(line));
  }
});

test.run();
