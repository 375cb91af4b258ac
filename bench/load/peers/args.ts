// The command line both Node peers take: `--listen HOST:PORT --backend HOST:PORT[,HOST:PORT...]`
// (--backend may be repeated). A bad one exits 2 with the usage line.
import { parseArgs } from 'node:util';

export interface HostPort {
  host: string;
  port: number;
}

export interface PeerArgs {
  listen: HostPort;
  backends: HostPort[];
}

export function peerArgs(name: string): PeerArgs {
  const fail = (message: string): never => {
    process.stderr.write(`${name}: ${message} (usage: ${name} --listen HOST:PORT --backend HOST:PORT[,HOST:PORT...])\n`);
    process.exit(2);
  };
  const hostPort = (flag: string, text: string): HostPort => {
    const m = /^([^:\s]+):(\d{1,5})$/.exec(text.trim());
    return m === null ? fail(`${flag}: "${text}" is not HOST:PORT`) : { host: m[1] ?? '', port: Number(m[2]) };
  };
  let values;
  try {
    values = parseArgs({ options: { listen: { type: 'string' }, backend: { type: 'string', multiple: true } }, strict: true }).values;
  } catch (err) {
    return fail((err as Error).message.split('\n')[0] ?? 'bad arguments');
  }
  if (values.listen === undefined) return fail('missing --listen');
  const backends = (values.backend ?? []).flatMap((v) => v.split(',')).filter((v) => v.trim() !== '');
  if (backends.length === 0) return fail('missing --backend');
  return { listen: hostPort('--listen', values.listen), backends: backends.map((b) => hostPort('--backend', b)) };
}
