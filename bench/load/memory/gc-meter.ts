// Preloaded into a Node target (`node --import .../gc-meter.js main.js ...`) by `make memory`: counts
// the bytes its heap allocates. Each SIGUSR2 writes a snapshot to /tmp/chanlb-gc-meter-PID.json:
// the heap's used size now and, over every GC since start-up, the bytes the GCs freed (used before −
// used after, from node:v8's GCProfiler), how many GCs and their pause time. Between two snapshots,
// allocated = used₂ − used₁ + freed₂ − freed₁, whatever the GCs did in between. Node 20 has no total
// allocation counter of its own (v8.getHeapStatistics() has none).
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';

export interface GcSnapshot {
  seq: number;
  used: number;
  freed: number;
  gcs: number;
  pauseUs: number;
}

export const snapshotFile = (pid: number): string => path.join(os.tmpdir(), `chanlb-gc-meter-${pid}.json`);

const total: GcSnapshot = { seq: 0, used: 0, freed: 0, gcs: 0, pauseUs: 0 };
let profiler = new v8.GCProfiler();
profiler.start();
process.on('SIGUSR2', () => {
  for (const s of profiler.stop().statistics) {
    total.freed += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize;
    total.gcs++;
    total.pauseUs += s.cost;
  }
  profiler = new v8.GCProfiler();
  profiler.start();
  total.seq++;
  total.used = v8.getHeapStatistics().used_heap_size;
  writeFileSync(snapshotFile(process.pid), JSON.stringify(total));
});
