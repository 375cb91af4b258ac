// Question: what does rewriting a request head for the backend cost (the request line and Host written
// by the proxy, hop-by-hop removal, Connection-named headers, X-Forwarded-For/Proto/Host) with the byte
// approach (HeadScan and RequestTarget over the parser's spans, then requestHead into one Buffer) versus a naive string rewrite (toString, split lines, filter,
// join, Buffer.from)? Each head is parsed once outside the timed part; one op = one head rewritten.
// Each task function rewrites BATCH heads and reports the mean per op (overriddenDuration), as in
// heap.bench.ts. Both rewrites must produce the same bytes: checked once before timing.
import { Bench } from 'tinybench';
import { perOperation } from './batch.js';
import { Http1Parser, EV_HEAD } from '../../src/http1/parser.js';
import { HeadScan } from '../../src/http1/hop-by-hop.js';
import { forwardedLines, requestHead, type ForwardedLines } from '../../src/http1/head.js';
import { RequestTarget } from '../../src/http1/request-target.js';
import { BODY_NONE } from '../../src/http1/framing.js';
import { BROWSER_HEADERS, PAGE_REQUEST_LINE, SMALL_REQUEST } from './requests.js';

const BATCH = 256;
const CLIENT = '127.0.0.1';

// 20 headers; Connection names X-Trace-Hop (dropped with it), plus Keep-Alive, TE, an incoming
// X-Forwarded-For to extend and an X-Forwarded-Proto to replace.
const LARGE = [
  PAGE_REQUEST_LINE,
  ...BROWSER_HEADERS,
  'Connection: keep-alive, X-Trace-Hop',
  'Keep-Alive: timeout=5',
  'X-Trace-Hop: edge-7',
  'TE: trailers',
  'Cookie: session=4f6a1c2e0a3b7d4c1e9a550e2f4b8c9d10; theme=dark; cart=17',
  'Upgrade-Insecure-Requests: 1',
  'Sec-Fetch-Dest: document',
  'Sec-Fetch-Mode: navigate',
  'Sec-Fetch-Site: same-origin',
  'Cache-Control: no-cache',
  'X-Request-ID: 6f1c2e0a-3b7d-4c1e-9a55-0e2f4b8c9d10',
  'X-Forwarded-For: 203.0.113.7, 198.51.100.23',
  'X-Forwarded-Proto: https',
  'DNT: 1',
].join('\r\n') + '\r\n\r\n';

/** Parses one request up to its head; the parser then holds the spans the byte rewrite reads. */
function parsed(text: string): Http1Parser {
  const p = new Http1Parser('request');
  const ev = p.execute(Buffer.from(text, 'latin1'), 0);
  if (ev !== EV_HEAD) throw new Error(`expected a head, got event ${ev} (${p.errorName})`);
  return p;
}

const ALWAYS_DROPPED = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'proxy-authorization',
  'proxy-authenticate', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'host',
  'content-length', 'transfer-encoding',
]);

/** The baseline: the same rewrite as requestHead(..., upgrade = false), the way it is usually written. */
function naiveRequestHead(head: Buffer, clientAddress: string): Buffer {
  const lines = head.toString('latin1').split('\r\n');
  const requestLine = (lines[0] ?? '').split(' ');
  const fields = lines.slice(1, -2).map((line) => {
    const colon = line.indexOf(':');
    return { name: line.slice(0, colon).toLowerCase(), value: line.slice(colon + 1).trim(), line };
  });
  const dropped = new Set(ALWAYS_DROPPED);
  const forwardedFor: string[] = [];
  let host: string | undefined;
  let teTrailers = false;
  for (const f of fields) {
    if (f.name === 'connection' || f.name === 'proxy-connection') {
      for (const token of f.value.split(',')) dropped.add(token.trim().toLowerCase());
    } else if (f.name === 'x-forwarded-for') forwardedFor.push(f.value);
    else if (f.name === 'host') host ??= f.value;
    else if (f.name === 'te' && f.value.split(',').some((t) => t.split(';')[0]?.trim().toLowerCase() === 'trailers')) teTrailers = true;
  }
  dropped.delete('close');
  forwardedFor.push(clientAddress);
  const out = [`${requestLine[0]} ${requestLine[1]} HTTP/1.1`, `Host: ${host ?? ''}`];
  for (const f of fields) if (!dropped.has(f.name)) out.push(f.line);
  out.push(`X-Forwarded-For: ${forwardedFor.join(', ')}`, 'X-Forwarded-Proto: http');
  if (host !== undefined) out.push(`X-Forwarded-Host: ${host}`);
  // The client reads trailers: the proxy says so upstream, as a connection option (RFC 9110 §10.1.4).
  if (teTrailers) out.push('TE: trailers', 'Connection: TE');
  out.push('', '');
  return Buffer.from(out.join('\r\n'), 'latin1');
}

/** Keeps the outputs observable so the work is not optimised away. */
let sink = 0;

function bytesTask(bench: Bench, p: Http1Parser, fwd: ForwardedLines): () => unknown {
  const scan = new HeadScan();
  const target = new RequestTarget();
  return () => {
    const t0 = bench.now();
    for (let i = 0; i < BATCH; i++) {
      scan.scan(p);
      target.read(p);
      sink = (sink + requestHead(p, scan, target, fwd, false, BODY_NONE, -1).length) | 0;
    }
    return perOperation(bench, t0, BATCH);
  };
}

function naiveTask(bench: Bench, p: Http1Parser): () => unknown {
  const head = p.head;
  return () => {
    const t0 = bench.now();
    for (let i = 0; i < BATCH; i++) sink = (sink + naiveRequestHead(head, CLIENT).length) | 0;
    return perOperation(bench, t0, BATCH);
  };
}

function checkSame(p: Http1Parser, fwd: ForwardedLines): void {
  const scan = new HeadScan();
  scan.scan(p);
  const target = new RequestTarget();
  target.read(p);
  const bytes = requestHead(p, scan, target, fwd, false, BODY_NONE, -1);
  const naive = naiveRequestHead(p.head, CLIENT);
  if (!bytes.equals(naive)) {
    throw new Error(`head rewrites differ:\n--- requestHead\n${bytes.toString('latin1')}--- naive\n${naive.toString('latin1')}`);
  }
}

export default async function headBench(): Promise<Bench> {
  const bench = new Bench({ name: 'head', time: 500 });
  const fwd = forwardedLines(CLIENT, 'http', CLIENT, 8080);
  const small = parsed(SMALL_REQUEST);
  const large = parsed(LARGE);
  checkSame(small, fwd);
  checkSame(large, fwd);
  bench
    .add('bytes: scan + requestHead, small head (3 headers)', bytesTask(bench, small, fwd))
    .add('naive: split/filter/join, small head (3 headers)', naiveTask(bench, small))
    .add('bytes: scan + requestHead, 20 headers, Connection names one', bytesTask(bench, large, fwd))
    .add('naive: split/filter/join, 20 headers, Connection names one', naiveTask(bench, large));
  await bench.run();
  return bench;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const bench = await headBench();
  console.log(`${bench.name}: ops/s are single heads rewritten; each sample is the mean of ${BATCH} (sink ${sink})`);
  console.table(bench.table());
}
