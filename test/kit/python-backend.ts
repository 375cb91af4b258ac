/**
 * Test helper: runs backends/recorder.py (python3's http.server, HTTP/1.1 keep-alive, bodies read
 * the CGI/WSGI way) as a child process and collects the JSON lines it prints for every request it
 * handles and every error it reports. `pythonMissing()` says why it cannot run, if it cannot.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor, type Cleanup } from './harness.js';

/** The compiled file runs from dist/test/kit/; the script is at the repo root's backends/. */
const SCRIPT = fileURLToPath(new URL('../../../backends/recorder.py', import.meta.url));

export interface PythonRequest {
  method: string;
  path: string;
  version: string;
  headers: [string, string][];
  body: string;
}

export interface PythonBackend {
  port: number;
  readonly requests: PythonRequest[];
  readonly errors: string[];
  close(): Promise<void>;
}

/** Why python3 cannot run the recorder here, or null when it can. */
export function pythonMissing(): string | null {
  const probe = spawnSync('python3', ['-c', 'import http.server, json'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.error !== undefined) return `python3 could not be started: ${probe.error.message}`;
  if (probe.status !== 0) return `python3 exited ${String(probe.status)}: ${probe.stderr.trim()}`;
  return null;
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 2_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export async function startPythonRecorder(c: Cleanup): Promise<PythonBackend> {
  const child = spawn('python3', [SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
  const requests: PythonRequest[] = [];
  const errors: string[] = [];
  let port = 0;
  let stderr = '';
  let pending = '';
  const backend: PythonBackend = { port: 0, requests, errors, close: () => stop(child) };
  c.add(backend);
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => { stderr += d; });
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => {
    pending += d;
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      const entry = JSON.parse(line) as { event: string; port?: number; message?: string } & PythonRequest;
      if (entry.event === 'listening') port = entry.port ?? 0;
      else if (entry.event === 'error') errors.push(entry.message ?? line);
      else requests.push({ method: entry.method, path: entry.path, version: entry.version, headers: entry.headers, body: entry.body });
    }
  });
  await waitFor('python3 backends/recorder.py to listen', () => port !== 0 || child.exitCode !== null, 10_000, () => stderr);
  if (port === 0) throw new Error(`backends/recorder.py exited ${String(child.exitCode)}: ${stderr}`);
  backend.port = port;
  return backend;
}
