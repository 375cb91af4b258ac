import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Http1Parser, EV_NONE, EV_HEAD, EV_END, EV_UPGRADE, EV_ERROR, type ParseEvent } from '../../../src/http1/parser.js';
import { llhttp } from '../../../src/http1/llhttp.js';
import { METHOD_CONNECT, METHOD_GET, METHOD_HEAD, METHOD_OPTIONS, METHOD_POST, METHOD_PUT } from '../../../src/http1/methods.js';
import { loadBadFixtures, loadFixture, loadFixtures, type Fixture } from '../../kit/fixtures.js';

type Kind = 'request' | 'response';

const EVENT_NAMES = ['NONE', 'HEAD', 'END', 'UPGRADE', 'ERROR'] as const;
const SEED = 0x5eed;
const RUNS = 150;


/** One message as seen through the binding; byte strings are latin1 so every byte maps to one char. */
interface MessageTrace {
  headAt: number; // absolute stream offsets
  endAt: number; // -1 until END
  head: string;
  url: string;
  status: string;
  headers: [string, string][];
  method: number;
  statusCode: number;
  version: string;
  keepAlive: boolean;
  upgrade: boolean;
  body: string; // raw bytes between HEAD and END (for chunked messages: the chunked encoding)
}

interface Trace {
  events: string[];
  messages: MessageTrace[];
  tunnel: string;
  error: string | null;
}

interface FeedOptions {
  maxHeadBytes?: number;
  /** The first n final (>= 200) responses answer HEAD requests: expectNoBody is set until then. */
  headResponses?: number;
  /** Call execute again at the end of a chunk after an event (the last chunk is always drained). */
  drain?: boolean;
  /** Call finish() after the last chunk (default true). */
  finish?: boolean;
}

/** Feeds chunks to one parser the way a connection would and records everything it reports. */
class Recorder {
  readonly parser: Http1Parser;
  readonly trace: Trace = { events: [], messages: [], tunnel: '', error: null };
  private readonly drain: boolean;
  private headResponses: number;
  private offset = 0;
  private current: MessageTrace | null = null;
  private upgraded = false;
  private stopped = false;

  constructor(kind: Kind, options: FeedOptions = {}) {
    this.parser = new Http1Parser(kind, options.maxHeadBytes === undefined ? {} : { maxHeadBytes: options.maxHeadBytes });
    this.drain = options.drain ?? true;
    this.headResponses = options.headResponses ?? 0;
    this.parser.expectNoBody = this.headResponses > 0;
  }

  push(chunk: Buffer, last: boolean): void {
    const p = this.parser;
    let start = 0;
    let sawEvent = false;
    let steps = 0;
    while (!this.stopped) {
      if (this.upgraded) {
        this.trace.tunnel += chunk.toString('latin1', start);
        break;
      }
      if (sawEvent && start === chunk.length && !this.drain && !last) break;
      if (++steps > 2 * chunk.length + 8) throw new Error('the parser makes no progress');
      const ev: ParseEvent = p.execute(chunk, start);
      const at = p.at;
      if (at < start || at > chunk.length) throw new Error(`${EVENT_NAMES[ev]} at ${at} outside [${start}, ${chunk.length}]`);
      if (ev === EV_NONE) {
        if (at !== chunk.length) throw new Error(`EV_NONE at ${at} before the end of the chunk (${chunk.length})`);
        if (this.current !== null) this.current.body += chunk.toString('latin1', start);
        break;
      }
      sawEvent = true;
      const pos = this.offset + at;
      switch (ev) {
        case EV_HEAD:
          if (this.current !== null) throw new Error(`HEAD@${pos} before the END of the previous message`);
          this.onHead(pos);
          this.trace.events.push(`HEAD@${pos}`);
          break;
        case EV_END:
          if (this.current === null) throw new Error(`END@${pos} without a HEAD`);
          this.current.body += chunk.toString('latin1', start, at);
          this.current.endAt = pos;
          this.current = null;
          this.trace.events.push(`END@${pos}`);
          break;
        case EV_UPGRADE:
          this.trace.events.push(`UPGRADE@${pos}`);
          this.upgraded = true;
          break;
        case EV_ERROR:
          this.trace.events.push(`ERROR:${p.errorName}@${pos}`);
          this.trace.error = p.errorName;
          this.stopped = true;
          break;
      }
      start = at;
    }
    this.offset += chunk.length;
  }

  finish(): void {
    if (this.stopped || this.upgraded) return;
    const ev = this.parser.finish();
    if (ev === EV_ERROR) {
      this.trace.events.push(`FINISH:ERROR:${this.parser.errorName}`);
      this.trace.error = this.parser.errorName;
    } else {
      this.trace.events.push(`FINISH:${EVENT_NAMES[ev]}`);
    }
    if (ev === EV_END) {
      if (this.current === null) throw new Error('finish() reported END without a HEAD');
      this.current.endAt = this.offset;
      this.current = null;
    }
  }

  private onHead(pos: number): void {
    const p = this.parser;
    const d = p.describe();
    this.current = {
      headAt: pos,
      endAt: -1,
      head: p.head.toString('latin1'),
      url: d.url,
      status: d.status,
      headers: d.headers,
      method: p.method,
      statusCode: p.statusCode,
      version: `${p.versionMajor}.${p.versionMinor}`,
      keepAlive: p.keepAlive,
      upgrade: p.upgrade,
      body: '',
    };
    this.trace.messages.push(this.current);
    if (this.headResponses > 0 && p.statusCode >= 200 && --this.headResponses === 0) p.expectNoBody = false;
  }
}

function feed(kind: Kind, chunks: readonly Buffer[], options: FeedOptions = {}): Trace {
  const r = new Recorder(kind, options);
  chunks.forEach((chunk, i) => r.push(chunk, i === chunks.length - 1));
  if (options.finish ?? true) r.finish();
  r.parser.destroy();
  return r.trace;
}

// ---- splitting (every piece is a fresh Buffer, as from a socket) ----

function splitAt(buf: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts)].filter((c) => c > 0 && c < buf.length).sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const c of [...points, buf.length]) {
    chunks.push(Buffer.from(buf.subarray(from, c)));
    from = c;
  }
  return chunks;
}

function pieces(buf: Buffer, size: number): Buffer[] {
  const cuts: number[] = [];
  for (let c = size; c < buf.length; c += size) cuts.push(c);
  return splitAt(buf, cuts);
}

const bytewise = (buf: Buffer): Buffer[] => pieces(buf, 1);

/** Cut points: anywhere, or runs of small pieces (the hard case for span joining). */
function cutsArb(length: number): fc.Arbitrary<number[]> {
  if (length < 2) return fc.constant([]);
  const anywhere = fc.uniqueArray(fc.integer({ min: 1, max: length - 1 }), { maxLength: Math.min(length - 1, 48) });
  const small = fc
    .tuple(fc.integer({ min: 0, max: length - 1 }), fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 64 }))
    .map(([first, sizes]) => {
      const cuts = [first];
      let c = first;
      for (let i = 0; c < length; i++) cuts.push((c += sizes[i % sizes.length] as number));
      return cuts;
    });
  return fc.oneof(anywhere, small);
}

const cat = (...parts: (Buffer | string)[]): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)));

// ---- fixture sets ----

interface Case {
  label: string;
  kind: Kind;
  bytes: Buffer;
  options: FeedOptions;
  error?: string;
}

const requestCases: Case[] = loadFixtures('requests').map((f: Fixture) => ({
  label: `requests/${f.name}`, kind: 'request', bytes: f.bytes, options: {},
}));
const responseCases: Case[] = loadFixtures('responses').map((f: Fixture) => ({
  label: `responses/${f.name}`, kind: 'response', bytes: f.bytes,
  options: { headResponses: f.name.startsWith('head-') ? 1 : 0 },
}));
const badCases: Case[] = loadBadFixtures().map((f) => ({
  label: `requests/bad/${f.name}`, kind: 'request', bytes: f.bytes, options: {}, error: f.error,
}));
const goodCases = [...requestCases, ...responseCases];

/** Independent of splitting: heads, bodies and tunnel put back together are the input, in order. */
function assertReassembles(c: Case, t: Trace): void {
  assert.is(t.error, null, `${c.label}: ${t.events.join(' ')}`);
  assert.ok(t.messages.length > 0, `${c.label}: no message`);
  let pos = 0;
  for (const m of t.messages) {
    // llhttp skips empty lines before a message (RFC 9112 section 2.2); the head starts after them.
    const before = c.bytes.toString('latin1', pos, m.headAt);
    assert.ok(before.endsWith(m.head), `${c.label}: head bytes`);
    assert.match(before.slice(0, before.length - m.head.length), /^[\r\n]*$/, `${c.label}: bytes before the head`);
    assert.not.match(m.head, /^[\r\n]/, `${c.label}: head starts with an empty line`);
    assert.ok(m.endAt >= m.headAt, `${c.label}: message never ended`);
    assert.is(m.body, c.bytes.toString('latin1', m.headAt, m.endAt), `${c.label}: body bytes`);
    pos = m.endAt;
  }
  assert.is(pos + t.tunnel.length, c.bytes.length, `${c.label}: bytes unaccounted for`);
  assert.is(t.tunnel, c.bytes.toString('latin1', pos), `${c.label}: tunnel bytes`);
}

// ---- every fixture, every way of splitting it ----

test('fixtures are found and are raw CRLF bytes', () => {
  assert.ok(requestCases.length >= 15, `${requestCases.length} request fixtures`);
  assert.ok(responseCases.length >= 9, `${responseCases.length} response fixtures`);
  assert.ok(badCases.length >= 8, `${badCases.length} bad fixtures`);
  const simple = loadFixture('requests', 'get-simple.http');
  assert.ok(simple.toString('latin1').startsWith('GET /hello/world?x=1 HTTP/1.1\r\nHost: '));
  assert.ok(simple.toString('latin1').endsWith('\r\n\r\n'));
});

test('every good fixture: whole parse accounts for every byte', () => {
  for (const c of goodCases) assertReassembles(c, feed(c.kind, [c.bytes], c.options));
});

test('every fixture: byte by byte and in 7-byte pieces gives the same trace as whole', () => {
  for (const c of [...goodCases, ...badCases]) {
    const whole = feed(c.kind, [c.bytes], c.options);
    assert.equal(feed(c.kind, bytewise(c.bytes), c.options), whole, `${c.label} byte by byte`);
    assert.equal(feed(c.kind, bytewise(c.bytes), { ...c.options, drain: false }), whole, `${c.label} byte by byte, no drain`);
    assert.equal(feed(c.kind, pieces(c.bytes, 7), c.options), whole, `${c.label} in 7-byte pieces`);
  }
});

test('every fixture: seeded random splits give the same trace as whole', () => {
  for (const c of [...goodCases, ...badCases]) {
    const whole = feed(c.kind, [c.bytes], c.options);
    fc.assert(
      fc.property(cutsArb(c.bytes.length), fc.boolean(), (cuts, drain) => {
        assert.equal(feed(c.kind, splitAt(c.bytes, cuts), { ...c.options, drain }), whole, c.label);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  }
});

test('all keep-alive request fixtures pipelined in one stream, split randomly, parse as they do alone', () => {
  const cases = requestCases.filter((c) => {
    const t = feed(c.kind, [c.bytes]);
    return t.tunnel === '' && t.messages.every((m) => m.keepAlive);
  });
  assert.ok(cases.length >= 10);
  const stream = Buffer.concat(cases.map((c) => c.bytes));
  const expected: MessageTrace[] = [];
  let base = 0;
  for (const c of cases) {
    for (const m of feed(c.kind, [c.bytes]).messages) expected.push({ ...m, headAt: m.headAt + base, endAt: m.endAt + base });
    base += c.bytes.length;
  }
  assert.equal(feed('request', [stream]).messages, expected);
  fc.assert(
    fc.property(cutsArb(stream.length), (cuts) => {
      assert.equal(feed('request', splitAt(stream, cuts)).messages, expected);
    }),
    { seed: SEED, numRuns: 60 },
  );
});

// ---- values are right, not only equal across splits ----

test('get-simple in 7-byte pieces: exact URL, headers, method, version', () => {
  const bytes = loadFixture('requests', 'get-simple.http');
  for (const chunks of [[bytes], pieces(bytes, 7), bytewise(bytes)]) {
    const t = feed('request', chunks);
    assert.equal(t.events, [`HEAD@${bytes.length}`, `END@${bytes.length}`, 'FINISH:NONE']);
    const m = t.messages[0];
    assert.ok(m);
    assert.is(m.url, '/hello/world?x=1');
    assert.equal(m.headers, [['Host', 'example.com'], ['User-Agent', 'curl/8.5.0'], ['Accept', '*/*']]);
    assert.is(m.method, METHOD_GET);
    assert.is(m.version, '1.1');
    assert.is(m.keepAlive, true);
    assert.is(m.upgrade, false);
    assert.is(m.head, bytes.toString('latin1'));
    assert.is(m.body, '');
  }
});

test('get-many-headers split anywhere: the long cookie and all 21 headers are intact and aligned', () => {
  const bytes = loadFixture('requests', 'get-many-headers.http');
  const lines = bytes.toString('latin1').split('\r\n').slice(1, -2);
  const expected = lines.map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]);
  assert.is(expected.length, 21);
  const cookie = expected.find(([n]) => n === 'Cookie');
  assert.ok(cookie && (cookie[1] ?? '').length > 2000);
  for (const chunks of [pieces(bytes, 7), pieces(bytes, 100), bytewise(bytes)]) {
    const m = feed('request', chunks).messages[0];
    assert.ok(m);
    assert.is(m.url, '/api/v2/items?page=3&sort=-created_at&filter%5Bstatus%5D=open');
    assert.equal(m.headers, expected);
  }
});

test('more headers than the initial span table (100) survive random splits', () => {
  const names = Array.from({ length: 100 }, (_, i) => `X-H${i}`);
  const bytes = cat('GET /many HTTP/1.1\r\n', ...names.map((n, i) => `${n}: v${i}\r\n`), '\r\n');
  const expected = names.map((n, i) => [n, `v${i}`]);
  assert.equal(feed('request', [bytes]).messages[0]?.headers, expected);
  fc.assert(
    fc.property(cutsArb(bytes.length), (cuts) => {
      assert.equal(feed('request', splitAt(bytes, cuts)).messages[0]?.headers, expected);
    }),
    { seed: SEED, numRuns: 50 },
  );
});

test('request-target forms and methods', () => {
  const one = (name: string): MessageTrace => {
    const m = feed('request', pieces(loadFixture('requests', name), 3)).messages[0];
    assert.ok(m, name);
    return m;
  };
  const options = one('options-asterisk.http');
  assert.is(options.url, '*');
  assert.is(options.method, METHOD_OPTIONS);
  const absolute = one('get-absolute-form.http');
  assert.is(absolute.url, 'http://example.com:8080/path/to?q=a%20b');
  assert.equal(absolute.headers[1], ['Proxy-Connection', 'keep-alive']);
  assert.is(one('head.http').method, METHOD_HEAD);
  const post = one('post-content-length.http');
  assert.is(post.method, METHOD_POST);
  assert.is(post.body, '{"name":"chanlb","n":12345}');
  const put = one('expect-100-continue.http');
  assert.is(put.method, METHOD_PUT);
  assert.equal(put.headers[2], ['Expect', '100-continue']);
  assert.is(put.body, 'hello world');
});

test('HTTP/1.0 with and without keep-alive', () => {
  const close = feed('request', bytewise(loadFixture('requests', 'http10-close.http'))).messages[0];
  const keep = feed('request', bytewise(loadFixture('requests', 'http10-keep-alive.http'))).messages[0];
  assert.ok(close && keep);
  assert.is(close.version, '1.0');
  assert.is(close.keepAlive, false);
  assert.is(keep.version, '1.0');
  assert.is(keep.keepAlive, true);
  // After a message that closes the connection, llhttp refuses more data.
  const after = feed('request', [cat(loadFixture('requests', 'http10-close.http'), 'GET / HTTP/1.1\r\n\r\n')]);
  assert.is(after.error, 'HPE_CLOSED_CONNECTION');
});

test('empty header values, trailing whitespace and obs-text bytes', () => {
  const empty = feed('request', bytewise(loadFixture('requests', 'header-empty-value.http'))).messages[0];
  assert.ok(empty);
  assert.equal(empty.headers, [['Host', 'example.com'], ['X-Empty', ''], ['X-Empty-Space', ''], ['Accept', '*/*']]);

  // llhttp skips leading OWS but reports trailing OWS as part of the value; consumers trim it.
  const spaces = feed('request', pieces(loadFixture('requests', 'header-trailing-spaces.http'), 5)).messages[0];
  assert.ok(spaces);
  assert.equal(spaces.headers, [['Host', 'example.com   '], ['X-Pad', 'padded value \t '], ['Accept', '*/*']]);

  const obs = feed('request', bytewise(loadFixture('requests', 'header-obs-text.http'))).messages[0];
  assert.ok(obs);
  assert.is(obs.url, '/caf%C3%A9');
  assert.is(Buffer.from(obs.headers[1]?.[1] ?? '', 'latin1').toString('utf8'), 'Zoë Café – 東京');
  assert.equal([...Buffer.from(obs.headers[2]?.[1] ?? '', 'latin1')], [0x80, 0xa9, 0xff, 0x20, 0x61]);
  assert.is(obs.headers[3]?.[0], 'Accept');
});

test('chunked request: body is the raw chunked bytes, END after the trailers', () => {
  const bytes = loadFixture('requests', 'post-chunked-trailers.http');
  const headEnd = bytes.indexOf('\r\n\r\n') + 4;
  for (const chunks of [[bytes], bytewise(bytes)]) {
    const t = feed('request', chunks);
    assert.equal(t.events, [`HEAD@${headEnd}`, `END@${bytes.length}`, 'FINISH:NONE']);
    const m = t.messages[0];
    assert.ok(m);
    assert.is(m.body, bytes.toString('latin1', headEnd));
    assert.ok(m.body.endsWith('0;last\r\nX-Checksum: abc123\r\nX-Count: 3\r\n\r\n'));
    // Trailers are body bytes, not head fields.
    assert.equal(m.headers.map(([n]) => n), ['Host', 'Transfer-Encoding', 'Trailer']);
  }
});

test('trailers are body bytes: they do not touch the head\'s header table, however many', () => {
  const trailers = Array.from({ length: 2000 }, (_, i) => `T${i}: v\r\n`).join('');
  const bytes = cat('POST /t HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n', trailers, '\r\n');
  for (const chunks of [[bytes], pieces(bytes, 64)]) {
    const p = new Http1Parser('request');
    let ev: ParseEvent = EV_NONE;
    let i = 0;
    let start = 0;
    for (const chunk of chunks) {
      start = 0;
      while ((ev = p.execute(chunk, start)) !== EV_NONE) {
        start = p.at;
        if (ev === EV_HEAD) assert.equal(p.describe().headers, [['Host', 'a'], ['Transfer-Encoding', 'chunked']]);
        if (ev === EV_END) i++;
        if (ev === EV_ERROR) assert.unreachable(p.errorName);
      }
    }
    assert.is(i, 1);
    assert.is(p.headerCount, 2);
    assert.ok(p.headers.length <= 4 * 32, `span table grew to ${p.headers.length}`);
    p.destroy();
  }
});

// ---- pipelining ----

test('pipelined: 3 requests in one chunk give HEAD, END x3 at the exact boundaries', () => {
  const bytes = loadFixture('requests', 'pipelined-3.http');
  const s = bytes.toString('latin1');
  const head1 = s.indexOf('\r\n\r\n') + 4;
  const head2 = s.indexOf('\r\n\r\n', head1) + 4;
  const end2 = head2 + 'abcde'.length;
  assert.is(s.slice(end2, end2 + 10), 'GET /three');
  const expected = [`HEAD@${head1}`, `END@${head1}`, `HEAD@${head2}`, `END@${end2}`, `HEAD@${s.length}`, `END@${s.length}`];

  const p = new Http1Parser('request');
  const events: string[] = [];
  let start = 0;
  for (let ev = p.execute(bytes, start); ev !== EV_NONE; ev = p.execute(bytes, start)) {
    events.push(`${EVENT_NAMES[ev]}@${p.at}`);
    if (ev === EV_HEAD) events.push(p.describe().url);
    start = p.at;
  }
  p.destroy();
  assert.equal(events.filter((e) => e.includes('@')), expected);
  assert.equal(events.filter((e) => !e.includes('@')), ['/one', '/two', '/three']);

  const t = feed('request', [bytes]);
  assert.equal(t.messages.map((m) => [m.method, m.keepAlive, m.body]), [[METHOD_GET, true, ''], [METHOD_POST, true, 'abcde'], [METHOD_GET, false, '']]);
});

test('empty lines between pipelined requests are skipped and never part of a head', () => {
  const bytes = loadFixture('requests', 'pipelined-empty-lines.http');
  const heads = ['GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n', 'POST /b HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\n\r\n', 'GET /c HTTP/1.1\r\nHost: example.com\r\n\r\n'];
  for (const chunks of [[bytes], bytewise(bytes), splitAt(bytes, [bytes.indexOf('POST')]), splitAt(bytes, [bytes.indexOf('GET /c')])]) {
    const t = feed('request', chunks);
    assert.equal(t.messages.map((m) => m.head), heads);
    assert.equal(t.messages.map((m) => m.url), ['/a', '/b', '/c']);
  }
});

test('WASM memory growing between two executes over the same chunk does not confuse the parser', () => {
  const bytes = loadFixture('requests', 'pipelined-empty-lines.http');
  const ll = llhttp();
  const p = new Http1Parser('request');
  const heads: string[] = [];
  const others: Http1Parser[] = [];
  let start = 0;
  for (let ev = p.execute(bytes, start); ev !== EV_NONE; ev = p.execute(bytes, start)) {
    if (ev === EV_HEAD) heads.push(p.head.toString('latin1'));
    start = p.at;
    // New parsers allocate inside WASM until its memory grows; the chunk is not copied again.
    const memory = ll.exports.memory.buffer;
    while (ll.exports.memory.buffer === memory && others.length < 200_000) others.push(new Http1Parser('response'));
  }
  for (const o of others) o.destroy();
  p.destroy();
  assert.equal(heads.map((h) => h.slice(0, 7)), ['GET /a ', 'POST /b', 'GET /c ']);
});

test('a message ending exactly at the end of a chunk completes on the next execute, at 0 of the next chunk', () => {
  const first = Buffer.from('GET /a HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1');
  const second = Buffer.from('GET /b HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1');
  const p = new Http1Parser('request');
  assert.is(p.execute(first, 0), EV_HEAD);
  assert.is(p.at, first.length);
  // no drain: straight to the next read
  assert.is(p.execute(second, 0), EV_END);
  assert.is(p.at, 0);
  assert.is(p.execute(second, 0), EV_HEAD);
  assert.is(p.describe().url, '/b');
  assert.is(p.execute(second, p.at), EV_END);
  assert.is(p.execute(second, p.at), EV_NONE);
  p.destroy();
});

// ---- responses ----

test('response to HEAD (expectNoBody): no body despite Content-Length, next response parses', () => {
  const headResp = loadFixture('responses', 'head-200-content-length.http');
  const next = loadFixture('responses', '200-content-length.http');
  const stream = cat(headResp, next);
  const expectedEvents = [`HEAD@${headResp.length}`, `END@${headResp.length}`, `HEAD@${stream.length - 13}`, `END@${stream.length}`, 'FINISH:NONE'];
  for (const chunks of [[stream], bytewise(stream), pieces(stream, 7)]) {
    const t = feed('response', chunks, { headResponses: 1 });
    assert.equal(t.events, expectedEvents);
    assert.equal(t.messages.map((m) => [m.statusCode, m.body]), [[200, ''], [200, 'Hello from 1\n']]);
  }
  // Without the flag the Content-Length swallows the next response: the flag is what makes it work.
  const wrong = feed('response', [stream], { finish: false });
  assert.equal(wrong.events, [`HEAD@${headResp.length}`]);
});

test('response to HEAD with a 100 Continue first and Transfer-Encoding: chunked', () => {
  const stream = cat(
    'HTTP/1.1 100 Continue\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n',
    'HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnop',
  );
  const t = feed('response', pieces(stream, 4), { headResponses: 1 });
  assert.is(t.error, null);
  assert.equal(t.messages.map((m) => [m.statusCode, m.status, m.body]), [[100, 'Continue', ''], [200, 'OK', ''], [404, 'Not Found', 'nop']]);
});

test('1xx then final response', () => {
  const bytes = loadFixture('responses', '100-continue-then-200.http');
  const first = 'HTTP/1.1 100 Continue\r\n\r\n'.length;
  for (const chunks of [[bytes], bytewise(bytes)]) {
    const t = feed('response', chunks);
    assert.equal(t.events, [`HEAD@${first}`, `END@${first}`, `HEAD@${bytes.length - 2}`, `END@${bytes.length}`, 'FINISH:NONE']);
    assert.equal(t.messages.map((m) => [m.statusCode, m.status, m.body]), [[100, 'Continue', ''], [200, 'OK', 'ok']]);
  }
  const hints = feed('response', [cat('HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n', loadFixture('responses', '200-content-length.http'))]);
  assert.equal(hints.messages.map((m) => m.statusCode), [103, 200]);
});

test('204 and 304 (with Content-Length) have no body; the next response parses', () => {
  const next = loadFixture('responses', '200-content-length.http');
  for (const name of ['204-no-content.http', '304-content-length-no-body.http']) {
    const bytes = loadFixture('responses', name);
    const t = feed('response', bytewise(cat(bytes, next)));
    assert.equal(t.events.slice(0, 2), [`HEAD@${bytes.length}`, `END@${bytes.length}`], name);
    assert.equal(t.messages.map((m) => [m.statusCode, m.body]), [[name.startsWith('204') ? 204 : 304, ''], [200, 'Hello from 1\n']]);
  }
});

test('chunked response: body is all the chunked bytes, END at the last byte', () => {
  const bytes = loadFixture('responses', '200-chunked-trailers.http');
  const headEnd = bytes.indexOf('\r\n\r\n') + 4;
  const t = feed('response', pieces(bytes, 3));
  assert.equal(t.events, [`HEAD@${headEnd}`, `END@${bytes.length}`, 'FINISH:NONE']);
  assert.is(t.messages[0]?.body, bytes.toString('latin1', headEnd));
  assert.is(t.messages[0]?.keepAlive, true);
});

test('close-delimited responses end at finish() with every byte as body', () => {
  for (const name of ['200-close-delimited-http11.http', '200-close-delimited-http10.http']) {
    const bytes = loadFixture('responses', name);
    const headEnd = bytes.indexOf('\r\n\r\n') + 4;
    for (const chunks of [[bytes], bytewise(bytes)]) {
      const t = feed('response', chunks);
      assert.equal(t.events, [`HEAD@${headEnd}`, 'FINISH:END'], name);
      assert.is(t.messages[0]?.body, bytes.toString('latin1', headEnd), name);
      assert.is(t.messages[0]?.keepAlive, false, name);
    }
  }
  // The same directly: EV_NONE until EOF, then EV_END from finish().
  const bytes = loadFixture('responses', '200-close-delimited-http10.http');
  const p = new Http1Parser('response');
  assert.is(p.execute(bytes, 0), EV_HEAD);
  assert.is(p.execute(bytes, p.at), EV_NONE);
  assert.is(p.finish(), EV_END);
  p.destroy();
});

test('finish() mid-body, mid-head or mid-chunk is EV_ERROR; between messages it is EV_NONE', () => {
  const cut = (bytes: Buffer, n: number): Trace => feed('response', [bytes.subarray(0, n)]);
  const cl = loadFixture('responses', '200-content-length.http');
  assert.equal(cut(cl, cl.length - 1).events.slice(-1), ['FINISH:ERROR:HPE_INVALID_EOF_STATE']);
  assert.equal(cut(cl, 20).events, ['FINISH:ERROR:HPE_INVALID_EOF_STATE']);
  const chunked = loadFixture('responses', '200-chunked-trailers.http');
  assert.equal(cut(chunked, chunked.length - 2).events.slice(-1), ['FINISH:ERROR:HPE_INVALID_EOF_STATE']);
  assert.equal(cut(cl, cl.length).events.slice(-1), ['FINISH:NONE']);
  assert.equal(feed('response', []).events, ['FINISH:NONE']);
  // HEAD reported at the very end of the input, END not yet asked for: finish() completes it.
  const r = new Recorder('request', { drain: false });
  r.push(loadFixture('requests', 'get-simple.http'), false);
  r.finish();
  assert.equal(r.trace.events, ['HEAD@89', 'FINISH:END']);
  r.parser.destroy();
});

// ---- upgrades ----

test('Upgrade request: HEAD, END, then UPGRADE at the first tunnel byte', () => {
  const bytes = loadFixture('requests', 'upgrade-websocket.http');
  const headEnd = bytes.indexOf('\r\n\r\n') + 4;
  for (const chunks of [[bytes], bytewise(bytes), pieces(bytes, 7)]) {
    const t = feed('request', chunks);
    assert.equal(t.events, [`HEAD@${headEnd}`, `END@${headEnd}`, `UPGRADE@${headEnd}`]);
    assert.is(t.messages[0]?.upgrade, true);
    assert.equal([...Buffer.from(t.tunnel, 'latin1')], [...bytes.subarray(headEnd)]);
  }
  const p = new Http1Parser('request');
  let start = 0;
  for (const ev of [EV_HEAD, EV_END, EV_UPGRADE, EV_UPGRADE]) {
    assert.is(p.execute(bytes, start), ev);
    start = p.at;
  }
  assert.is(p.at, headEnd);
  assert.is(p.execute(Buffer.from('more tunnel'), 0), EV_UPGRADE, 'stays upgraded');
  assert.is(p.finish(), EV_NONE, 'EOF after an upgrade is clean');
  p.destroy();
  // EOF after END of the upgrade request, before EV_UPGRADE was asked for, is clean too.
  const q = new Http1Parser('request');
  assert.is(q.execute(bytes, 0), EV_HEAD);
  assert.is(q.execute(bytes, q.at), EV_END);
  assert.is(q.finish(), EV_NONE);
  q.destroy();
  assert.is(feed('request', [loadFixture('requests', 'get-simple.http')]).messages[0]?.upgrade, false);
});

test('Upgrade with a body: the body first, then the tunnel; CONNECT; 101 response', () => {
  const withBody = cat(
    'POST /up HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n',
    'Content-Length: 5\r\n\r\nhelloPRI * HTTP/2.0\r\n',
  );
  const bodyEnd = withBody.indexOf('PRI');
  const t = feed('request', bytewise(withBody));
  assert.equal(t.events, [`HEAD@${bodyEnd - 5}`, `END@${bodyEnd}`, `UPGRADE@${bodyEnd}`]);
  assert.is(t.messages[0]?.body, 'hello');
  assert.is(t.tunnel, 'PRI * HTTP/2.0\r\n');

  const connect = loadFixture('requests', 'connect-authority.http');
  const c = feed('request', pieces(connect, 5));
  assert.is(c.messages[0]?.method, METHOD_CONNECT);
  assert.is(c.messages[0]?.url, 'example.com:443');
  assert.is(c.tunnel.length, 10);

  const switching = loadFixture('responses', '101-switching-protocols.http');
  const s = feed('response', bytewise(switching));
  const headEnd = switching.indexOf('\r\n\r\n') + 4;
  assert.equal(s.events, [`HEAD@${headEnd}`, `END@${headEnd}`, `UPGRADE@${headEnd}`]);
  assert.is(s.messages[0]?.statusCode, 101);
  assert.is(s.tunnel, switching.toString('latin1', headEnd));
});

// ---- errors ----

test('each malformed request gives EV_ERROR with the expected name, whole and split', () => {
  for (const c of badCases) {
    const whole = feed(c.kind, [c.bytes]);
    assert.is(whole.error, c.error ?? '', `${c.label}: ${whole.events.join(' ')}`);
    assert.ok(whole.events.at(-1)?.startsWith(`ERROR:${c.error ?? ''}@`), c.label);
    assert.equal(feed(c.kind, bytewise(c.bytes)), whole, `${c.label} byte by byte`);
    assert.equal(feed(c.kind, pieces(c.bytes, 7)), whole, `${c.label} 7-byte pieces`);
  }
});

test('the error position points at the offending byte', () => {
  const one = (s: string): [number, string] => {
    const p = new Http1Parser('request');
    const buf = Buffer.from(s, 'latin1');
    let ev = p.execute(buf, 0);
    while (ev !== EV_ERROR && ev !== EV_NONE) ev = p.execute(buf, p.at);
    const r: [number, string] = [p.at, ev === EV_ERROR ? p.errorName : 'no error'];
    p.destroy();
    return r;
  };
  assert.equal(one('GET / HTTP/1.1\r\nHost : a\r\n\r\n'), [20, 'HPE_INVALID_HEADER_TOKEN']);
  assert.equal(one('G@T / HTTP/1.1\r\n\r\n'), [1, 'HPE_INVALID_METHOD']);
  assert.equal(one('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'), [47, 'HPE_INVALID_CHUNK_SIZE']);
});

// ---- head size limit ----

test('maxHeadBytes: one byte over is HPE_HEADERS_OVERFLOW whole or in pieces; at or under the limit is accepted', () => {
  const bytes = loadFixture('requests', 'get-many-headers.http');
  const headLength = bytes.indexOf('\r\n\r\n') + 4;
  assert.is(headLength, bytes.length);
  for (const limit of [headLength, headLength + 1]) {
    for (const chunks of [[bytes], pieces(bytes, 7), pieces(bytes, 1000)]) {
      const t = feed('request', chunks, { maxHeadBytes: limit });
      assert.is(t.error, null, `limit ${limit}`);
      assert.is(t.messages[0]?.headers.length, 21);
    }
  }
  const over = { maxHeadBytes: headLength - 1 };
  for (const chunks of [[bytes], bytewise(bytes), pieces(bytes, 7), pieces(bytes, headLength - 1), pieces(bytes, 2000)]) {
    const t = feed('request', chunks, over);
    assert.is(t.error, 'HPE_HEADERS_OVERFLOW', `${chunks.length} pieces`);
    assert.is(t.messages.length, 0);
  }
  fc.assert(
    fc.property(cutsArb(bytes.length), (cuts) => {
      assert.is(feed('request', splitAt(bytes, cuts), over).error, 'HPE_HEADERS_OVERFLOW');
    }),
    { seed: SEED, numRuns: 100 },
  );
  const p = new Http1Parser('request', over);
  assert.is(p.execute(bytes, 0), EV_ERROR);
  assert.is(p.errorName, 'HPE_HEADERS_OVERFLOW');
  assert.match(p.errorReason, String(headLength - 1));
  p.destroy();
});

test('maxHeadBytes: a head that never ends is refused once past the limit, not buffered', () => {
  const p = new Http1Parser('request', { maxHeadBytes: 4096 });
  let fed = 0;
  let ev: ParseEvent = p.execute(Buffer.from('GET / HTTP/1.1\r\n'), 0);
  for (let i = 0; ev === EV_NONE && i < 1000; i++) {
    const line = Buffer.from(`X-Pad-${i}: ${'a'.repeat(500)}\r\n`);
    fed += line.length;
    ev = p.execute(line, 0);
  }
  assert.is(ev, EV_ERROR);
  assert.is(p.errorName, 'HPE_HEADERS_OVERFLOW');
  assert.ok(fed < 4096 + 600, `refused after ${fed} bytes`);
  p.destroy();
});

test('maxHeadBytes applies to each message, not to a pipelined stream', () => {
  const one = cat('GET / HTTP/1.1\r\nX-Big: ', 'b'.repeat(1500), '\r\n\r\n');
  const stream = Buffer.concat([one, one, one, one]);
  const t = feed('request', [stream], { maxHeadBytes: one.length });
  assert.is(t.error, null);
  assert.is(t.messages.length, 4);
  assert.equal(feed('request', pieces(stream, 700), { maxHeadBytes: one.length }), t);
});

// ---- shared WASM state ----

test('two parsers interleaved piece by piece both parse correctly', () => {
  const a = cat(loadFixture('requests', 'get-many-headers.http'), loadFixture('requests', 'post-chunked-trailers.http'), loadFixture('requests', 'pipelined-3.http'));
  const b = cat(loadFixture('responses', '100-continue-then-200.http'), loadFixture('responses', '200-chunked-trailers.http'), loadFixture('responses', '200-close-delimited-http11.http'));
  const wholeA = feed('request', [a]);
  const wholeB = feed('response', [b]);
  assert.is(wholeA.messages.length, 5);
  assert.is(wholeB.messages.length, 4);
  fc.assert(
    fc.property(cutsArb(a.length), cutsArb(b.length), (cutsA, cutsB) => {
      const ra = new Recorder('request');
      const rb = new Recorder('response');
      const ca = splitAt(a, cutsA);
      const cb = splitAt(b, cutsB);
      for (let i = 0; i < Math.max(ca.length, cb.length); i++) {
        const pa = ca[i];
        const pb = cb[i];
        if (pa) ra.push(pa, i === ca.length - 1);
        if (pb) rb.push(pb, i === cb.length - 1);
      }
      ra.finish();
      rb.finish();
      ra.parser.destroy();
      rb.parser.destroy();
      assert.equal(ra.trace, wholeA);
      assert.equal(rb.trace, wholeB);
    }),
    { seed: SEED, numRuns: RUNS },
  );
});

test('a huge chunk for one parser (input region and WASM memory grow) does not disturb another mid-head', () => {
  const head = loadFixture('requests', 'get-many-headers.http');
  const big = cat('POST /big HTTP/1.1\r\nContent-Length: 3000000\r\n\r\n', Buffer.alloc(3_000_000, 0x61));
  const ra = new Recorder('request');
  const rb = new Recorder('request');
  ra.push(head.subarray(0, 1000), false);
  rb.push(big, false);
  ra.push(head.subarray(1000, 2000), false);
  rb.push(Buffer.from('POST /next HT'), false); // the next request, pipelined
  ra.push(head.subarray(2000), true);
  ra.finish();
  assert.equal(ra.trace, feed('request', [head]));
  assert.equal(rb.trace.events, [`HEAD@${big.length - 3_000_000}`, `END@${big.length}`]);
  assert.is(rb.trace.messages[0]?.body.length, 3_000_000);
  assert.is(rb.trace.messages.length, 1); // the next head is still partial
  ra.parser.destroy();
  rb.parser.destroy();
});

test('many parsers alive at once, created and destroyed mid-stream', () => {
  const bytes = loadFixture('requests', 'get-many-headers.http');
  const expected = feed('request', [bytes]);
  const recorders = Array.from({ length: 64 }, () => new Recorder('request'));
  const chunks = pieces(bytes, 200);
  chunks.forEach((chunk, i) => {
    for (const r of recorders) r.push(chunk, i === chunks.length - 1);
    // churn: parsers come and go while the others are mid-head
    const extra = new Http1Parser('response');
    extra.execute(Buffer.from('HTTP/1.1 200 OK\r\nContent-Le'), 0);
    extra.destroy();
  });
  for (const r of recorders) {
    r.finish();
    assert.equal(r.trace, expected);
    r.parser.destroy();
  }
});

test('a chunked message whose trailers say Connection: close ends keep-alive at its end (closedByTrailers)', () => {
  const events = (p: Http1Parser, text: string): ParseEvent[] => {
    const chunk = Buffer.from(text, 'latin1');
    const out: ParseEvent[] = [];
    for (let off = 0; off < chunk.length;) {
      const ev = p.execute(chunk, off);
      if (ev === EV_NONE) break;
      out.push(ev);
      off = p.at;
    }
    return out;
  };
  const p = new Http1Parser('request');
  const head = 'POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n';
  assert.equal(events(p, `${head}1\r\na\r\n0\r\nX-Sum: 1\r\n\r\n`), [EV_HEAD, EV_END]);
  assert.ok(p.keepAlive && !p.closedByTrailers, 'ordinary trailers leave keep-alive on');
  assert.equal(events(p, `${head}1\r\na\r\n0\r\nConnection: close\r\n\r\n`), [EV_HEAD, EV_END]);
  assert.ok(!p.keepAlive && p.closedByTrailers, 'Connection: close in the trailers ends it');
  const r = new Http1Parser('response');
  assert.equal(events(r, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nConnection: close\r\n\r\n'), [EV_HEAD, EV_END]);
  assert.ok(!r.keepAlive && r.closedByTrailers, 'responses too');
  p.destroy();
  r.destroy();
});

test.run();
