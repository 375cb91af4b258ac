// What the load is sent to: one backend directly, chanlb, and the peers in front of the same three
// backends, each configured for the comparison: one worker/thread (or N: chanlb --workers N, nginx
// worker_processes N, HAProxy nbthread N), least connections where the peer has it, keep-alive to the
// backends, the same X-Forwarded-* work as chanlb, no access log. startProxy() puts the same
// configurations, plus extra settings, in front of other upstreams. A Front other than plain HTTP
// makes the same proxies terminate TLS (HTTPS to the client, plain HTTP to the backends) or pipe TCP
// connections (chanlb --mode tcp, HAProxy mode tcp, nginx stream), for make edge.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { INSTALL } from './load.js';
import { freePort, onPath, pinned, processTree, start, waitForOutput, waitForPort, type Proc } from './procs.js';

export const TARGET_NAMES = ['direct', 'chanlb', 'chanlb-metrics', 'pipe', 'nginx', 'haproxy', 'undici'] as const;
/** `chanlb-baseline`: chanlb from another build's dist/ (Setup.baseline), beside this one: `--baseline DIST`. */
export type TargetName = (typeof TARGET_NAMES)[number] | 'chanlb-baseline';

/**
 * What the proxy listens for: plain HTTP (the default), HTTPS with this certificate and key (PEM
 * files), or TCP, each connection piped to the backend with the fewest open connections.
 */
export type Front = { kind: 'http' } | { kind: 'https'; cert: string; key: string } | { kind: 'tcp' };

/** nginx-light loads its stream module (`apt-get install -y libnginx-mod-stream`) from here. */
export const NGINX_STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

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
  /** Plain HTTP unless given. */
  front?: Front;
  /** Node flags for the Node targets (chanlb, pipe, undici), before the script: --perf-basic-prof, --import. */
  nodeFlags?: readonly string[];
  /** Client connections the proxy must hold at once: nginx worker_connections and HAProxy maxconn (4096 unless more). */
  maxConnections?: number;
  /** Another build's dist/, for the chanlb-baseline target. */
  baseline?: string;
}

/** Why a target cannot run here (with the install command), or null. */
export function unavailable(name: TargetName, front: Front['kind'] = 'http'): string | null {
  if ((name === 'nginx' || name === 'haproxy') && !onPath(name)) return `${name} not installed: ${INSTALL[name]}`;
  if (name === 'nginx' && front === 'tcp' && !existsSync(NGINX_STREAM_MODULE)) {
    return `nginx without its stream module (no ${NGINX_STREAM_MODULE}): apt-get install -y libnginx-mod-stream`;
  }
  if ((name === 'undici' || name === 'chanlb-metrics') && front !== 'http') return `${name} is in front of plain HTTP only`;
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
  if (name === 'chanlb-baseline') {
    if (setup.baseline === undefined) throw new Error('chanlb-baseline needs another build\'s dist/ (--baseline DIST)');
    return { ...(await startProxy('chanlb', { ...setup, dist: setup.baseline }, upstreams, [], workers)), name };
  }
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
  name: Exclude<TargetName, 'direct' | 'chanlb-metrics' | 'chanlb-baseline'>, setup: Pick<Setup, 'dist' | 'tmp' | 'cpus' | 'front' | 'nodeFlags' | 'maxConnections'>, upstreams: readonly string[],
  extra: readonly string[] = [], workers = 1,
): Promise<Target> {
  const port = await freePort();
  const front = setup.front ?? { kind: 'http' };
  const run = (cmd: string, args: readonly string[]): Proc => start(name, ...pinned(setup.cpus, cmd, args));
  const node = (script: string, more: readonly string[]): Proc =>
    run(process.execPath, [...(setup.nodeFlags ?? []), path.join(setup.dist, script), '--listen', `127.0.0.1:${port}`, '--backend', upstreams.join(','), ...more, ...extra]);
  const maxConnections = Math.max(4096, setup.maxConnections ?? 0);
  let proc: Proc;
  switch (name) {
    case 'chanlb': {
      const more = workers > 1 ? ['--workers', String(workers)] : [];
      const mode = front.kind === 'https' ? ['--tls-cert', front.cert, '--tls-key', front.key] : front.kind === 'tcp' ? ['--mode', 'tcp'] : [];
      proc = node('src/main.js', [...mode, ...more]);
      break;
    }
    case 'pipe':
    case 'undici':
      if (workers !== 1) throw new Error(`the ${name} peer is one process`);
      if (front.kind !== 'http') throw new Error(`the ${name} peer is in front of plain HTTP only`);
      proc = node(name === 'pipe' ? 'bench/load/peers/pipe.js' : 'bench/load/peers/undici-proxy.js', []);
      break;
    case 'nginx': {
      const dir = path.join(setup.tmp, `nginx-${port}`); // several may run at once (1 and 2 workers)
      mkdirSync(dir, { recursive: true });
      const conf = path.join(dir, 'nginx.conf');
      writeFileSync(conf, front.kind === 'tcp' ? nginxStreamConfig(dir, port, upstreams, workers, maxConnections) : nginxConfig(dir, port, upstreams, extra, workers, front, maxConnections));
      proc = run('nginx', ['-p', dir, '-c', conf, '-e', path.join(dir, 'error.log'), '-g', 'daemon off;']);
      break;
    }
    case 'haproxy': {
      const conf = path.join(setup.tmp, `haproxy-${port}.cfg`);
      let bind = '';
      if (front.kind === 'https') {
        // HAProxy reads the certificate and its key from one file.
        const pem = path.join(setup.tmp, `haproxy-${port}.pem`);
        writeFileSync(pem, readFileSync(front.cert, 'utf8') + readFileSync(front.key, 'utf8'));
        bind = ` ssl crt ${pem} alpn http/1.1 ssl-min-ver TLSv1.2`;
      }
      writeFileSync(conf, front.kind === 'tcp' ? haproxyTcpConfig(port, upstreams, workers, maxConnections) : haproxyConfig(port, upstreams, extra, workers, bind, maxConnections));
      proc = run('haproxy', ['-f', conf, '-db']);
      break;
    }
  }
  await waitForPort(proc, port);
  // With --workers the primary's port may open before every worker is ready; this line comes after.
  if (name === 'chanlb') await waitForOutput(proc, /chanlb listening on/);
  return { name, port, pids: () => processTree(proc.pid), workers };
}

/** The lines every nginx config here starts with. */
function nginxGlobal(dir: string, workers: number, what: string, maxConnections: number): string {
  // Beyond 4096 clients: two files per connection (client and upstream), and some to spare.
  const connections = maxConnections > 4096 ? 2 * maxConnections + 100 : 4096;
  return `# generated by bench/compare: ${workers === 1 ? 'one worker' : `${workers} workers`}, ${what}
worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
${maxConnections > 4096 ? `worker_rlimit_nofile ${connections};\n` : ''}events { worker_connections ${connections}; }
`;
}

export function nginxConfig(dir: string, port: number, upstreams: readonly string[], extra: readonly string[] = [], workers = 1, front: Front = { kind: 'http' }, maxConnections = 4096): string {
  // With a certificate: nginx's defaults otherwise (ciphers HIGH:!aNULL:!MD5, session tickets on, no
  // session cache), from TLSv1.2 up as chanlb's listeners.
  const tls = front.kind === 'https'
    ? ` ssl;\n    ssl_certificate ${front.cert};\n    ssl_certificate_key ${front.key};\n    ssl_protocols TLSv1.2 TLSv1.3;`
    : ';';
  return `${nginxGlobal(dir, workers, 'least connections, keep-alive upstreams', maxConnections)}http {
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
    listen 127.0.0.1:${port}${tls}
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

/** nginx `stream`: each connection to the upstream with the fewest. */
export function nginxStreamConfig(dir: string, port: number, upstreams: readonly string[], workers = 1, maxConnections = 4096): string {
  return `load_module ${NGINX_STREAM_MODULE};
${nginxGlobal(dir, workers, 'TCP (stream), least connections', maxConnections)}stream {
  upstream backends {
    least_conn;
${upstreams.map((u) => `    server ${u};`).join('\n')}
  }
  server {
    listen 127.0.0.1:${port};
    proxy_pass backends;
    proxy_half_close on;
  }
}
`;
}

/** HAProxy's global and defaults sections and a frontend on `port`, `bind` added to its bind line. */
function haproxyFront(port: number, threads: number, mode: 'http' | 'tcp', what: string, bind = '', maxConnections = 4096): string {
  return `# generated by bench/compare: ${threads === 1 ? 'one thread' : `${threads} threads`}, ${what}
global
  nbthread ${threads}
  maxconn ${maxConnections}
${bind.includes(' ssl ') ? '  # no session-ID cache, as nginx (ssl_session_cache none) and Node by default: tickets only\n  tune.ssl.cachesize 0\n' : ''}defaults
  mode ${mode}
  timeout connect 5s
  timeout client 30s
  timeout server 30s
${mode === 'http' ? '  timeout http-keep-alive 30s\n' : ''}frontend fe
  bind 127.0.0.1:${port}${bind}
  default_backend be
`;
}

/** `bind`: more on the bind line (` ssl crt FILE`: HTTPS to the clients). */
export function haproxyConfig(port: number, upstreams: readonly string[], extra: readonly string[] = [], threads = 1, bind = '', maxConnections = 4096): string {
  return `${haproxyFront(port, threads, 'http', 'least connections, connection reuse to the backends', bind, maxConnections)}backend be
  balance leastconn
  http-reuse always
  option forwardfor
  http-request set-header X-Forwarded-Proto ${bind.includes(' ssl ') ? 'https' : 'http'}
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
${extra.map((line) => `  ${line}\n`).join('')}${upstreams.map((u, i) => `  server b${i + 1} ${u}`).join('\n')}
`;
}

/** HAProxy `mode tcp`: each connection to the server with the fewest. */
export function haproxyTcpConfig(port: number, upstreams: readonly string[], threads = 1, maxConnections = 4096): string {
  return `${haproxyFront(port, threads, 'tcp', 'TCP, least connections', '', maxConnections)}backend be
  balance leastconn
${upstreams.map((u, i) => `  server b${i + 1} ${u}`).join('\n')}
`;
}
