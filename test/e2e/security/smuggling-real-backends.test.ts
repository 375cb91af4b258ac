/**
 * The smuggling attacks of smuggling.test.ts against real HTTP servers behind the proxy: node:http
 * always, and python3's http.server (backends/recorder.py, which reads bodies the CGI/WSGI way) when
 * python3 is on the machine. One backend, one backend connection at most, so the attacker's request
 * and the victim's (a GET with a cookie, on a new client connection once the attacker has its
 * answer) share the pooled backend socket.
 *
 * Per attack: the backend handled exactly the requests the client sent (same method, path and body;
 * a refused attack: nothing) and then the victim's, with no request for /smuggled, the victim's
 * cookie in no other request, no lookalike framing header, and no parse error at the backend; the
 * victim gets its own answer.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { RawResponse } from '../../kit/raw-client.js';
import { connect, startProxy, waitFor, waitForIdle, withCleanup, type Cleanup } from '../../kit/harness.js';
import { startNodeRecorder } from '../../kit/node-backend.js';
import { pythonMissing, startPythonRecorder } from '../../kit/python-backend.js';
import { ATTACKS, VICTIM, VICTIM_SECRET, isLookalike, type Attack } from '../../kit/smuggling-cases.js';

interface Handled {
  method: string;
  path: string;
  headers: [string, string][];
  body: string;
}

/** A backend as these tests see it: what it handled, and what went wrong in it, so far. */
interface RealBackend {
  port: number;
  handled(): Handled[];
  problems(): string[];
}

async function nodeBackend(c: Cleanup): Promise<RealBackend> {
  const b = await startNodeRecorder(c);
  return {
    port: b.port,
    handled: () => b.requests.filter((r) => r.complete).map((r) => ({ method: r.method, path: r.url, headers: r.headers, body: r.body.toString('latin1') })),
    problems: () => b.parseErrors.map((e) => `node:http parse error ${e.code} at ${JSON.stringify(e.bytes.slice(0, 200))}`),
  };
}

async function pythonBackend(c: Cleanup): Promise<RealBackend> {
  const b = await startPythonRecorder(c);
  return { port: b.port, handled: () => b.requests, problems: () => b.errors.map((e) => `http.server error: ${e}`) };
}

const describe = (h: Handled): string => `${h.method} ${h.path} body=${JSON.stringify(h.body)}`;

async function readOne(client: Awaited<ReturnType<typeof connect>>, label: string): Promise<RawResponse | string> {
  try {
    return await client.readResponse({ label, timeoutMs: 3_000 });
  } catch (err) {
    return (err as Error).message;
  }
}

/** Runs one attack then the victim through a fresh proxy; returns every problem seen. */
async function attackThenVictim(c: Cleanup, backend: RealBackend, attack: Attack): Promise<string[]> {
  const problems: string[] = [];
  const { proxy, port } = await startProxy(c, [backend], { maxConnectionsPerBackend: 1, responseTimeoutMs: 2_000 });
  const attacker = await connect(c, port);
  await attacker.write(attack.bytes);
  const res = await readOne(attacker, "the attacker's response");
  const answer = typeof res === 'string' ? res : `${res.status} ${res.body.toString('latin1')}`;
  const expected = 'refused' in attack.expect ? undefined : attack.expect;
  const wanted = expected === undefined ? `${'refused' in attack.expect ? attack.expect.refused : ''}` : `200 ${expected.method} ${expected.path}`;
  if (!answer.startsWith(wanted)) problems.push(`the attacker got ${JSON.stringify(answer)}, expected ${JSON.stringify(wanted)}`);
  attacker.close();
  await waitForIdle(proxy);

  const victim = await connect(c, port);
  await victim.write(VICTIM);
  const got = await readOne(victim, 'the victim');
  const victimAnswer = typeof got === 'string' ? got : got.body.toString('latin1');
  if (victimAnswer !== 'GET /victim') problems.push(`the victim got ${JSON.stringify(victimAnswer)}`);
  try {
    await waitFor('the backend to report the victim', () => backend.handled().some((h) => h.path === '/victim' || h.path.includes('/smuggled')), 3_000);
  } catch {
    problems.push('the backend never reported handling the victim');
  }

  const handled = backend.handled();
  const want = [...(expected === undefined ? [] : [describe({ ...expected, headers: [] })]), 'GET /victim body=""'];
  if (JSON.stringify(handled.map(describe)) !== JSON.stringify(want)) {
    problems.push(`the backend handled ${JSON.stringify(handled.map(describe))}, expected ${JSON.stringify(want)}`);
  }
  for (const h of handled) {
    const lookalikes = h.headers.filter(([n]) => isLookalike(n));
    if (lookalikes.length > 0) problems.push(`${h.method} ${h.path} reached the backend with ${JSON.stringify(lookalikes)}`);
    if (h.path !== '/victim' && JSON.stringify(h).includes(VICTIM_SECRET)) problems.push(`the victim's cookie inside ${h.method} ${h.path}`);
  }
  const host = expected?.host;
  const forwarded = handled.find((h) => h.path === expected?.path);
  if (host !== undefined && forwarded !== undefined) {
    const hosts = forwarded.headers.filter(([n]) => n.toLowerCase() === 'host').map(([, v]) => v);
    if (JSON.stringify(hosts) !== JSON.stringify([host])) problems.push(`${forwarded.method} ${forwarded.path} reached the backend with Host ${JSON.stringify(hosts)}`);
  }
  problems.push(...backend.problems());
  return problems;
}

function caseTest(backendName: string, attack: Attack, start: (c: Cleanup) => Promise<RealBackend>, skip: () => string | null): void {
  test(`${backendName}: ${attack.name}`, () => withCleanup(async (c) => {
    const why = skip();
    if (why !== null) {
      process.stdout.write(`\n  skipped "${backendName}: ${attack.name}": ${why}\n`);
      return;
    }
    const problems = await attackThenVictim(c, await start(c), attack);
    assert.ok(problems.length === 0, `\n    ${problems.join('\n    ')}`);
  }));
}

let pythonWhy: string | null | undefined;
const pythonSkip = (): string | null => (pythonWhy === undefined ? (pythonWhy = pythonMissing()) : pythonWhy);

for (const attack of Object.values(ATTACKS)) caseTest('node:http', attack, nodeBackend, () => null);
for (const attack of Object.values(ATTACKS)) caseTest('python3 http.server', attack, pythonBackend, pythonSkip);

test.run();
