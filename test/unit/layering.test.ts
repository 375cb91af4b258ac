/**
 * The layering rule, checked on the sources: folders are ranked in the order data flows, leaves at
 * the bottom, and a file imports only from its own folder or from a lower rank. So the leaves
 * import nothing above them, the flow folders import only what comes after them and below, and one
 * file, the server, knows every folder. docs/ARCHITECTURE.md draws the same picture.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Lowest first. A top-level file is its own unit; a folder's files share its rank. */
const RANKS: readonly string[][] = [
  ['errors.ts'],
  ['clock.ts', 'csp', 'heap', 'http1', 'proxy-protocol'],
  ['exchange'],
  ['metrics'],
  ['options'],
  ['cli.ts'],
  ['log'],
  ['tunnel'],
  ['backend', 'dns'],
  ['balancer'],
  ['routing'],
  ['frontend', 'l4'],
  ['admin'],
  ['server.ts'],
  ['cluster'],
  ['main.ts'],
];

function repoRoot(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'src'))) return dir;
  }
  throw new Error('no repository root above this test');
}

const SRC = path.join(repoRoot(), 'src');

/** The runtime sources (no tests, no test helpers), relative to src/. */
function sources(dir = SRC): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'test-support') out.push(...sources(full));
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
      out.push(path.relative(SRC, full));
    }
  }
  return out;
}

/** The unit a src-relative path belongs to: its top folder, or the file itself at the top. */
const unitOf = (relative: string): string => relative.split(path.sep)[0] ?? relative;

function rankOf(unit: string): number {
  const rank = RANKS.findIndex((units) => units.includes(unit));
  if (rank < 0) throw new Error(`src/${unit} has no rank: add it to RANKS (and to docs/ARCHITECTURE.md)`);
  return rank;
}

/** Relative imports of a source file, as src-relative paths of the .ts files they name. */
function importsOf(relative: string): string[] {
  const text = readFileSync(path.join(SRC, relative), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]/g)) {
    const spec = (m[1] ?? '').replace(/\.js$/, '.ts');
    out.push(path.relative(SRC, path.resolve(path.dirname(path.join(SRC, relative)), spec)));
  }
  return out;
}

test('every import runs down the layers: to its own folder or a lower rank', () => {
  const wrong: string[] = [];
  for (const file of sources()) {
    const from = unitOf(file);
    for (const target of importsOf(file)) {
      const to = unitOf(target);
      if (to !== from && rankOf(to) >= rankOf(from)) wrong.push(`src/${file} imports src/${target}`);
    }
  }
  assert.equal(wrong, [], `imports against the layers:\n${wrong.join('\n')}`);
});

test('the check sees imports: the server imports from every flow folder', () => {
  const folders = new Set(importsOf('server.ts').map(unitOf));
  for (const folder of ['frontend', 'routing', 'balancer', 'log', 'options', 'clock.ts']) assert.ok(folders.has(folder), folder);
});

test.run();
