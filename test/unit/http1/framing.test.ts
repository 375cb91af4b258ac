import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Http1Parser, EV_HEAD, EV_END, EV_NONE, EV_ERROR } from '../../../src/http1/parser.js';
import { HeadScan } from '../../../src/http1/hop-by-hop.js';
import { ResponseFraming, encodeChunked, requestBody, declaredLength, BODY_NONE, BODY_LENGTH, BODY_CHUNKED } from '../../../src/http1/framing.js';
import { dechunk } from '../../kit/chunked.js';

const MODE = ['none', 'length', 'chunked', 'close'];

/** Parses a response head and decides its framing for a client. */
function decide(head: string, toHead = false, http10 = false): { out: string; decoded: boolean; refusal: string | null; declared: number } {
  const p = new Http1Parser('response');
  p.expectNoBody = toHead;
  const ev = p.execute(Buffer.from(head, 'latin1'), 0);
  assert.is(ev, EV_HEAD, `${head}: ${p.errorName}`);
  const scan = new HeadScan();
  scan.scan(p);
  const f = new ResponseFraming();
  f.decide(p, scan, toHead, http10);
  const declared = declaredLength(p, f.out);
  p.destroy();
  return { out: MODE[f.out] as string, decoded: f.decoded, refusal: f.refusal, declared };
}

test('ResponseFraming: what the client gets, for each way a backend frames a response (RFC 9112 6.3)', () => {
  const cases: [string, boolean, boolean, string, boolean, number][] = [
    // head, to HEAD, HTTP/1.0 client, mode, decoded, Content-Length line
    ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', false, false, 'length', false, 5],
    ['HTTP/1.1 200 OK\r\nContent-Length: 005\r\n\r\n', false, false, 'length', false, 5],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', false, false, 'chunked', true, -1],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: ,chunked\r\n\r\n', false, false, 'chunked', true, -1],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', false, true, 'close', true, -1],
    ['HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n', false, false, 'chunked', true, -1],
    ['HTTP/1.0 200 OK\r\n\r\n', false, false, 'chunked', true, -1],
    ['HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n', false, true, 'close', false, -1],
    ['HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n', true, false, 'none', false, 1234],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', true, false, 'none', false, -1],
    ['HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n', false, false, 'none', false, 9],
    ['HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n', false, false, 'none', false, -1],
    ['HTTP/1.1 100 Continue\r\n\r\n', false, false, 'none', false, -1],
  ];
  for (const [head, toHead, http10, out, decoded, declared] of cases) {
    const got = decide(head, toHead, http10);
    const label = `${JSON.stringify(head)} head=${toHead} 1.0=${http10}`;
    assert.is(got.refusal, null, label);
    assert.is(got.out, out, label);
    assert.is(got.decoded, decoded, label);
    assert.is(got.declared, declared, label);
  }
});

test('ResponseFraming: a Transfer-Encoding other than exactly chunked is refused (502), as nginx refuses it', () => {
  for (const te of ['chunked, identity', 'chunked, gzip', 'gzip, chunked', 'identity', 'gzip', 'chunked, chunked']) {
    const got = decide(`HTTP/1.1 200 OK\r\nTransfer-Encoding: ${te}\r\n\r\n`);
    assert.ok(got.refusal !== null, te);
  }
  // Two headers make one list: chunked twice.
  assert.ok(decide('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n').refusal !== null);
});

test('requestBody: chunked, else a Content-Length (0 included), else none', () => {
  const mode = (head: string): number => {
    const p = new Http1Parser('request');
    assert.is(p.execute(Buffer.from(head, 'latin1'), 0), EV_HEAD);
    const m = requestBody(p);
    p.destroy();
    return m;
  };
  assert.is(mode('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'), BODY_CHUNKED);
  assert.is(mode('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n'), BODY_LENGTH);
  assert.is(mode('GET / HTTP/1.1\r\nHost: a\r\n\r\n'), BODY_NONE);
});

/** Feeds `framed` (a chunked body after a head) in `pieces` and re-chunks what the parser decodes. */
function rechunk(framedBody: Buffer, cuts: number[]): Buffer {
  const p = new Http1Parser('request');
  p.decodeBody = true;
  const message = Buffer.concat([Buffer.from('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'), framedBody]);
  const out: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < message.length).sort((a, b) => a - b), message.length]) {
    if (cut <= from) continue;
    const chunk = message.subarray(from, cut);
    from = cut;
    for (let off = 0; ;) {
      const ev = p.execute(chunk, off);
      if (ev === EV_ERROR) throw new Error(p.errorReason);
      const piece = ev === EV_NONE || ev === EV_END ? encodeChunked(p, chunk, ev === EV_END) : null;
      if (piece !== null) {
        assert.ok(piece.length > 0, 'never an empty piece');
        out.push(piece);
      }
      if (ev === EV_NONE || ev === EV_END) {
        if (ev === EV_END) {
          p.destroy();
          return Buffer.concat(out);
        }
        break;
      }
      off = p.at;
    }
  }
  throw new Error('the message did not end');
}

test('encodeChunked: the payload and the end-to-end trailer fields survive any split; no extension, no empty chunk before the last', () => {
  const framed = Buffer.from('5;a=b\r\nhello\r\n1;x="y z"\r\n \r\nA\r\n0123456789\r\n0;end\r\nX-Sum: 1 2 \r\nConnection: close\r\nHost: evil\r\nTE: trailers\r\nX_Forwarded_For: 1.2.3.4\r\nX-Empty:\r\n\r\n');
  const payload = 'hello 0123456789';
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 200 }), { maxLength: 12 }), (cuts) => {
    const got = dechunk(rechunk(framed, cuts));
    assert.is(got.payload.toString(), payload);
    assert.equal(got.trailers, [['X-Sum', '1 2'], ['X-Empty', '']]);
    assert.is(got.extensions, 0);
    assert.is(got.rest.length, 0);
  }), { seed: 0xfab, numRuns: 300 });
});

test('encodeChunked: a large chunk is framed with its size in hex', () => {
  const data = 'x'.repeat(70_000);
  const got = rechunk(Buffer.from(`${(70_000).toString(16)}\r\n${data}\r\n0\r\n\r\n`), []);
  assert.ok(got.toString('latin1').startsWith('11170\r\n'), got.toString('latin1', 0, 12));
  assert.is(dechunk(got).payload.length, 70_000);
});

test.run();
