/**
 * The README's "Limits and timeouts" table says what the schema says: every limit and timeout is a
 * row with its flag and its default, and no row names a flag the schema does not have.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { COMMAND_FLAGS, OPTION_KEYS, OPTIONS, shownDefault } from '../../../src/options/schema.js';

const README = fileURLToPath(new URL('../../../../README.md', import.meta.url));

/** The table's rows under the heading, as flag → default. */
function limitsTable(): Map<string, string> {
  const text = readFileSync(README, 'utf8');
  const section = text.split(/^### /m).find((s) => s.startsWith('Limits and timeouts\n'));
  assert.ok(section !== undefined, 'README has a "### Limits and timeouts" section');
  const rows = new Map<string, string>();
  for (const line of section.split('\n')) {
    const cells = /^\| `(--[a-z-]+)` \| ([^|]+) \|/.exec(line);
    if (cells !== null) rows.set(cells[1] as string, (cells[2] as string).trim());
  }
  return rows;
}

test('README: every limit and timeout is in the table, with its flag and default', () => {
  const rows = limitsTable();
  for (const key of OPTION_KEYS) {
    const { flag, kind } = OPTIONS[key];
    if (!kind.limit || flag === undefined) continue;
    assert.ok(rows.has(flag), `README's limits table has no row for ${flag}`);
    assert.is(rows.get(flag), shownDefault(key), `README's default for ${flag}`);
  }
});

test("README: the table's rows name flags the schema has", () => {
  const flags = new Set([...OPTION_KEYS.map((key) => OPTIONS[key].flag), ...Object.values(COMMAND_FLAGS).map((f) => f.flag)]);
  for (const flag of limitsTable().keys()) assert.ok(flags.has(flag), `README's limits table names ${flag}, which no option has`);
});

test.run();
