// Question: what does parsing cost through our llhttp binding versus the llhttp-wasm wrapper API
// (same WASM module)? One op = one message (the pipelined task: one buffer of 8 messages). Each task
// function parses BATCH ops and reports the mean per op (overriddenDuration), as in heap.bench.ts.
// Inputs alternate between two Buffers with the same bytes so our binding must copy its input every
// time (it skips the copy when handed the very same Buffer again).
// Node's own parser is not included: process.binding('http_parser') prints DEP0111 on Node 20.
import { Bench } from 'tinybench';
import { perOperation } from './batch.js';
import { createParser, TYPE } from 'llhttp-wasm';
import { Http1Parser, EV_END, EV_HEAD, EV_NONE } from '../../src/http1/parser.js';
import { BROWSER_HEADERS, PAGE_REQUEST_LINE, SMALL_REQUEST } from './requests.js';

const BATCH = 256;

function largeRequest(): string {
  const cookie = Array.from({ length: 48 }, (_, i) => `k${i}=${'v'.repeat(36)}`).join('; ').slice(0, 2048);
  const headers = [
    ...BROWSER_HEADERS,
    'Connection: keep-alive',
    `Cookie: ${cookie}`,
    'Upgrade-Insecure-Requests: 1',
    'Sec-Fetch-Dest: document',
    'Sec-Fetch-Mode: navigate',
    'Sec-Fetch-Site: same-origin',
    'Sec-Fetch-User: ?1',
    'Priority: u=0, i',
    'Pragma: no-cache',
    'Cache-Control: no-cache',
    'X-Request-ID: 6f1c2e0a-3b7d-4c1e-9a55-0e2f4b8c9d10',
    'X-Forwarded-For: 203.0.113.7, 198.51.100.23',
    'If-None-Match: "33a64df551425fcc55e4d42a148795d9f25f89d4"',
    'DNT: 1',
  ];
  return `${PAGE_REQUEST_LINE}\r\n${headers.join('\r\n')}\r\n\r\n`;
}

function chunkedResponse(): string {
  const chunk = 'x'.repeat(256);
  const body = Array.from({ length: 4 }, () => `100\r\n${chunk}\r\n`).join('');
  return `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n${body}0\r\n\r\n`;
}

/** Two distinct Buffers holding the same bytes. */
function pair(text: string): [Buffer, Buffer] {
  return [Buffer.from(text, 'latin1'), Buffer.from(text, 'latin1')];
}

function oursTask(bench: Bench, kind: 'request' | 'response', bufs: [Buffer, Buffer], messages: number): () => unknown {
  const p = new Http1Parser(kind);
  let n = 0;
  return () => {
    const t0 = bench.now();
    for (let i = 0; i < BATCH; i++) {
      const buf = bufs[n++ & 1] as Buffer;
      let start = 0;
      let ends = 0;
      for (;;) {
        const ev = p.execute(buf, start);
        if (ev === EV_NONE) break;
        if (ev === EV_END) ends++;
        else if (ev !== EV_HEAD) throw new Error(`unexpected event ${ev} (${p.errorName})`);
        start = p.at;
      }
      if (ends !== messages) throw new Error(`parsed ${ends} messages, expected ${messages}`);
    }
    return perOperation(bench, t0, BATCH);
  };
}

// createParser looks the number up as a name (TYPE[type]), so every wrapper parser is of type BOTH.
function wrapperTask(bench: Bench, type: number, bufs: [Buffer, Buffer], messages: number): () => unknown {
  const p = createParser(type);
  let ends = 0;
  p.onMessageComplete = () => {
    ends++;
    return 0;
  };
  let n = 0;
  return () => {
    const t0 = bench.now();
    for (let i = 0; i < BATCH; i++) {
      ends = 0;
      const ret = p.execute(bufs[n++ & 1] as Buffer);
      if (ret !== 0 || ends !== messages) throw new Error(`wrapper: execute ${ret}, ${ends} messages, expected ${messages}`);
    }
    return perOperation(bench, t0, BATCH);
  };
}

export default async function parserBench(): Promise<Bench> {
  const bench = new Bench({ name: 'parser', time: 500 });
  const small = pair(SMALL_REQUEST);
  const large = pair(largeRequest());
  const pipelined = pair(SMALL_REQUEST.repeat(8));
  const chunked = pair(chunkedResponse());
  bench
    .add('ours: small request', oursTask(bench, 'request', small, 1))
    .add('wrapper: small request', wrapperTask(bench, TYPE['REQUEST'] ?? 1, small, 1))
    .add('ours: large-header request (20 headers, 2 KB cookie)', oursTask(bench, 'request', large, 1))
    .add('wrapper: large-header request (20 headers, 2 KB cookie)', wrapperTask(bench, TYPE['REQUEST'] ?? 1, large, 1))
    .add('ours: 8 pipelined small requests (per buffer)', oursTask(bench, 'request', pipelined, 8))
    .add('wrapper: 8 pipelined small requests (per buffer)', wrapperTask(bench, TYPE['REQUEST'] ?? 1, pipelined, 8))
    .add('ours: chunked response (4 x 256 B)', oursTask(bench, 'response', chunked, 1))
    .add('wrapper: chunked response (4 x 256 B, a BOTH parser)', wrapperTask(bench, TYPE['RESPONSE'] ?? 2, chunked, 1));
  await bench.run();
  return bench;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const bench = await parserBench();
  console.log(`${bench.name}: ops/s are single messages (pipelined: 8-message buffers); each sample is the mean of ${BATCH}`);
  console.table(bench.table());
}
