#!/usr/bin/env node
/**
 * The command line: flags → options → a running proxy; SIGINT/SIGTERM stop it.
 */
import { Proxy } from './proxy.js';
import { OptionError, type ProxyOptions } from './options.js';
import { parseCommandLine, USAGE } from './cli.js';
import { ConfigError } from './config/load-config.js';

async function main(): Promise<void> {
  let options: ProxyOptions | 'help';
  try {
    options = parseCommandLine(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof OptionError) && !(err instanceof ConfigError)) throw err;
    process.stderr.write(`chanlb: ${err.message}${err instanceof OptionError ? ' (see --help)' : ''}\n`);
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
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      process.stdout.write(`chanlb: ${signal} again, closing every connection now\n`);
      void proxy.close().then(() => process.exit(0));
      return;
    }
    stopping = true;
    process.stdout.write(`chanlb: ${signal}, finishing requests in flight (at most ${options.shutdownTimeoutMs} ms)\n`);
    void proxy.shutdown(options.shutdownTimeoutMs).then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`chanlb: ${(err as Error).message}\n`);
  process.exit(1);
});
