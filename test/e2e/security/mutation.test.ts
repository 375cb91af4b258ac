/**
 * Mutation test: the request fixtures (good and bad) with random byte mutations, injected header
 * lines, duplications and truncations, and mutations of header names and values (a header's name put
 * into Connection, an underscore lookalike of a framing header, Transfer-Encoding lists with empty
 * members, Content-Length zero-padded, repeated or listed, a request as the body, values or names
 * swapped), each sent in random pieces on its own connection through the proxy to an echo backend.
 * The oracle is the project's own Http1Parser (llhttp, strict) run over the whole mutated input
 * (with request-line versions HTTP/1.2-1.9 read as 1.1, which the proxy forwards), plus the proxy's
 * documented extra refusals (CONNECT, Host rules, body limit, and those of the smuggling fix: TRACE,
 * a fragment, an asterisk target without OPTIONS, an absolute-form target with userinfo or a scheme
 * other than http(s), Transfer-Encoding on HTTP/1.0, a Host that is empty or holds whitespace, / or @,
 * a request line with two spaces in a row, a version other than 1.x).
 *
 * Checks, per case: the proxy closes the connection after the client half-closes (never hangs); its
 * output parses as HTTP responses; a 2xx only ever answers a request llhttp accepts complete; no
 * more final responses than requests (+1 for the error). Over the run: the echo backend saw no more
 * request heads, and completed no more requests, than the clients sent valid ones; the proxy still
 * serves a good request and every pending count is back to zero. Unmutated good fixtures are all
 * answered 2xx (so a proxy that refused everything would fail).
 *
 * Cases run one at a time so the backend's counts and the proxy's open client connections are checked
 * per case. Reproduce a failure with MUTATION_SEED=<the seed printed>; MUTATION_CASES sets the count,
 * MUTATION_CONCURRENCY=24 runs cases in parallel (totals checked only).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as net from 'node:net';
import { Http1Parser, EV_NONE, EV_HEAD, EV_END, EV_UPGRADE, EV_ERROR } from '../../../src/http1/parser.js';
import { METHOD_CONNECT, METHOD_HEAD, METHOD_OPTIONS, METHOD_TRACE } from '../../../src/http1/methods.js';
import { loadFixtures, type Fixture } from '../../kit/fixtures.js';
import { DEFAULTS } from '../../../src/options/options.js';
import { HOST, connect, echoBackends, startProxy, waitFor, waitForIdle, withCleanup } from '../../kit/harness.js';
import { prng } from '../../kit/prng.js';

const SEED = Number(process.env.MUTATION_SEED ?? ((Date.now() ^ (process.pid << 16)) >>> 0));
const CASES = Number(process.env.MUTATION_CASES ?? 2500);
/** 1: cases one at a time, so backend counts and leaked connections are checked per case (more: only in total). */
const CONCURRENCY = Number(process.env.MUTATION_CONCURRENCY ?? 1);
const CASE_TIMEOUT_MS = 4_000;
/** Short, so requests cut off mid-body do not hold a case for long whatever the proxy does with them. */
const RESPONSE_TIMEOUT_MS = 400;
const MAX_HEAD = DEFAULTS.maxHeadBytes;
const MAX_BODY = 1 << 20;

// ---- mutations ----

const INTERESTING = [0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x2c, 0x3b, 0x30, 0x39, 0x61, 0x66, 0x00, 0x7f, 0x80, 0xff, 0x22, 0x2f, 0x48, 0x2e, 0x2d, 0x2b];
const LINES = [
  'Content-Length: 5\r\n', 'Content-Length: 0\r\n', 'Content-Length: 99999999\r\n', 'Transfer-Encoding: chunked\r\n',
  'Transfer-Encoding: gzip, chunked\r\n', 'Host: dup.example\r\n', 'Connection: close\r\n', 'Connection: keep-alive, X-A\r\n',
  'Expect: 100-continue\r\n', 'Upgrade: websocket\r\nConnection: upgrade\r\n', 'X-A: b\r\n', ' folded\r\n', 'X-B : c\r\n',
  '\r\n', 'GET /injected HTTP/1.1\r\nHost: i\r\n\r\n', '0\r\n\r\n', '5;e=1\r\nabcde\r\n',
];

interface Case {
  index: number;
  fixture: string;
  bytes: Buffer;
  /** Write boundaries (increasing offsets into bytes, the last being bytes.length). */
  cuts: number[];
  mutated: boolean;
}

/** Header names a proxy interprets: put into Connection values and imitated with underscores. */
const PROXY_NAMES = ['Content-Length', 'Transfer-Encoding', 'Host', 'X-Forwarded-For', 'X-Forwarded-Host', 'X-Forwarded-Proto',
  'Connection', 'Proxy-Connection', 'Keep-Alive', 'Upgrade', 'Expect', 'TE', 'Trailer'];
const TE_LISTS = [',chunked', ', chunked', 'chunked,', 'chunked, ', ' , chunked', 'chunked, ,', ',,chunked', 'chunked, chunked', 'gzip, , chunked', ', ', ''];
const SMUGGLE = 'GET /smuggled HTTP/1.1\r\nHost: s\r\n\r\n';

interface HeaderLine {
  /** Offsets in the latin1 string: the line's start, where its value starts, and its CRLF. */
  start: number;
  valueStart: number;
  end: number;
  name: string;
  value: string;
}

/** The header lines of the first head in `s` (none if it has no complete head). */
function headerLines(s: string): HeaderLine[] {
  const headEnd = s.indexOf('\r\n\r\n');
  const out: HeaderLine[] = [];
  if (headEnd < 0) return out;
  for (let start = s.indexOf('\r\n') + 2; start > 1 && start <= headEnd; start = s.indexOf('\r\n', start) + 2) {
    const end = s.indexOf('\r\n', start);
    const colon = s.indexOf(':', start);
    if (colon < 0 || colon > end) continue;
    out.push({ start, valueStart: colon + 1, end, name: s.slice(start, colon), value: s.slice(colon + 1, end) });
  }
  return out;
}

/** One mutation of header names or values (the smuggler's moves), on the first head of `b`. */
function mutateHeader(b: Buffer, rand: () => number): Buffer {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  let s = b.toString('latin1');
  const lines = headerLines(s);
  const find = (name: string): HeaderLine | undefined => lines.find((l) => l.name.toLowerCase() === name);
  const insert = (line: string): string => {
    const at = lines.length > 0 ? pick(lines).start : s.indexOf('\r\n') + 2;
    return at < 2 ? s : `${s.slice(0, at)}${line}\r\n${s.slice(at)}`;
  };
  const setValue = (l: HeaderLine, v: string): string => `${s.slice(0, l.valueStart)}${v}${s.slice(l.end)}`;
  switch (Math.floor(rand() * 6)) {
    case 0: { // a header's name into Connection
      const named = lines.length > 0 && rand() < 0.5 ? pick(lines).name : pick(PROXY_NAMES);
      const conn = find('connection');
      s = conn !== undefined && rand() < 0.5 ? setValue(conn, `${conn.value}, ${named}`) : insert(`Connection: ${named}`);
      break;
    }
    case 1: { // an underscore lookalike of a header
      const dashed = lines.filter((l) => l.name.includes('-'));
      const copy = dashed.length > 0 && rand() < 0.5 ? pick(dashed) : undefined;
      s = copy !== undefined
        ? insert(`${copy.name.replace(/-/g, '_')}:${copy.value}`)
        : insert(`${pick(PROXY_NAMES.filter((n) => n.includes('-'))).replace(/-/g, '_')}: ${pick(['chunked', '0', '5', '99', 'close', 'evil.example'])}`);
      break;
    }
    case 2: { // a Transfer-Encoding list with empty members
      const te = find('transfer-encoding');
      s = te !== undefined ? setValue(te, ` ${pick(TE_LISTS)}`) : insert(`Transfer-Encoding: ${pick(TE_LISTS)}`);
      break;
    }
    case 3: { // Content-Length zero-padded, repeated or listed
      const cl = find('content-length');
      const v = cl?.value.trim() ?? '';
      const r = rand();
      if (cl === undefined) s = insert(`Content-Length: ${pick(['0', '00', '5', '005'])}`);
      else if (r < 0.4) s = setValue(cl, ` 0${v}`);
      else if (r < 0.7) s = insert(`Content-Length: ${v}`);
      else s = setValue(cl, ` ${v}, ${v}`);
      break;
    }
    case 4: { // a request as the body (Content-Length set to it), Content-Length named in Connection half the time
      const headEnd = s.indexOf('\r\n\r\n');
      if (headEnd < 0) break;
      const cl = find('content-length');
      const old = cl !== undefined && /^\s*\d+\s*$/.test(cl.value) ? Number(cl.value) : 0;
      const head = cl !== undefined ? setValue(cl, ` ${SMUGGLE.length}`) : `${s.slice(0, headEnd)}\r\nContent-Length: ${SMUGGLE.length}${s.slice(headEnd)}`;
      const newEnd = head.indexOf('\r\n\r\n') + 4;
      s = `${head.slice(0, newEnd)}${SMUGGLE}${head.slice(newEnd + old)}`;
      if (rand() < 0.5) s = `${s.slice(0, newEnd - 2)}Connection: ${pick(['Content-Length', 'content-length', 'keep-alive, Content-Length'])}\r\n${s.slice(newEnd - 2)}`;
      break;
    }
    default: { // swap two values, or two names
      if (lines.length < 2) break;
      const first = Math.floor(rand() * lines.length);
      const second = (first + 1 + Math.floor(rand() * (lines.length - 1))) % lines.length;
      const [x, y] = [lines[first], lines[second]].sort((m, n) => (m as HeaderLine).start - (n as HeaderLine).start) as [HeaderLine, HeaderLine];
      const names = rand() < 0.5;
      const lineOf = (l: HeaderLine, other: HeaderLine): string => (names ? `${other.name}:${l.value}` : `${l.name}:${other.value}`);
      s = `${s.slice(0, x.start)}${lineOf(x, y)}${s.slice(x.end, y.start)}${lineOf(y, x)}${s.slice(y.end)}`;
    }
  }
  return Buffer.from(s, 'latin1');
}

function mutate(input: Buffer, rand: () => number): Buffer {
  let b: Buffer = Buffer.from(input);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const pos = (len: number): number => Math.floor(rand() * (len + 1));
  const ops = 1 + Math.floor(rand() * 3);
  for (let k = 0; k < ops; k++) {
    if (rand() < 0.35) { // a header name or value
      b = mutateHeader(b, rand);
      continue;
    }
    const r = rand();
    if (r < 0.3 && b.length > 0) { // replace a byte
      const i = Math.min(b.length - 1, pos(b.length - 1));
      b[i] = rand() < 0.6 ? pick(INTERESTING) : Math.floor(rand() * 256);
    } else if (r < 0.45) { // insert a byte
      const i = pos(b.length);
      b = Buffer.concat([b.subarray(0, i), Buffer.of(pick(INTERESTING)), b.subarray(i)]);
    } else if (r < 0.6 && b.length > 0) { // delete 1-4 bytes
      const i = pos(b.length - 1);
      b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1 + Math.floor(rand() * 4))]);
    } else if (r < 0.72 && b.length > 0) { // duplicate a slice
      const i = pos(b.length - 1);
      const j = Math.min(b.length, i + 1 + Math.floor(rand() * 40));
      b = Buffer.concat([b.subarray(0, j), b.subarray(i, j), b.subarray(j)]);
    } else if (r < 0.9) { // inject a line after a line end
      const ends: number[] = [];
      for (let i = b.indexOf('\r\n'); i >= 0; i = b.indexOf('\r\n', i + 2)) ends.push(i + 2);
      const at = ends.length > 0 ? pick(ends) : pos(b.length);
      b = Buffer.concat([b.subarray(0, at), Buffer.from(pick(LINES), 'latin1'), b.subarray(at)]);
    } else { // swap two bytes
      const i = Math.min(b.length - 1, pos(b.length - 1));
      const j = Math.min(b.length - 1, pos(b.length - 1));
      const t = b[i] as number;
      b[i] = b[j] as number;
      b[j] = t;
    }
  }
  if (rand() < 0.25) b = b.subarray(0, Math.floor(rand() * b.length)); // truncate
  return b;
}

function makeCases(fixtures: Fixture[], seed: number, n: number): Case[] {
  const rand = prng(seed);
  const cases: Case[] = [];
  for (let index = 0; index < n; index++) {
    const fixture = fixtures[Math.floor(rand() * fixtures.length)] as Fixture;
    const mutated = rand() >= 0.1; // one case in ten is only split
    const bytes = mutated ? mutate(fixture.bytes, rand) : fixture.bytes;
    const pieces = 1 + Math.floor(rand() * 6);
    const cuts = Array.from({ length: pieces - 1 }, () => Math.floor(rand() * bytes.length)).sort((a, b) => a - b);
    cuts.push(bytes.length);
    cases.push({ index, fixture: fixture.name, bytes, cuts, mutated });
  }
  return cases;
}

// ---- the oracle ----

interface Expectation {
  /** llhttp's verdict on each message, in order: complete = head and body accepted; forwardable = not refused by the proxy's own rules. */
  messages: { method: number; complete: boolean; forwardable: boolean }[];
  /** Heads the proxy may forward (llhttp-valid and not refused by the proxy's own rules). */
  forwardableHeads: number;
  /** Requests the proxy may forward complete. */
  forwardableComplete: number;
  error: string | null;
}

/** Request-line versions HTTP/1.2-1.9 as 1.1 (same length): the proxy forwards them as HTTP/1.1 (RFC 9112 §2.3). */
function asHttp11(bytes: Buffer): Buffer {
  return Buffer.from(bytes.toString('latin1').replace(/(^|\r\n)([^\r\n ]+ [^\r\n ]+ HTTP\/1\.)[2-9](?=\r\n)/g, '$1$21'), 'latin1');
}

/**
 * The proxy's refusals of the smuggling fix, for a head llhttp accepted (only the clear-cut ones:
 * where the rules leave room, the oracle counts the request as forwardable, which only loosens it).
 */
function refusedBySpec(p: Http1Parser, headers: [string, string][], target: string): boolean {
  const head = p.head;
  let lineStart = 0;
  while (head[lineStart] === 0x0d || head[lineStart] === 0x0a) lineStart++;
  const requestLine = head.toString('latin1', lineStart, head.indexOf('\r\n', lineStart));
  const absolute = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)/.exec(target);
  const hosts = headers.filter(([n]) => n.toLowerCase() === 'host').map(([, v]) => v.replace(/^[ \t]+|[ \t]+$/g, ''));
  return p.versionMajor !== 1
    || p.method === METHOD_TRACE
    || target.includes('#')
    || (target === '*' && p.method !== METHOD_OPTIONS)
    || (absolute !== null && (!/^https?$/i.test(absolute[1] ?? '') || (absolute[2] ?? '').includes('@')))
    || (p.versionMinor === 0 && headers.some(([n]) => n.toLowerCase() === 'transfer-encoding'))
    || hosts.some((h) => h === '' || /[\s/@]/.test(h))
    || requestLine.includes('  ');
}

function expect(input: Buffer): Expectation {
  const bytes = asHttp11(input);
  const p = new Http1Parser('request', { maxHeadBytes: MAX_HEAD });
  const out: Expectation = { messages: [], forwardableHeads: 0, forwardableComplete: 0, error: null };
  let refused = false; // the proxy stops forwarding after a refusal of its own
  let current: Expectation['messages'][number] | null = null;
  try {
    let off = 0;
    for (let guard = 0; guard < 1000; guard++) {
      const ev = p.execute(bytes, off);
      off = p.at;
      if (ev === EV_HEAD) {
        const d = p.describe();
        const hosts = d.headers.filter(([n]) => n.toLowerCase() === 'host').length;
        const cl = d.headers.find(([n]) => n.toLowerCase() === 'content-length')?.[1].trim();
        const v11 = p.versionMajor === 1 && p.versionMinor === 1;
        const ok = !refused && p.method !== METHOD_CONNECT && hosts <= 1 && !(v11 && hosts === 0) && !(cl !== undefined && Number(cl) > MAX_BODY)
          && !refusedBySpec(p, d.headers, d.url);
        if (!ok) refused = true;
        current = { method: p.method, complete: false, forwardable: ok };
        out.messages.push(current);
        if (ok) out.forwardableHeads++;
      } else if (ev === EV_END) {
        if (current !== null) {
          current.complete = true;
          if (current.forwardable) out.forwardableComplete++;
        }
        if (!p.keepAlive || p.upgrade) break; // nothing after it is a request
      } else if (ev === EV_UPGRADE) {
        break;
      } else if (ev === EV_ERROR) {
        out.error = p.errorName;
        break;
      } else if (ev === EV_NONE && off >= bytes.length) {
        break;
      }
    }
  } finally {
    p.destroy();
  }
  return out;
}

// ---- running a case ----

/** Polls `check` on every turn of the event loop (cheap for the usual case of a few turns); false at the deadline. */
async function soon(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let turns = 0; !check(); turns++) {
    if (Date.now() > deadline) return false;
    await new Promise<void>((resolve) => (turns < 50 ? setImmediate(resolve) : setTimeout(resolve, 2)));
  }
  return true;
}

interface Outcome {
  finals: number[];
  interim: number;
  problem: string | null;
}

/** Sends the case, half-closes, collects everything until the proxy closes; parses it as responses. */
async function run(port: number, c: Case, exp: Expectation): Promise<Outcome> {
  const socket = net.connect({ host: HOST, port });
  socket.setNoDelay(true);
  const received: Buffer[] = [];
  let closed = false;
  const done = new Promise<void>((resolve) => {
    socket.on('data', (d: Buffer) => received.push(d));
    socket.on('error', () => {});
    socket.on('close', () => { closed = true; resolve(); });
  });
  await new Promise<void>((resolve) => {
    socket.once('connect', resolve);
    socket.once('close', resolve);
  });
  let from = 0;
  for (const cut of c.cuts) {
    if (closed || socket.destroyed) break;
    if (cut > from) socket.write(c.bytes.subarray(from, cut));
    from = cut;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  if (!socket.destroyed) socket.end();
  const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), CASE_TIMEOUT_MS).unref());
  const result = await Promise.race([done.then(() => 'closed' as const), timer]);
  socket.destroy();
  if (result === 'timeout') return { finals: [], interim: 0, problem: `the proxy did not close within ${CASE_TIMEOUT_MS} ms of the half-close` };
  return parseResponses(Buffer.concat(received), exp);
}

function parseResponses(bytes: Buffer, exp: Expectation): Outcome {
  const p = new Http1Parser('response', { maxHeadBytes: 1 << 20 });
  const finals: number[] = [];
  let interim = 0;
  let status = 0;
  try {
    let off = 0;
    p.expectNoBody = exp.messages[0]?.method === METHOD_HEAD;
    for (let guard = 0; guard < 1000; guard++) {
      const ev = p.execute(bytes, off);
      off = p.at;
      if (ev === EV_HEAD) {
        status = p.statusCode;
      } else if (ev === EV_END) {
        if (status < 200) interim++;
        else finals.push(status);
        p.expectNoBody = exp.messages[finals.length]?.method === METHOD_HEAD;
      } else if (ev === EV_ERROR) {
        return { finals, interim, problem: `malformed output from the proxy: ${p.errorName} ${p.errorReason} near ${JSON.stringify(bytes.toString('latin1', Math.max(0, off - 40), off + 40))}` };
      } else if (ev === EV_UPGRADE) {
        return { finals, interim, problem: null }; // a 101: the rest is tunnel bytes
      } else if (off >= bytes.length) {
        break;
      }
    }
    if (p.finish() === EV_END) finals.push(status); // a response ended by the close
  } finally {
    p.destroy();
  }
  return { finals, interim, problem: null };
}

/** Everything wrong with one case's outcome (empty: fine). */
function check(c: Case, exp: Expectation, out: Outcome): string[] {
  const problems: string[] = [];
  if (out.problem !== null) problems.push(out.problem);
  if (out.finals.length > exp.messages.length + 1) {
    problems.push(`${out.finals.length} final responses to ${exp.messages.length} requests`);
  }
  for (const [i, status] of out.finals.entries()) {
    const msg = exp.messages[i];
    if (status >= 200 && status < 300 && (msg === undefined || !msg.complete || !msg.forwardable)) {
      problems.push(`response ${i} is ${status} but ${msg === undefined ? 'llhttp saw no such request'
        : msg.complete ? 'the proxy must refuse it' : `llhttp rejects it (${exp.error ?? 'incomplete'})`}`);
    }
  }
  const plain = !c.mutated && !c.fixture.startsWith('bad/') && !/connect|upgrade/.test(c.fixture);
  if (plain) {
    // The complete requests up to the first one the proxy refuses are answered 2xx; that one 4xx/5xx.
    const refusedAt = exp.messages.findIndex((m) => !m.forwardable);
    const answered = exp.messages.slice(0, refusedAt < 0 ? undefined : refusedAt).filter((m) => m.complete).length;
    const wanted = `${answered} 2xx${refusedAt < 0 ? '' : ' then a refusal'}`;
    const got2xx = out.finals.slice(0, answered);
    const rest = out.finals.slice(answered);
    if (got2xx.length !== answered || got2xx.some((s) => s < 200 || s >= 300)
      || (refusedAt < 0 ? rest.length > 0 : rest.length !== 1 || (rest[0] as number) < 400)) {
      problems.push(`an unmutated good fixture got ${JSON.stringify(out.finals)}, expected ${wanted}`);
    }
  }
  return problems;
}

test(`mutated fixture requests (seed ${SEED}, ${CASES} cases): no crash, no 2xx for rejected input, the backend never gets more than was sent`, () => withCleanup(async (cl) => {
  process.stdout.write(`\n  mutation: seed ${SEED} (set MUTATION_SEED to reproduce), ${CASES} cases, concurrency ${CONCURRENCY}\n`);
  const fixtures = [
    ...loadFixtures('requests'),
    ...loadFixtures('requests/bad').map((f) => ({ name: `bad/${f.name}`, bytes: f.bytes })),
  ];
  const cases = makeCases(fixtures, SEED, CASES);
  const [echo] = await echoBackends(cl, 1);
  assert.ok(echo !== undefined);
  const { proxy, port } = await startProxy(cl, [echo], {
    responseTimeoutMs: RESPONSE_TIMEOUT_MS,
    maxBodyBytes: MAX_BODY,
    failuresToEject: 1_000_000_000, // 504s for requests cut off mid-body must not take the only backend out
    maxConnectionsPerBackend: 256,
  });

  const failures: string[] = [];
  let forwardableHeads = 0;
  let forwardableComplete = 0;
  let next = 0;
  const started = Date.now();
  const worker = async (): Promise<void> => {
    for (let i = next++; i < cases.length && failures.length < 10; i = next++) {
      const c = cases[i] as Case;
      const exp = expect(c.bytes);
      forwardableHeads += exp.forwardableHeads;
      forwardableComplete += exp.forwardableComplete;
      const before = CONCURRENCY === 1 ? { ...echo.stats(), completed: echo.completed(), clients: proxy.stats().clients } : null;
      const out = await run(port, c, exp);
      const problems = check(c, exp, out);
      if (before !== null) {
        const idle = (): boolean => proxy.stats().clients <= before.clients && proxy.stats().workers.every((w) => w.pending === 0);
        if (!(await soon(idle, 500))) {
          problems.push(`500 ms after the close the proxy still holds the client connection or a pending job: ${JSON.stringify(proxy.stats())} (${before.clients} clients before)`);
        }
        const heads = echo.stats().requests - before.requests;
        const completed = echo.completed() - before.completed;
        if (heads > exp.forwardableHeads) problems.push(`the backend saw ${heads} request heads, the client sent ${exp.forwardableHeads} valid`);
        if (completed > exp.forwardableComplete) problems.push(`the backend completed ${completed} requests, the client sent ${exp.forwardableComplete} complete`);
      }
      if (problems.length > 0) {
        const input = JSON.stringify(c.bytes.toString('latin1'));
        failures.push(`case ${c.index} (${c.fixture}, cuts ${JSON.stringify(c.cuts)}): ${problems.join('; ')}\n      input ${input.length > 400 ? `${input.slice(0, 400)}...` : input}\n      final statuses ${JSON.stringify(out.finals)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const tookMs = Date.now() - started;
  assert.ok(failures.length === 0, `seed ${SEED}: ${failures.length}${failures.length >= 10 ? '+' : ''} failing cases (set MUTATION_SEED=${SEED} to reproduce):\n    ${failures.join('\n    ')}`);

  await waitForIdle(proxy);
  await waitFor('every client connection to be dropped', () => proxy.stats().clients === 0, 1_000, () => JSON.stringify(proxy.stats()));
  const { requests } = echo.stats();
  assert.ok(requests <= forwardableHeads, `seed ${SEED}: the backend saw ${requests} request heads; the clients sent ${forwardableHeads} valid ones`);
  assert.ok(echo.completed() <= forwardableComplete, `seed ${SEED}: the backend completed ${echo.completed()} requests; the clients sent ${forwardableComplete} complete`);
  assert.ok(forwardableComplete > CASES / 10, `the mix still has plenty of valid requests (${forwardableComplete})`);

  // Still alive and serving.
  const client = await connect(cl, port);
  await client.write('GET /still-alive HTTP/1.1\r\nHost: lb.test\r\n\r\n');
  const res = await client.readResponse();
  assert.is(res.status, 200);
  assert.match(res.body.toString(), /"url":"\/still-alive"/);
  process.stdout.write(`  mutation: ${CASES} cases in ${tookMs} ms; backend saw ${requests} heads (<= ${forwardableHeads}), completed ${echo.completed()} (<= ${forwardableComplete})\n`);
}));

test.run();
