/**
 * What `npm pack` would publish, read from `npm pack --dry-run --json` in the repository: the
 * runtime only (dist/src/**.js, README, LICENSE, package.json), never a test, a test helper, a
 * fixture, a benchmark, a demo/test backend or a source map; and the runtime it ships is whole
 * (every relative import of a packed file is packed, the bin is packed).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../..', import.meta.url));

interface PackResult {
  files: { path: string }[];
}

/** The paths `npm pack --dry-run --json` lists, in the repository. */
function packedPaths(): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err !== null) {
        reject(new Error(`npm pack --dry-run failed: ${err.message}\n${stderr}`));
        return;
      }
      const parsed = JSON.parse(stdout) as PackResult[];
      const first = parsed[0];
      if (first === undefined) {
        reject(new Error(`npm pack --dry-run --json printed no package: ${stdout}`));
        return;
      }
      resolve(first.files.map((f) => f.path).sort());
    });
  });
}

/** Why `path` must not be in the package, or undefined when it may be. */
function forbidden(path: string): string | undefined {
  const parts = path.split('/');
  if (/\.test\.[cm]?[jt]s(\.map)?$/.test(path) || /\.bench\.[cm]?[jt]s(\.map)?$/.test(path)) return 'a test or benchmark';
  if (parts[0] === 'test' || (parts[0] === 'dist' && parts[1] === 'test')) return 'under test/ (tests and the test kit)';
  if (parts.includes('test-support') || parts.includes('kit') || parts.includes('fixtures') || /(^|\/)fixtures\.[jt]s$/.test(path)) return 'a test helper or fixture';
  if (parts[0] === 'bench' || (parts[0] === 'dist' && parts[1] === 'bench')) return 'a benchmark';
  if (parts[0] === 'backends' || (parts[0] === 'dist' && parts[1] === 'backends')) return 'a demo or test backend';
  if (path.endsWith('.map')) return 'a source map (its .ts sources are not shipped)';
  if (path.endsWith('.ts')) return 'TypeScript source';
  const runtime = /^dist\/src\/.+\.js$/.test(path) || ['package.json', 'README.md', 'LICENSE'].includes(path);
  return runtime ? undefined : 'not a runtime file (dist/src/**.js, package.json, README.md, LICENSE)';
}

/** The relative specifiers a compiled ES module imports or re-exports. */
function relativeImports(source: string): string[] {
  const found: string[] = [];
  for (const m of source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s*'(\.{1,2}\/[^']+)'/g)) found.push(m[1] as string);
  for (const m of source.matchAll(/(?:^|\n)\s*import\s*'(\.{1,2}\/[^']+)'/g)) found.push(m[1] as string);
  for (const m of source.matchAll(/\bimport\(\s*'(\.{1,2}\/[^']+)'\s*\)/g)) found.push(m[1] as string);
  return found;
}

test('the rules: tests, the kit, fixtures, bench, backends and maps are refused; the runtime is not', () => {
  for (const path of [
    'dist/src/csp/chan.test.js', 'dist/test/unit/csp/chan.test.js', 'dist/test/kit/harness.js', 'test/kit/raw-client.ts',
    'dist/src/test-support/harness.js', 'dist/src/http1/fixtures.js', 'fixtures/requests/get-simple.http',
    'dist/bench/micro/run.js', 'bench/README.md', 'dist/backends/echo.js', 'backends/recorder.py',
    'dist/src/main.js.map', 'src/main.ts', 'Makefile', 'dist/native-free/check.js',
  ]) assert.ok(forbidden(path) !== undefined, `${path} is refused`);
  for (const path of ['dist/src/main.js', 'dist/src/http1/parser.js', 'package.json', 'README.md', 'LICENSE']) {
    assert.is(forbidden(path), undefined, `${path} is allowed`);
  }
});

test('npm pack ships the runtime only: no test, test helper, fixture, bench, backend or source map', async () => {
  const paths = await packedPaths();
  const bad = paths.flatMap((p) => {
    const why = forbidden(p);
    return why === undefined ? [] : [`${p}: ${why}`];
  });
  assert.equal(bad, [], `packed files that are not runtime:\n${bad.join('\n')}`);
  for (const needed of ['package.json', 'README.md', 'LICENSE', 'dist/src/main.js', 'dist/src/server.js']) {
    assert.ok(paths.includes(needed), `${needed} is packed`);
  }
});

test('the packed runtime is whole: the bin and every relative import of a packed module are packed', async () => {
  const paths = await packedPaths();
  const packed = new Set(paths);
  const pkg = JSON.parse(readFileSync(posix.join(ROOT, 'package.json'), 'utf8')) as { bin?: Record<string, string> };
  for (const [name, file] of Object.entries(pkg.bin ?? {})) {
    assert.ok(packed.has(posix.normalize(file)), `bin ${name} (${file}) is packed`);
  }
  const missing: string[] = [];
  let imports = 0;
  for (const file of paths.filter((p) => p.endsWith('.js'))) {
    for (const spec of relativeImports(readFileSync(posix.join(ROOT, file), 'utf8'))) {
      imports++;
      const target = posix.normalize(posix.join(posix.dirname(file), spec));
      if (!packed.has(target)) missing.push(`${file} imports ${spec} (${target}), not packed`);
    }
  }
  assert.ok(imports >= paths.length / 2, `the relative imports were read (${imports})`);
  assert.equal(missing, [], missing.join('\n'));
});

test.run();
