// A TCP sink for bulk-transfer benchmarks (make edge): reads every byte a connection sends and, when
// the client ends its side, answers how many it read (`<count>\n`) and closes. No framing, no protocol.
// `node dist/backends/sink.js --port 9001 --name 1 [--host H]`
import net from 'node:net';
import { isMain, runCli } from './cli.js';
import { serve, type BackendHandle, type ListenOptions } from './serve.js';

export function startSink(opts: ListenOptions = {}): Promise<BackendHandle> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    let count = 0;
    socket.on('data', (chunk: Buffer) => (count += chunk.length));
    socket.on('end', () => socket.end(`${count}\n`));
    socket.on('error', () => socket.destroy());
  });
  return serve(server, opts);
}

if (isMain(import.meta.url)) {
  runCli('sink', process.argv.slice(2), ['port', 'name', 'host'], startSink);
}
