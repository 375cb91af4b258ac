/**
 * Test helper: loads the raw HTTP fixtures under `fixtures/` at the repo root. The compiled file runs
 * from dist/test/kit/ and dist mirrors the repo layout, so the root is three levels up.
 */
import { readdirSync, readFileSync } from 'node:fs';

const ROOT = new URL('../../../fixtures/', import.meta.url);

export type FixtureDir = 'requests' | 'responses' | 'requests/bad';

export interface Fixture {
  readonly name: string;
  readonly bytes: Buffer;
}

export interface BadFixture extends Fixture {
  /** The llhttp errno name strict parsing must report. */
  readonly error: string;
}

/** Every `*.http` file in `dir`, sorted by name; throws when there are none (a wrong path must not pass). */
export function loadFixtures(dir: FixtureDir): Fixture[] {
  const url = new URL(`${dir}/`, ROOT);
  const names = readdirSync(url).filter((n) => n.endsWith('.http')).sort();
  if (names.length === 0) throw new Error(`no fixtures in ${url.pathname}`);
  return names.map((name) => ({ name, bytes: readFileSync(new URL(name, url)) }));
}

export function loadFixture(dir: FixtureDir, name: string): Buffer {
  return readFileSync(new URL(`${dir}/${name}`, ROOT));
}

/** The malformed requests with the error each must produce (from `requests/bad/expected-errors.json`). */
export function loadBadFixtures(): BadFixture[] {
  const manifest: unknown = JSON.parse(readFileSync(new URL('requests/bad/expected-errors.json', ROOT), 'utf8'));
  if (typeof manifest !== 'object' || manifest === null) throw new Error('expected-errors.json: not an object');
  const expected = new Map<string, string>();
  for (const [name, entry] of Object.entries(manifest)) {
    const error: unknown = typeof entry === 'object' && entry !== null ? (entry as { error?: unknown }).error : undefined;
    if (typeof error !== 'string') throw new Error(`expected-errors.json: ${name} has no "error" string`);
    expected.set(name, error);
  }
  const fixtures = loadFixtures('requests/bad');
  for (const name of expected.keys()) {
    if (!fixtures.some((f) => f.name === name)) throw new Error(`expected-errors.json: no file ${name}`);
  }
  return fixtures.map((f) => {
    const error = expected.get(f.name);
    if (error === undefined) throw new Error(`expected-errors.json: no entry for ${f.name}`);
    return { ...f, error };
  });
}
