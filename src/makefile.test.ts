/**
 * `make run`'s set-up, run as a user would: the build is skipped when nothing changed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface MakeResult {
  code: number | null;
  output: string;
}

/**
 * `make ARGS` in the repository, stdout and stderr together; its process group is interrupted (and
 * then killed) if it has not finished within `timeoutMs`, so a recipe that wrongly starts serving
 * fails the test instead of hanging it.
 */
function make(args: string[], timeoutMs = 60_000): Promise<MakeResult> {
  const env = { ...process.env };
  delete env['MAKEFLAGS']; // not the jobserver of a `make test` around this
  delete env['MAKELEVEL'];
  const child = spawn('make', ['--no-print-directory', ...args], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => { output += s; });
  child.stderr.setEncoding('utf8').on('data', (s: string) => { output += s; });
  const group = -(child.pid ?? 0);
  const timers = [
    setTimeout(() => process.kill(group, 'SIGINT'), timeoutMs),
    setTimeout(() => process.kill(group, 'SIGKILL'), timeoutMs + 5_000),
  ];
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      timers.forEach(clearTimeout);
      resolve({ code, output });
    });
  });
}

test('make build: nothing to do when no source changed; a changed source is compiled, saying so', async () => {
  const built = await make(['build']);
  assert.is(built.code, 0, built.output);
  const upToDate = await make(['-q', 'build']);
  assert.is(upToDate.code, 0, `make -q build says there is work to do: ${upToDate.output}`);
  const changed = await make(['-n', '-W', 'src/main.ts', 'build']);
  assert.match(changed.output, /compiling TypeScript/);
  assert.match(changed.output, /tsc -p tsconfig\.json/);
});

test.run();
