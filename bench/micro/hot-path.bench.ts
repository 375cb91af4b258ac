/**
 * The proxy's own work per request over in-memory sockets (hot-path-rig.ts), as tinybench rates.
 * For comparing two builds, `make cpu` runs the same rig in separate processes, interleaved.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { loadRig, FAST_RESPONSE, NODE_RESPONSE } from './hot-path-rig.js';

/** dist/bench/micro/ → dist/src/. */
const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

export default async function hotPathBench(): Promise<Bench> {
  const bench = new Bench({ name: 'hot path (no sockets)', time: 1000 });
  const rig = await loadRig(SRC);
  const fast = rig(3);
  const node = rig(3);
  // Dial every backend once (connect is emitted on a microtask), so the loop only reuses sockets.
  await fast.warm(FAST_RESPONSE);
  await node.warm(NODE_RESPONSE);
  bench.add('request+response, minimal backend head', () => fast.roundTrip(FAST_RESPONSE));
  bench.add('request+response, node:http head (hop-by-hop to drop)', () => node.roundTrip(NODE_RESPONSE));
  await bench.run();
  fast.close();
  node.close();
  return bench;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const bench = await hotPathBench();
  console.table(bench.table());
}
