/**
 * options/ is a leaf: its modules import node builtins, packages, each other and the other leaves
 * (errors.ts, clock.ts, http1/, csp/, heap/, exchange/), never a runtime module that acts on options.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));
const LEAVES = [/^options\//, /^errors\.ts$/, /^clock\.ts$/, /^http1\//, /^csp\//, /^heap\//, /^exchange\//];

test('options/ imports only leaves', () => {
  const files = readdirSync(join(SRC, 'options'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  assert.ok(files.length > 0, 'no sources found');
  for (const file of files) {
    const path = join(SRC, 'options', file);
    for (const [, specifier] of readFileSync(path, 'utf8').matchAll(/^(?:import|export)\b[^;]*?from '([^']+)'/gms)) {
      if (specifier === undefined || !specifier.startsWith('.')) continue;
      const target = relative(SRC, resolve(path, '..', specifier)).replace(/\.js$/, '.ts');
      assert.ok(LEAVES.some((leaf) => leaf.test(target)), `options/${file} imports ${target}`);
    }
  }
});

test.run();
