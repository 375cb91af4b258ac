/**
 * Property test of the framing invariant, with fast-check. Generated requests, one to three per
 * connection and one or two connections per run, go through a fresh proxy (one backend, at most one
 * backend connection, so every request of a run shares the pooled socket) to a node:http backend
 * that records what its own parser read (node:http's parser is independent of the proxy's llhttp
 * binding). The requests vary in what matters for smuggling: a Connection header naming any subset
 * of the other headers (Content-Length, Transfer-Encoding, Host, X-Forwarded-*, end-to-end ones,
 * absent ones), Proxy-Connection naming framing, Content-Length zero-padded or repeated,
 * Transfer-Encoding lists (valid and not) with chunk extensions and trailers, both framings at once,
 * underscore lookalikes, Host forms, HTTP/1.0, bodies that hold a request.
 *
 * The invariant, per request in order on its connection: EITHER the backend parsed exactly the
 * request the client sent (same method, path and body bytes; every end-to-end header present with
 * its value; nothing Connection named, no lookalike, one framing header written by the proxy), and
 * the client got that request's answer; OR the client got a refusal (4xx, or 501/505) from the proxy
 * and the backend got nothing for that request nor for any after it on that connection. Each run
 * ends with a victim's GET on a new connection, which must get its own answer; over the run the
 * backend handled nothing else (no /smuggled) and never failed to parse what it was sent.
 *
 * FRAMING_SEED (default fixed) and FRAMING_RUNS set the seed and the number of runs; the seed and
 * the failing input are printed on failure.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { type RawClient, type RawResponse, headerValue } from '../../kit/raw-client.js';
import { connect, startProxy, waitForIdle, withCleanup } from '../../kit/harness.js';
import { startNodeRecorder, type NodeRequest } from '../../kit/node-backend.js';
import { SMUGGLED, VICTIM, VICTIM_SECRET, isLookalike } from '../../kit/smuggling-cases.js';

const SEED = Number(process.env.FRAMING_SEED ?? 1_337_421);
const RUNS = Number(process.env.FRAMING_RUNS ?? 800);
/** The whole check, shrinking included, stops after this and reports what it has. */
const TIME_LIMIT_MS = Number(process.env.FRAMING_TIME_LIMIT_MS ?? 60_000);
const READ_MS = 2_000;

// ---- generated requests ----

type HostForm = 'plain' | 'port' | 'none' | 'two' | 'empty' | 'slash-at' | 'space';

type Framing =
  | { kind: 'none' }
  | { kind: 'length'; pad: number; repeat: 'once' | 'twice' | 'list' }
  | { kind: 'chunked'; te: string; twoHeaders: boolean; cuts: number[]; ext: boolean; trailers: [string, string][]; alsoLength: number | null };

interface GenRequest {
  method: string;
  version: '1.1' | '1.0';
  host: HostForm;
  framing: Framing;
  body: string;
  /** End-to-end headers. */
  extra: [string, string][];
  xff: string | null;
  lookalikes: [string, string][];
  /** Tokens of a Connection header, or no Connection header. */
  connection: string[] | null;
  proxyConnection: boolean;
  /** Sort keys for the header lines. */
  order: number[];
}

interface Run {
  conns: { requests: GenRequest[]; pieces: number[] }[];
}

/** Names a Connection header cannot remove (R1). */
const PROTECTED = new Set(['content-length', 'transfer-encoding', 'host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);
/** Trailer fields the proxy must not forward (R2); X-Sum must pass. */
const DROPPED_TRAILERS = new Set(['host', 'keep-alive', 'te', 'trailer', 'upgrade']);
const HOP_BY_HOP = new Set(['keep-alive', 'te', 'trailer', 'upgrade', 'proxy-connection']);

const value = fc.string({ unit: fc.constantFrom(...'abc XYZ019;=,._-/"'.split('')), maxLength: 16 }).map((v) => v.trim());

const framing: fc.Arbitrary<Framing> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ kind: 'none' as const }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('length' as const),
      pad: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) }),
      repeat: fc.oneof({ weight: 8, arbitrary: fc.constant('once' as const) }, { weight: 1, arbitrary: fc.constantFrom('twice' as const, 'list' as const) }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('chunked' as const),
      te: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom('chunked', 'Chunked', 'CHUNKED') },
        { weight: 4, arbitrary: fc.constantFrom(',chunked', ', chunked', 'chunked, ', 'chunked,', 'chunked, chunked', 'gzip, chunked', 'identity', 'chunked, identity', ' , chunked', '') },
      ),
      twoHeaders: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
      cuts: fc.array(fc.nat(), { maxLength: 4 }),
      ext: fc.boolean(),
      trailers: fc.subarray([['X-Sum', 'abc'], ['Host', 'evil.example'], ['Keep-Alive', 'timeout=1'], ['TE', 'trailers'], ['Trailer', 'X-Sum'], ['Upgrade', 'h2c']] as [string, string][]),
      alsoLength: fc.oneof({ weight: 9, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat({ max: 60 }) }),
    }),
  },
);

const body = fc.oneof(
  fc.constant(SMUGGLED),
  fc.constant(`0\r\n\r\n${SMUGGLED}`),
  fc.constant('GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n'),
  fc.uint8Array({ minLength: 1, maxLength: 48 }).map((b) => Buffer.from(b).toString('latin1')),
  fc.constant(''),
);

const CONNECTION_TOKENS = ['Content-Length', 'Transfer-Encoding', 'Host', 'X-Forwarded-For', 'X-Forwarded-Proto', 'X-Forwarded-Host',
  'X-Secret', 'X-A', 'Cookie', 'Accept', 'X-Absent', 'keep-alive'];

const request: fc.Arbitrary<GenRequest> = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
  version: fc.oneof({ weight: 5, arbitrary: fc.constant('1.1' as const) }, { weight: 1, arbitrary: fc.constant('1.0' as const) }),
  host: fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom('plain' as const, 'port' as const) },
    { weight: 1, arbitrary: fc.constantFrom('none' as const, 'two' as const, 'empty' as const, 'slash-at' as const, 'space' as const) },
  ),
  framing,
  body,
  extra: fc.array(fc.tuple(fc.constantFrom('X-A', 'X-B', 'X-Secret', 'Cookie', 'Accept', 'X-Custom'), value), { maxLength: 4 }),
  xff: fc.option(fc.constantFrom('10.1.2.3', '203.0.113.9, 10.0.0.1'), { nil: null }),
  lookalikes: fc.subarray([['Transfer_Encoding', 'chunked'], ['Content_Length', '7'], ['X_Forwarded_For', '6.6.6.6'], ['X_Forwarded_Host', 'evil'],
    ['Proxy_Connection', 'close'], ['Keep_Alive', '1'], ['transfer_encoding', 'chunked']] as [string, string][], { maxLength: 3 }),
  connection: fc.option(fc.subarray(CONNECTION_TOKENS, { minLength: 1 }).chain((tokens) => fc.tuple(...tokens.map((t) => fc.constantFrom(t, t.toLowerCase(), t.toUpperCase())))), { nil: null }),
  proxyConnection: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  order: fc.array(fc.nat({ max: 99 }), { minLength: 24, maxLength: 24 }),
}).map((r) => (r.framing.kind === 'none' ? { ...r, body: '' } : r));

const run: fc.Arbitrary<Run> = fc.record({
  conns: fc.array(fc.record({
    requests: fc.array(request, { minLength: 1, maxLength: 3 }),
    pieces: fc.array(fc.nat(), { maxLength: 2 }),
  }), { minLength: 1, maxLength: 2 }),
});

// ---- writing a generated request ----

const HOSTS: Record<HostForm, string[]> = {
  plain: ['lb.test'], port: ['lb.test:8080'], none: [], two: ['lb.test', 'other.test'], empty: [''], 'slash-at': ['a/b@c'], space: ['a b'],
};

function chunkedBody(f: Extract<Framing, { kind: 'chunked' }>, text: string): string {
  const cuts = [...new Set(f.cuts.map((c) => c % (text.length + 1)))].filter((c) => c > 0 && c < text.length).sort((a, b) => a - b);
  const ext = f.ext ? ';e=1' : '';
  let out = '';
  let from = 0;
  for (const to of [...cuts, text.length]) {
    if (to > from) out += `${(to - from).toString(16)}${ext}\r\n${text.slice(from, to)}\r\n`;
    from = to;
  }
  return `${out}0${ext}\r\n${f.trailers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
}

/** The connection tokens as sent (HTTP/1.0 requests also ask for keep-alive, so later requests are read). */
function connectionTokens(r: GenRequest): string[] | null {
  if (r.version === '1.0') return [...(r.connection ?? []), 'keep-alive'];
  return r.connection;
}

function serialise(r: GenRequest, path: string): string {
  const lines: string[] = [];
  for (const h of HOSTS[r.host]) lines.push(`Host: ${h}`);
  for (const [n, v] of r.extra) lines.push(`${n}: ${v}`);
  if (r.xff !== null) lines.push(`X-Forwarded-For: ${r.xff}`);
  for (const [n, v] of r.lookalikes) lines.push(`${n}: ${v}`);
  const tokens = connectionTokens(r);
  if (tokens !== null) lines.push(`Connection: ${tokens.join(', ')}`);
  if (r.proxyConnection) lines.push('Proxy-Connection: Content-Length, Transfer-Encoding');
  const f = r.framing;
  let payload = '';
  if (f.kind === 'length') {
    const n = `${'0'.repeat(f.pad)}${Buffer.byteLength(r.body, 'latin1')}`;
    lines.push(f.repeat === 'list' ? `Content-Length: ${n}, ${n}` : `Content-Length: ${n}`);
    if (f.repeat === 'twice') lines.push(`Content-Length: ${n}`);
    payload = r.body;
  } else if (f.kind === 'chunked') {
    lines.push(`Transfer-Encoding: ${f.te}`);
    if (f.twoHeaders) lines.push('Transfer-Encoding: chunked');
    if (f.alsoLength !== null) lines.push(`Content-Length: ${f.alsoLength}`);
    payload = chunkedBody(f, r.body);
  }
  const ordered = lines.map((line, i) => ({ line, key: r.order[i % r.order.length] ?? 0 })).sort((a, b) => a.key - b.key).map((x) => x.line);
  return `${r.method} ${path} HTTP/${r.version}\r\n${ordered.map((l) => `${l}\r\n`).join('')}\r\n${payload}`;
}

// ---- the invariant ----

/** Everything wrong with how the backend received `r` (empty: it got exactly what the client sent). */
function compare(r: GenRequest, path: string, got: NodeRequest): string[] {
  const problems: string[] = [];
  const headers = got.headers;
  const named = (name: string): boolean => {
    const lower = name.toLowerCase();
    return !PROTECTED.has(lower) && (r.connection ?? []).some((t) => t.toLowerCase() === lower);
  };
  const has = (name: string): string[] => headers.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
  if (got.method !== r.method) problems.push(`method ${got.method}`);
  if (got.url !== path) problems.push(`url ${got.url}`);
  if (!got.complete) problems.push('the body never ended at the backend');
  if (got.body.toString('latin1') !== r.body) problems.push(`body ${JSON.stringify(got.body.toString('latin1'))}, sent ${JSON.stringify(r.body)}`);
  for (const [n, v] of r.extra) {
    const values = has(n);
    if (named(n) && values.length > 0) problems.push(`${n} is named by Connection but reached the backend`);
    if (!named(n) && !values.includes(v)) problems.push(`${n}: ${JSON.stringify(v)} did not reach the backend (it got ${JSON.stringify(values)})`);
  }
  const hosts = HOSTS[r.host];
  if (hosts.length === 1 && JSON.stringify(has('host')) !== JSON.stringify(hosts)) problems.push(`Host ${JSON.stringify(has('host'))}, sent ${JSON.stringify(hosts)}`);
  const xff = `${r.xff === null ? '' : `${r.xff}, `}127.0.0.1`;
  if (JSON.stringify(has('x-forwarded-for')) !== JSON.stringify([xff])) problems.push(`X-Forwarded-For ${JSON.stringify(has('x-forwarded-for'))}`);
  for (const [n] of headers) {
    if (isLookalike(n)) problems.push(`the lookalike ${n} reached the backend`);
    if (HOP_BY_HOP.has(n.toLowerCase())) problems.push(`the hop-by-hop ${n} reached the backend`);
  }
  const cl = has('content-length');
  const te = has('transfer-encoding');
  const length = Buffer.byteLength(r.body, 'latin1');
  const framingOk = (cl.length === 0 && te.length === 0 && length === 0)
    || (te.length === 0 && JSON.stringify(cl) === JSON.stringify([String(length)]))
    || (cl.length === 0 && JSON.stringify(te) === JSON.stringify(['chunked']));
  if (!framingOk) problems.push(`framing Content-Length ${JSON.stringify(cl)} Transfer-Encoding ${JSON.stringify(te)} for ${length} body bytes`);
  if (r.framing.kind === 'chunked' && got.complete) {
    const want = r.framing.trailers.filter(([n]) => !DROPPED_TRAILERS.has(n.toLowerCase()));
    if (te.length > 0 && JSON.stringify(got.trailers) !== JSON.stringify(want)) problems.push(`trailers ${JSON.stringify(got.trailers)}, expected ${JSON.stringify(want)}`);
  }
  return problems;
}

/**
 * A request the spec says is forwarded (so a proxy that refused everything would fail): HTTP/1.1 (or
 * 1.0 without Transfer-Encoding), one plain Host, one Content-Length without padding or a
 * Transfer-Encoding that is chunked alone (any case, an empty member before it allowed). Connection
 * tokens, lookalikes, chunk extensions and trailers never make a request refused.
 */
function mustForward(r: GenRequest): boolean {
  const f = r.framing;
  const framingOk = f.kind === 'none' || (f.kind === 'length' && f.pad === 0 && f.repeat === 'once')
    || (f.kind === 'chunked' && r.version === '1.1' && /^(,\s*)?chunked$/i.test(f.te) && !f.twoHeaders && f.alsoLength === null);
  return (r.host === 'plain' || r.host === 'port' || (r.host === 'none' && r.version === '1.0')) && framingOk;
}

const isRefusal = (res: RawResponse): boolean =>
  (res.status >= 400 && res.status < 500) || res.status === 501 || res.status === 505;

async function read(client: RawClient, label: string): Promise<RawResponse | string> {
  try {
    return await client.readResponse({ label, timeoutMs: READ_MS });
  } catch (err) {
    return (err as Error).message;
  }
}

/** Requests answered over all runs, to show what the runs exercised. */
const tally = { forwarded: 0, refused: 0 };

/** Runs one generated run through a fresh proxy and backend; throws with every problem found. */
async function check(r: Run, runIndex: number): Promise<void> {
  await withCleanup(async (c) => {
    const backend = await startNodeRecorder(c);
    const { proxy, port } = await startProxy(c, [backend], { maxConnectionsPerBackend: 1, responseTimeoutMs: READ_MS, backendIdleTimeoutMs: 4_000 });
    const problems: string[] = [];
    const sentPaths = new Set<string>();
    for (const [ci, conn] of r.conns.entries()) {
      const paths = conn.requests.map((_, i) => `/r${runIndex}-c${ci}-q${i}`);
      paths.forEach((p) => sentPaths.add(p));
      const bytes = Buffer.from(conn.requests.map((q, i) => serialise(q, paths[i] as string)).join(''), 'latin1');
      const client = await connect(c, port);
      const cuts = [...conn.pieces.map((p) => p % (bytes.length + 1)).sort((a, b) => a - b), bytes.length];
      let from = 0;
      for (const cut of cuts) {
        if (cut > from && !client.peerEnded) await client.write(bytes.subarray(from, cut)).catch(() => undefined);
        from = Math.max(from, cut);
      }
      for (const [i, q] of conn.requests.entries()) {
        const path = paths[i] as string;
        const label = `connection ${ci} request ${i} (${q.method} ${path})`;
        const res = await read(client, label);
        if (typeof res === 'string') {
          problems.push(`${label}: no response: ${res}`);
          break;
        }
        const got = backend.requests.filter((b) => b.url === path);
        if (res.status >= 200 && res.status < 300) {
          if (res.body.toString('latin1') !== `${q.method} ${path}`) problems.push(`${label}: got the answer ${JSON.stringify(res.body.toString('latin1'))}`);
          if (got.length !== 1) problems.push(`${label}: answered 2xx, the backend parsed it ${got.length} times`);
          else problems.push(...compare(q, path, got[0] as NodeRequest).map((p) => `${label}: ${p}`));
          tally.forwarded++;
          continue;
        }
        if (isRefusal(res) && headerValue(res, 'x-backend') === undefined) {
          const later = paths.slice(i);
          const forwarded = backend.requests.filter((b) => later.includes(b.url)).map((b) => b.url);
          if (forwarded.length > 0) problems.push(`${label}: refused ${res.status}, but the backend got ${JSON.stringify(forwarded)}`);
          if (res.keepAlive) problems.push(`${label}: refused ${res.status} without closing`);
          if (mustForward(q)) problems.push(`${label}: refused ${res.status}, but it is a request the proxy must forward`);
          tally.refused++;
          break;
        }
        problems.push(`${label}: status ${res.status}${headerValue(res, 'x-backend') === undefined ? '' : ' (a parse error at the backend)'}`);
        break;
      }
      client.close();
      await waitForIdle(proxy, 3_000).catch(() => problems.push('the proxy did not become idle'));
    }
    const victim = await connect(c, port);
    await victim.write(VICTIM);
    const res = await read(victim, 'the victim');
    const answer = typeof res === 'string' ? res : res.body.toString('latin1');
    if (answer !== 'GET /victim') problems.push(`the victim got ${JSON.stringify(answer)}`);
    const stray = backend.requests.filter((b) => !sentPaths.has(b.url) && b.url !== '/victim').map((b) => `${b.method} ${b.url}`);
    if (stray.length > 0) problems.push(`the backend handled requests nobody sent: ${JSON.stringify(stray)}`);
    const carriers = backend.requests.filter((b) => b.url !== '/victim' && JSON.stringify(b.headers).includes(VICTIM_SECRET));
    if (carriers.length > 0) problems.push(`the victim's cookie inside ${JSON.stringify(carriers.map((b) => b.url))}`);
    for (const e of backend.parseErrors) problems.push(`node:http could not parse what it was sent: ${e.code} at ${JSON.stringify(e.bytes.slice(0, 160))}`);
    if (problems.length > 0) throw new Error(problems.join('\n      '));
  });
}

test(`framing invariant (seed ${SEED}, ${RUNS} runs): the backend parses exactly what the client sent, or the client gets a refusal and the backend nothing`, async () => {
  process.stdout.write(`\n  framing property: seed ${SEED} (set FRAMING_SEED to reproduce), ${RUNS} runs\n`);
  let runIndex = 0;
  const started = Date.now();
  const details = await fc.check(fc.asyncProperty(run, (r) => check(r, runIndex++)), {
    seed: SEED,
    numRuns: RUNS,
    plugins: [fc.interruptAfterTimeLimit(TIME_LIMIT_MS)],
  });
  const took = Date.now() - started;
  if (details.failed) {
    const example = (details.counterexample as [Run] | null)?.[0];
    const requests = example?.conns.map((conn, ci) => conn.requests.map((q, i) => JSON.stringify(serialise(q, `/r-c${ci}-q${i}`))).join('\n      + ')) ?? [];
    assert.unreachable(`seed ${SEED} (FRAMING_SEED=${SEED} to reproduce; path ${details.counterexamplePath ?? '?'}), failing after ${details.numRuns} runs and ${details.numShrinks} shrinks (${took} ms):\n`
      + `    connections:\n      ${requests.join('\n    next connection:\n      ')}\n`
      + `    problems:\n      ${details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)}`);
  }
  process.stdout.write(`  framing property: ${details.numRuns} runs in ${took} ms${details.interrupted ? ' (interrupted at the time limit)' : ''}; `
    + `${tally.forwarded} requests forwarded, ${tally.refused} refused\n`);
});

test.run();
