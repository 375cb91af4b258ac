/** Test helper: an external command (curl, openssl, redis-cli, ...) run to its end. */
import { execFile } from 'node:child_process';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (killed after 10 s), with `input` on its standard input. */
export function run(command: string, args: string[], input = ''): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { timeout: 10_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1;
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(input);
  });
}
