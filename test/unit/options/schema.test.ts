/**
 * The schema is complete and consistent: every option can be set somewhere, has a default and a
 * description, and --help shows every flag with its default.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULTS } from '../../../src/options/options.js';
import { argOf, COMMAND_FLAGS, OPTION_KEYS, OPTIONS, shownDefault, type ProxyOptions } from '../../../src/options/schema.js';
import { USAGE } from '../../../src/options/usage.js';

test('every option has a flag or a config key, a default and a one-line description', () => {
  for (const key of OPTION_KEYS) {
    const spec = OPTIONS[key];
    assert.ok(spec.flag !== undefined || spec.config !== undefined, `${key}: neither a flag nor a config key`);
    assert.ok(spec.default !== undefined, `${key}: no default`);
    assert.equal(DEFAULTS[key], spec.default, `${key}: DEFAULTS`);
    assert.match(spec.description, /^\S[^\n]*$/, `${key}: description`);
  }
});

test('flags and config keys are well formed and name one option each', () => {
  const flags = OPTION_KEYS.flatMap((key) => OPTIONS[key].flag ?? []);
  const places = OPTION_KEYS.flatMap((key) => OPTIONS[key].config ?? []);
  for (const flag of flags) assert.match(flag, /^--[a-z]+(-[a-z]+)*$/);
  for (const place of places) assert.match(place, /^[a-z]+(_[a-z]+)*(\.[a-z]+(_[a-z]+)*)?$/);
  const commandFlags = Object.values(COMMAND_FLAGS).map((f) => f.flag);
  assert.is(new Set([...flags, ...commandFlags]).size, flags.length + commandFlags.length, 'a flag named twice');
  assert.is(new Set(places).size, places.length, 'a config key named twice');
});

test('every limit and timeout has a flag, and the default it shows is one its flag reads back', () => {
  const check = <K extends keyof ProxyOptions>(key: K): void => {
    const spec = OPTIONS[key];
    const { flag, kind } = spec;
    if (kind.byHand || !kind.limit) return;
    assert.ok(flag !== undefined, `${key}: a limit without a flag`);
    assert.equal(kind.parse(flag, kind.show(spec.default)), spec.default, `${key}: ${kind.show(spec.default)}`);
  };
  OPTION_KEYS.forEach(check);
});

/** A flag's entry in --help: its line and the lines its description wraps onto, joined. */
function helpEntry(flag: string, arg: string): string | undefined {
  const lines = USAGE.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`  ${flag}${arg === '' ? '' : ` ${arg}`} `));
  if (start < 0) return undefined;
  const end = lines.findIndex((l, i) => i > start && !/^ {30}\S/.test(l));
  return lines.slice(start, end).map((l) => l.trim()).join(' ');
}

test('--help shows every flag with its placeholder and its default', () => {
  for (const key of OPTION_KEYS) {
    const { flag } = OPTIONS[key];
    if (flag === undefined) continue;
    const entry = helpEntry(flag, argOf(key));
    assert.ok(entry !== undefined, `${flag} is not in --help`);
    const shown = shownDefault(key);
    if (shown !== '') assert.ok(entry.endsWith(`(default ${shown})`), `${flag}: default ${shown} in ${JSON.stringify(entry)}`);
  }
  for (const { flag, arg } of Object.values(COMMAND_FLAGS)) assert.ok(helpEntry(flag, arg) !== undefined, `${flag} is not in --help`);
  for (const line of USAGE.split('\n')) assert.ok(line.length <= 100, `a line of --help is too long: ${line}`);
});

test.run();
