// A peer for the load benchmarks: the floor of a proxy in Node. A plain net.Server that connects each
// client socket to a backend (round robin, one backend connection per client connection) and pipes
// the bytes both ways with stream.pipe(): Node's own socket, stream and libuv work per request, and no
// HTTP work at all (no parsing, no rewriting, no balancing by load). Socket options are Node's
// defaults, as chanlb leaves them. Half-close is passed on; an error on either side destroys both.
// `node dist/bench/load/peers/pipe.js --listen 127.0.0.1:8082 --backend 127.0.0.1:9001,127.0.0.1:9002`
import net from 'node:net';
import { peerArgs } from './args.js';

const { listen, backends } = peerArgs('pipe');
let next = 0;
const server = net.createServer((client) => {
  const { host, port } = backends[next] ?? { host: '', port: 0 };
  next = (next + 1) % backends.length;
  const backend = net.connect({ host, port });
  const both = (): void => {
    client.destroy();
    backend.destroy();
  };
  client.on('error', both).on('close', both);
  backend.on('error', both).on('close', both);
  client.pipe(backend);
  backend.pipe(client);
});

server.listen(listen.port, listen.host, () => {
  process.stdout.write(`pipe listening on ${listen.host}:${listen.port}, round robin over ${backends.map((b) => `${b.host}:${b.port}`).join(', ')}\n`);
});
const stop = (): void => {
  server.close();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
