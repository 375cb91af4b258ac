// The no-compiler, no-native-addon promise, checked over the installed production dependency tree.
// Run from anywhere: `node dist/native-free/check.js` (the repo root is found from this file).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface LockEntry {
  name?: string;
  version?: string;
  dev?: boolean;
  optional?: boolean;
  link?: boolean;
  resolved?: string;
  hasInstallScript?: boolean;
}

interface PackageJson {
  name?: string;
  version?: string;
  scripts?: Record<string, string>;
  gypfile?: boolean;
}

const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall'] as const;

/** Files under dir (not following symlinks) named binding.gyp or ending in .node, relative to dir. */
function nativeFiles(dir: string): string[] {
  const found: string[] = [];
  const walk = (rel: string): void => {
    for (const entry of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const relPath = path.join(rel, entry.name);
      // Nested node_modules hold other packages, each checked as its own lock entry.
      if (entry.isDirectory() && entry.name !== 'node_modules') walk(relPath);
      else if (entry.isFile() && (entry.name.endsWith('.node') || entry.name === 'binding.gyp')) found.push(relPath);
    }
  };
  walk('');
  return found;
}

/** Violations for one installed package, empty when it keeps the promise. */
function violations(dir: string, lock: LockEntry, pkg: PackageJson): string[] {
  const found = nativeFiles(dir).map((file) => `contains ${file}`);
  for (const script of INSTALL_SCRIPTS) {
    if (pkg.scripts?.[script] !== undefined) found.push(`has a "${script}" script: ${pkg.scripts[script]}`);
  }
  if (lock.hasInstallScript === true) found.push('package-lock.json marks it hasInstallScript');
  if (pkg.gypfile === true) found.push('package.json sets "gypfile": true');
  return found;
}

function checkNativeFree(root: string): { checked: number; problems: string[] } {
  const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
    packages?: Record<string, LockEntry>;
  };
  let checked = 0;
  const problems: string[] = [];
  for (const [key, entry] of Object.entries(lock.packages ?? {})) {
    if (key === '' || entry.dev === true) continue;
    const dir = path.join(root, entry.link === true && entry.resolved !== undefined ? entry.resolved : key);
    const fallbackName = key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const label = `${entry.name ?? fallbackName}@${entry.version ?? '?'}`;
    if (!existsSync(path.join(dir, 'package.json'))) {
      // Optional packages (other platforms) may be absent; a missing required one means no install.
      if (entry.optional === true) console.log(`skip ${label} (optional, not installed)`);
      else {
        console.log(`FAIL ${label}: not installed`);
        problems.push(`${label} (${key}): not installed; run npm ci`);
      }
      continue;
    }
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as PackageJson;
    const found = violations(dir, entry, pkg);
    checked++;
    if (found.length === 0) console.log(`ok ${label}`);
    for (const problem of found) {
      console.log(`FAIL ${label}: ${problem}`);
      problems.push(`${label} (${key}): ${problem}`);
    }
  }
  return { checked, problems };
}

/** The nearest directory above this file holding package-lock.json (the repo root). */
function findRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package-lock.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('native-free: no package-lock.json above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return dir;
}

const root = findRoot();
const { checked, problems } = checkNativeFree(root);
if (problems.length > 0) {
  console.error(`native-free: ${problems.length} violation(s) in the production dependencies:`);
  for (const problem of problems) console.error(`  ${problem}`);
  process.exit(1);
}
console.log(`native-free: ${checked} production package(s) checked, no native addons, no install scripts`);
