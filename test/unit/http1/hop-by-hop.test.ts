import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Http1Parser, EV_HEAD } from '../../../src/http1/parser.js';
import { HeadScan, H_DROP, CODINGS_CHUNKED, CODINGS_OTHERS_THEN_CHUNKED, CODINGS_UNFRAMED } from '../../../src/http1/hop-by-hop.js';

/** The names of the headers a scan drops, for a request with `headers`. */
function dropped(headers: string[]): string[] {
  const p = new Http1Parser('request');
  const head = `POST / HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`;
  assert.is(p.execute(Buffer.from(head, 'latin1'), 0), EV_HEAD, head);
  const scan = new HeadScan();
  scan.scan(p);
  const names = p.describe().headers.filter((_, i) => scan.kinds[i] === H_DROP).map(([name]) => name);
  p.destroy();
  return names;
}

test('a Connection token drops the header it names, but never one that frames or routes the message (RFC 9110 7.6.1)', () => {
  assert.equal(dropped([
    'Host: a', 'Content-Length: 3', 'X-Forwarded-For: 1.2.3.4', 'X-Forwarded-Proto: https', 'X-Forwarded-Host: b', 'X-Secret: s',
    'Connection: Content-Length, Host, X-Forwarded-For, x-forwarded-proto, X-Forwarded-Host, Transfer-Encoding, x-secret',
  ]), ['X-Secret', 'Connection']);
});

test('hop-by-hop headers are dropped, and so are `_` look-alikes of the headers the proxy interprets or writes', () => {
  assert.equal(dropped([
    'Host: a', 'Keep-Alive: 5', 'TE: trailers', 'Trailer: X', 'Proxy-Authorization: x', 'Proxy-Connection: close',
    'Transfer_Encoding: chunked', 'Content_Length: 9', 'X_Forwarded_For: 6.6.6.6', 'x_forwarded_host: evil', 'Proxy_Connection: a',
    'X_Custom: kept', 'Content-Length: 3', 'Accept_Language: kept',
  ]), ['Keep-Alive', 'TE', 'Trailer', 'Proxy-Authorization', 'Proxy-Connection', 'Transfer_Encoding', 'Content_Length', 'X_Forwarded_For',
    'x_forwarded_host', 'Proxy_Connection']);
});

test('transferCodings: one list over every Transfer-Encoding header, empty members ignored (RFC 9110 5.6.1, RFC 9112 6.1)', () => {
  const codings = (values: string[]): number => {
    const p = new Http1Parser('response');
    const head = `HTTP/1.1 200 OK\r\n${values.map((v) => `Transfer-Encoding: ${v}`).join('\r\n')}\r\n\r\n`;
    assert.is(p.execute(Buffer.from(head, 'latin1'), 0), EV_HEAD, head);
    const scan = new HeadScan();
    scan.scan(p);
    const result = scan.transferCodings(p);
    p.destroy();
    return result;
  };
  assert.is(codings(['chunked']), CODINGS_CHUNKED);
  assert.is(codings([',chunked']), CODINGS_CHUNKED);
  assert.is(codings([', , chunked ,']), CODINGS_CHUNKED);
  assert.is(codings(['gzip, chunked']), CODINGS_OTHERS_THEN_CHUNKED);
  assert.is(codings(['gzip', 'chunked']), CODINGS_OTHERS_THEN_CHUNKED);
  assert.is(codings(['chunked, gzip']), CODINGS_UNFRAMED);
  assert.is(codings(['chunked', 'chunked']), CODINGS_UNFRAMED);
  assert.is(codings(['identity']), CODINGS_UNFRAMED);
});

test.run();
