// What the load is sent to: one backend directly, chanlb, and the peers in front of the same three
// backends, each configured for the comparison: one worker/thread (or N: chanlb --workers N, nginx
// worker_processes N, HAProxy nbthread N), least connections where the peer has it, keep-alive to the
// backends, the same X-Forwarded-* work as chanlb, no access log. startProxy() puts the same
// configurations, plus extra settings, in front of other upstreams.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { INSTALL } from './load.js';
import { freePort, onPath, pinned, processTree, start, waitForOutput, waitForPort, type Proc } from './procs.js';

export const TARGET_NAMES = ['direct', 'chanlb', 'chanlb-metrics', 'pipe', 'nginx', 'haproxy', 'undici'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

export interface Target {
  readonly name: TargetName;
  readonly port: number;
  /**
   * The processes whose CPU and memory are the target's (nginx: master and workers; chanlb: primary
   * and workers), read again at each call: workers forked after start-up, or replaced, count too.
   */
  readonly pids: () => readonly number[];
  /** Its worker processes (HAProxy: threads); 1 for one process. */
  readonly workers: number;
}

export interface Setup {
  /** dist/, where the compiled proxy, backends and peers are. */
  dist: string;
  /** A private directory for generated configs and logs. */
  tmp: string;
  backendPorts: readonly number[];
  /** The backend processes, in the order of backendPorts. */
  backends: readonly Proc[];
  /** CPUs the proxy is pinned to (taskset -c), if any. */
  cpus?: string;
  /** Node flags for the Node targets (chanlb, pipe, undici), before the script: --perf-basic-prof, --import. */
  nodeFlags?: readonly string[];
  /** Client connections the proxy must hold at once: nginx worker_connections and HAProxy maxconn (4096 unless more). */
  maxConnections?: number;
}

/** Why a target cannot run here (with the install command), or null. */
export function unavailable(name: TargetName): string | null {
  if ((name === 'nginx' || name === 'haproxy') && !onPath(name)) return `${name} not installed: ${INSTALL[name]}`;
  return null;
}

/** The target with `workers` processes (threads for HAProxy); `direct` and `undici` have one. */
export async function startTarget(name: TargetName, setup: Setup, workers = 1): Promise<Target> {
  if (name === 'direct') {
    const backend = setup.backends[0];
    const port = setup.backendPorts[0];
    if (backend === undefined || port === undefined) throw new Error('no backend');
    if (workers !== 1) throw new Error('direct is one backend process');
    return { name, port, pids: () => [backend.pid], workers };
  }
  const upstreams = setup.backendPorts.map((p) => `127.0.0.1:${p}`);
  if (name === 'chanlb-metrics') {
    // chanlb with its admin listener on: every request counted and timed (nothing scrapes during the run).
    return { ...(await startProxy('chanlb', setup, upstreams, ['--admin', `127.0.0.1:${await freePort()}`], workers)), name };
  }
  return startProxy(name, setup, upstreams, [], workers);
}

/**
 * A proxy in front of `upstreams` (HOST:PORT), configured as above plus `extra`: more flags for
 * chanlb and undici, more lines for nginx's `location /` or for HAProxy's `backend` section; with
 * `workers` processes (threads for HAProxy), pinned to `setup.cpus` if given.
 */
export async function startProxy(
  name: Exclude<TargetName, 'direct' | 'chanlb-metrics'>, setup: Pick<Setup, 'dist' | 'tmp' | 'cpus' | 'nodeFlags' | 'maxConnections'>, upstreams: readonly string[],
  extra: readonly string[] = [], workers = 1,
): Promise<Target> {
  const port = await freePort();
  const run = (cmd: string, args: readonly string[]): Proc => start(name, ...pinned(setup.cpus, cmd, args));
  const node = (script: string, more: readonly string[]): Proc =>
    run(process.execPath, [...(setup.nodeFlags ?? []), path.join(setup.dist, script), '--listen', `127.0.0.1:${port}`, '--backend', upstreams.join(','), ...more, ...extra]);
  const maxConnections = Math.max(4096, setup.maxConnections ?? 0);
  let proc: Proc;
  switch (name) {
    case 'chanlb':
      proc = node('src/main.js', workers > 1 ? ['--workers', String(workers)] : []);
      break;
    case 'pipe':
    case 'undici':
      if (workers !== 1) throw new Error(`the ${name} peer is one process`);
      proc = node(name === 'pipe' ? 'bench/load/peers/pipe.js' : 'bench/load/peers/undici-proxy.js', []);
      break;
    case 'nginx': {
      const dir = path.join(setup.tmp, `nginx-${port}`); // several may run at once (1 and 2 workers)
      mkdirSync(dir, { recursive: true });
      const conf = path.join(dir, 'nginx.conf');
      writeFileSync(conf, nginxConfig(dir, port, upstreams, extra, workers, maxConnections));
      proc = run('nginx', ['-p', dir, '-c', conf, '-e', path.join(dir, 'error.log'), '-g', 'daemon off;']);
      break;
    }
    case 'haproxy': {
      const conf = path.join(setup.tmp, `haproxy-${port}.cfg`);
      writeFileSync(conf, haproxyConfig(port, upstreams, extra, workers, maxConnections));
      proc = run('haproxy', ['-f', conf, '-db']);
      break;
    }
  }
  await waitForPort(proc, port);
  // With --workers the primary's port may open before every worker is ready; this line comes after.
  if (name === 'chanlb') await waitForOutput(proc, /chanlb listening on/);
  return { name, port, pids: () => processTree(proc.pid), workers };
}

export function nginxConfig(dir: string, port: number, upstreams: readonly string[], extra: readonly string[] = [], workers = 1, maxConnections = 4096): string {
  return `# generated by bench/compare: ${workers === 1 ? 'one worker' : `${workers} workers`}, least connections, keep-alive upstreams
worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
${maxConnections > 4096 ? `worker_rlimit_nofile ${2 * maxConnections + 100};\n` : ''}events { worker_connections ${maxConnections > 4096 ? 2 * maxConnections + 100 : 4096}; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 10000000;
  upstream backends {
    least_conn;
${upstreams.map((u) => `    server ${u};`).join('\n')}
    keepalive 64;
    keepalive_requests 10000000;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://backends;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
${extra.map((line) => `      ${line}\n`).join('')}    }
  }
}
`;
}

export function haproxyConfig(port: number, upstreams: readonly string[], extra: readonly string[] = [], threads = 1, maxConnections = 4096): string {
  return `# generated by bench/compare: ${threads === 1 ? 'one thread' : `${threads} threads`}, least connections, connection reuse to the backends
global
  nbthread ${threads}
  maxconn ${maxConnections}
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 30s
frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  balance leastconn
  http-reuse always
  option forwardfor
  http-request set-header X-Forwarded-Proto http
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
${extra.map((line) => `  ${line}\n`).join('')}${upstreams.map((u, i) => `  server b${i + 1} ${u}`).join('\n')}
`;
}
