// make edge's workloads, each a compare/session.ts Workload: HTTPS keep-alive requests and new TLS
// handshakes (wrk against a TLS-terminating proxy in front of backends/fast.ts), redis-benchmark
// through a TCP proxy to redis-server backends, and one big upload through a TCP proxy to
// backends/sink.ts. What a "request" is differs: a request, a handshake (with its one request), a MiB.
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, runCommand, runLoad, type LoadResult, type LoadSettings } from '../compare/load.js';
import { onPath } from '../compare/procs.js';
import { checkHello, startBackends, startServers } from '../compare/driver.js';
import type { Workload } from '../compare/session.js';

const HOST = '127.0.0.1';
const TLS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../fixtures/tls');
/** The test certificate (ECDSA P-256, SANs 127.0.0.1 and localhost) every proxy serves, and its CA. */
export const CERT = { kind: 'https', cert: path.join(TLS_DIR, 'default.test.pem'), key: path.join(TLS_DIR, 'default.test.key') } as const;
const CA = path.join(TLS_DIR, 'ca.pem');

export interface Scenario {
  name: string;
  /** What one "request" of the tables is: req, handshake, MiB. */
  unit: string;
  /** One line for the report. */
  what: string;
  /** TCP proxies (and `direct`, the first backend itself) rather than TLS-terminating HTTP proxies. */
  tcp: boolean;
  workload: Workload;
}

function fastBackends(n: number, cpus: string | undefined): ReturnType<typeof startBackends> {
  return startBackends('backends/fast.js', n, undefined, cpus);
}

/** wrk (or ab) to the proxy's HTTPS listener; with `close`, `Connection: close` on every request: a new connection, so a new handshake, each. */
function httpsWorkload(load: LoadSettings, close: boolean, env: Record<string, string> = {}): Workload {
  const extra = close ? ['-H', 'Connection: close'] : [];
  const ca = readFileSync(CA, 'utf8');
  return {
    describe: `${Object.entries(env).map(([k, v]) => `${k}=${path.basename(v)} `).join('')}${describe(load)}${close ? " -H 'Connection: close'" : ''} https://…`,
    front: CERT,
    backends: fastBackends,
    check: (port) => checkHello(port, ca),
    load: (port, seconds) => runLoad({ ...load, seconds }, `https://${HOST}:${port}/`, extra, env),
  };
}

/**
 * An OpenSSL configuration for the client that holds it to TLSv1.2 without session tickets: every
 * handshake is a full one (wrk keeps a connection's session across its reconnects, so at TLSv1.3,
 * through SSL_clear, about half of its new connections resume).
 */
function fullHandshakeConf(tmp: string): string {
  const file = path.join(tmp, 'openssl-full-handshakes.cnf');
  writeFileSync(file, [
    'openssl_conf = openssl_init', '[openssl_init]', 'ssl_conf = ssl_sect', '[ssl_sect]', 'system_default = client_sect', '[client_sect]',
    'MaxProtocol = TLSv1.2', 'Options = -SessionTicket', '',
  ].join('\n'));
  return file;
}

/** One RESP command, and whether the answer starts as expected. */
function ping(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST);
    let answer = '';
    socket.setTimeout(5000, () => socket.destroy(new Error(`no answer to PING from ${port} within 5 s`)));
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
      if (!answer.includes('\r\n')) return;
      socket.destroy();
      if (answer.startsWith('+PONG')) resolve();
      else reject(new Error(`answered PING with ${JSON.stringify(answer.slice(0, 80))}`));
    });
    socket.once('error', reject);
    socket.write('PING\r\n');
  });
}

/** redis-benchmark's --csv line for `test`: "GET","rps","avg","min","p50","p95","p99","max". */
export function parseRedisCsv(out: string, test: string): LoadResult & { requests: number } {
  const line = out.split('\n').find((l) => l.startsWith(`"${test.toUpperCase()}`));
  const cells = line?.split(',').map((c) => Number(c.replace(/"/g, '')));
  if (cells === undefined || cells.length < 8 || !cells.slice(1).every(Number.isFinite)) throw new Error(`no ${test.toUpperCase()} line in redis-benchmark's output:\n${out.trim()}`);
  const [, rps, , , p50, , p99] = cells as number[];
  return { requests: 0, rps: rps ?? NaN, p50Ms: p50 ?? NaN, p90Ms: NaN, p99Ms: p99 ?? NaN, errors: (out.match(/^Error/gm) ?? []).length };
}

/**
 * redis-benchmark `-t TEST -P PIPELINE` with load.connections clients. It counts requests, not time:
 * each target's first run (the warm-up) is short, and later ones ask for its last rate × seconds.
 */
function redisWorkload(load: LoadSettings, test: 'get' | 'set', pipeline: number): Workload {
  const rates = new Map<number, number>();
  return {
    describe: `redis-benchmark -c ${load.connections} -t ${test} -P ${pipeline} -n (rate × ${load.seconds} s) --csv`,
    front: { kind: 'tcp' },
    backends: (n, cpus) => startServers(n, (port) => ['redis-server', ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no']], cpus),
    check: ping,
    load: async (port, seconds) => {
      const n = Math.max(10_000, Math.round((rates.get(port) ?? 5_000 * pipeline) * seconds));
      const out = await runCommand('redis-benchmark', ['-h', HOST, '-p', String(port), '-c', String(load.connections), '-n', String(n), '-t', test, '-P', String(pipeline), '--csv'], seconds * 10 + 60, load.cpus);
      const r = parseRedisCsv(out, test);
      rates.set(port, r.rps);
      return { ...r, requests: n };
    },
  };
}

const MIB = 1024 * 1024;

/** Sends `bytes` on one connection to `port`, ends, and reads the sink's count back: seconds taken, and whether the count was right. */
function push(port: number, bytes: number): Promise<{ seconds: number; ok: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port, allowHalfOpen: true });
    const chunk = Buffer.alloc(256 * 1024, 0x61);
    let started = 0;
    let answer = '';
    socket.once('error', reject);
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.once('end', () => {
      socket.destroy();
      resolve({ seconds: (performance.now() - started) / 1000, ok: Number(answer.trim()) === bytes });
    });
    socket.once('connect', () => {
      started = performance.now();
      let left = bytes;
      const write = (): void => {
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
            socket.once('drain', write);
            return;
          }
        }
        socket.end();
      };
      write();
    });
  });
}

/** `bytes` up through the proxy to a sink on one connection per run (the warm-up: an eighth); a "request" is a MiB. */
function bulkWorkload(bytes: number): Workload {
  return {
    describe: `one connection, ${Math.round(bytes / MIB)} MiB up, the sink's count read back`,
    front: { kind: 'tcp' },
    backends: (n, cpus) => startBackends('backends/sink.js', n, undefined, cpus),
    check: async (port) => {
      if (!(await push(port, MIB)).ok) throw new Error('the sink counted another number of bytes than were sent');
    },
    load: async (port, _seconds, warmup) => {
      const size = warmup ? Math.max(MIB, Math.round(bytes / 8)) : bytes;
      const { seconds, ok } = await push(port, size);
      return { requests: size / MIB, rps: size / MIB / seconds, p50Ms: NaN, p90Ms: NaN, p99Ms: NaN, errors: ok ? 0 : 1 };
    },
  };
}

export const SCENARIO_NAMES = ['https', 'handshake', 'handshake-tls12', 'redis', 'bulk'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** What each scenario needs installed beyond node, or null. */
export function missing(name: ScenarioName): string | null {
  if (name === 'redis') {
    for (const cmd of ['redis-server', 'redis-benchmark']) if (!onPath(cmd)) return `${cmd} not installed: apt-get install -y redis-server`;
  }
  return null;
}

/** The scenarios `name` stands for (redis: GET and SET at each pipeline depth). */
export function scenarios(name: ScenarioName, load: LoadSettings, tmp: string, pipelines: readonly number[], bulkBytes: number): Scenario[] {
  switch (name) {
    case 'https':
      return [{ name, unit: 'req', tcp: false, what: 'HTTPS keep-alive requests (TLS at the proxy, plain HTTP to 3 backends/fast.ts)', workload: httpsWorkload(load, false) }];
    case 'handshake':
      return [{
        name, unit: 'handshake', tcp: false, workload: httpsWorkload(load, true),
        what: "a new TLS connection per request (`Connection: close`), TLSv1.3 as wrk and the proxy agree; wrk resumes about half of them (it keeps each connection's session across reconnects)",
      }];
    case 'handshake-tls12':
      return [{
        name, unit: 'handshake', tcp: false, workload: httpsWorkload(load, true, { OPENSSL_CONF: fullHandshakeConf(tmp) }),
        what: 'a new TLS connection per request, the client held to TLSv1.2 without tickets: every handshake a full one (ECDHE-ECDSA-AES128-GCM-SHA256)',
      }];
    case 'redis':
      return pipelines.flatMap((p) => (['get', 'set'] as const).map((test) => ({
        name: `redis ${test.toUpperCase()} -P ${p}`, unit: 'req', tcp: true, workload: redisWorkload(load, test, p),
        what: `redis-benchmark -t ${test} -P ${p} -c ${load.connections} through the TCP proxy to 3 redis-server (one connection each way per client)`,
      })));
    case 'bulk':
      return [{ name, unit: 'MiB', tcp: true, what: `${Math.round(bulkBytes / MIB)} MiB up one connection through the TCP proxy to backends/sink.ts`, workload: bulkWorkload(bulkBytes) }];
  }
}
