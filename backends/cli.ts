import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { BackendHandle } from './serve.js';

export interface CliFlags {
  port: number;
  host: string;
  name: string;
  delayMs: number;
}

type FlagName = 'port' | 'host' | 'name' | 'delay-ms';

/** True when the module with this import.meta.url is the script node was started with. */
export function isMain(moduleUrl: string): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return moduleUrl === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

/** Takes `--NAME V` / `--NAME=V` out of argv, for a backend's own flag (runCli does not know it). */
export function takeFlag(argv: readonly string[], name: string): { value: string | undefined; rest: string[] } {
  const rest: string[] = [];
  let value: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === `--${name}`) value = argv[++i] ?? '';
    else if (arg.startsWith(`--${name}=`)) value = arg.slice(name.length + 3);
    else rest.push(arg);
  }
  return { value, rest };
}

/**
 * Parses `--port N --name S [--host H] [--delay-ms N]` (also `--flag=value`), starts the backend,
 * logs one line and closes it on SIGTERM/SIGINT. Bad flags: one line on stderr, exit 2.
 */
export function runCli(
  prog: string,
  argv: readonly string[],
  accepts: readonly FlagName[],
  start: (flags: CliFlags) => Promise<BackendHandle>,
): void {
  const usage = accepts.map((f) => `--${f} ${f === 'host' ? 'H' : f === 'name' ? 'S' : 'N'}`).join(' ');
  const fail = (message: string): never => {
    process.stderr.write(`${prog}: ${message} (usage: ${prog} ${usage})\n`);
    process.exit(2);
  };
  const flags: CliFlags = { port: 0, host: '127.0.0.1', name: '', delayMs: 0 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const name = flag.slice(2);
    if (!flag.startsWith('--') || !accepts.includes(name as FlagName)) fail(`unknown flag ${flag}`);
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined || value === '') fail(`${flag} needs a value`);
    const text = value ?? '';
    const int = (max: number): number => {
      const n = /^\d+$/.test(text) ? Number(text) : NaN;
      return n <= max ? n : fail(`${flag} needs an integer 0-${max}, got '${text}'`);
    };
    if (name === 'port') flags.port = int(65535);
    else if (name === 'delay-ms') flags.delayMs = int(2 ** 31 - 1);
    else if (name === 'host') flags.host = text;
    else flags.name = text;
  }
  if (flags.name === '') fail('missing --name');

  start(flags).then(
    (handle) => {
      console.log(`${prog} ${flags.name} listening on ${flags.host}:${handle.port}`);
      const stop = (signal: NodeJS.Signals): void => {
        console.log(`${prog} ${flags.name}: ${signal}, closing`);
        void handle.close().then(() => process.exit(0));
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    },
    (err: unknown) => {
      process.stderr.write(`${prog}: cannot listen on ${flags.host}:${flags.port}: ${String(err)}\n`);
      process.exit(1);
    },
  );
}
