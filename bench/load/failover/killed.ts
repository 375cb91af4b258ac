// Scenario 1, "killed + refusing": four backends, one a port nobody listens on, and one SIGKILLed
// 2 s into a 6 s keep-alive wrk run: the failed responses and socket errors a client sees.
import { sleep, startBackends } from '../compare/driver.js';
import { freePort } from '../compare/procs.js';
import { int } from '../compare/report.js';
import { num, tally, text, type Scenario } from './scenario.js';
import { DEAD_BACKEND_ROWS, startVariant } from './variants.js';
import { command, runWrk } from './wrk.js';

const SECONDS = 6;
const KILL_AFTER_MS = 2000;

export const killed: Scenario = {
  id: 'killed',
  title: 'killed + refusing',
  about:
    `Four backends: three \`backends/fast.ts\` and a port that refuses connections from the start; backend 3 is ` +
    `SIGKILLed ${KILL_AFTER_MS / 1000} s into \`${command(SECONDS)}\` (keep-alive GETs). non-2xx is wrk's ` +
    `"Non-2xx or 3xx responses", socket errors its "Socket errors" (the kinds that were not 0; a timeout is a ` +
    `request slower than 2 s, which may still be answered), statuses what a Lua counter in wrk saw.`,
  wrk: true,
  rows: DEAD_BACKEND_ROWS,
  columns: [num('req/s'), num('requests'), num('non-2xx'), text('socket errors'), text('statuses')],
  async run(variant, tmp) {
    const { ports, procs } = await startBackends('backends/fast.js', 3);
    const refusing = await freePort();
    const target = await startVariant(variant, {}, [...ports, refusing], tmp);
    const [r] = await Promise.all([
      runWrk(`http://127.0.0.1:${target.port}/`, SECONDS, tmp),
      sleep(KILL_AFTER_MS).then(() => procs[2]?.child.kill('SIGKILL')),
    ]);
    return [int(r.rps), int(r.requests), int(r.non2xx), tally(Object.entries(r.socketErrors), '0'), tally(r.statuses)];
  },
};
