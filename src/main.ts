#!/usr/bin/env node
/**
 * The command line: flags → options → a running proxy; SIGINT/SIGTERM stop it.
 */
import { parseArgs } from 'node:util';
import { Proxy } from './proxy.js';
import { DEFAULTS, OptionError, parseAddress, withDefaults, type ProxyOptions } from './options.js';

const USAGE = `Usage: chanlb [--listen HOST:PORT] --backend HOST:PORT [--backend HOST:PORT ...]

  --listen HOST:PORT    where to accept clients (default ${DEFAULTS.listen.host}:${DEFAULTS.listen.port})
  --backend HOST:PORT   a backend; repeat the flag or separate with commas
  --help                this text
`;

export function parseCommandLine(argv: string[]): ProxyOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        listen: { type: 'string' },
        backend: { type: 'string', multiple: true },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new OptionError((err as Error).message.split('\n')[0] ?? 'bad arguments');
  }
  const { values } = parsed;
  if (values.help === true) return 'help';
  const listen = values.listen === undefined ? DEFAULTS.listen : parseAddress('--listen', values.listen, DEFAULTS.listen.host);
  const backends = (values.backend ?? [])
    .flatMap((v) => v.split(','))
    .filter((v) => v.trim() !== '')
    .map((v) => parseAddress('--backend', v, '127.0.0.1'));
  return withDefaults({ listen, backends });
}

async function main(): Promise<void> {
  let options: ProxyOptions | 'help';
  try {
    options = parseCommandLine(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof OptionError)) throw err;
    process.stderr.write(`chanlb: ${err.message} (see --help)\n`);
    process.exit(2);
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const proxy = new Proxy(options);
  const addr = await proxy.listen();
  const backends = options.backends.map((b) => `${b.host}:${b.port}`).join(', ');
  process.stdout.write(`chanlb listening on ${addr.host}:${addr.port}, balancing over ${backends}\n`);
  const stop = (signal: string): void => {
    process.stdout.write(`chanlb: ${signal}, shutting down\n`);
    void proxy.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`chanlb: ${(err as Error).message}\n`);
  process.exit(1);
});
