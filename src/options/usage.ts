/**
 * The --help text, from the schema: each flag with its placeholder, what it does and its default;
 * the limits and timeouts in a group of their own, as in the README.
 */
import { argOf, COMMAND_FLAGS, OPTION_KEYS, OPTIONS, shownDefault, type ProxyOptions } from './schema.js';

const WIDTH = 100;
/** Where the descriptions start. */
const COLUMN = 30;

/** `  --flag ARG   text`, the text wrapped under itself between `pieces` (which are not broken). */
function line(flag: string, arg: string, pieces: string[]): string {
  const head = `  ${flag}${arg === '' ? '' : ` ${arg}`}`.padEnd(COLUMN - 1);
  const rows: string[] = [];
  let row = '';
  for (const piece of pieces) {
    if (row !== '' && COLUMN + row.length + 1 + piece.length > WIDTH) {
      rows.push(row);
      row = piece;
    } else {
      row = row === '' ? piece : `${row} ${piece}`;
    }
  }
  rows.push(row);
  return `${head} ${rows.join(`\n${' '.repeat(COLUMN)}`)}\n`;
}

/** Words, but `-> 502` stays whole. */
const words = (text: string): string[] => text.split(/(?<!->) /);

function optionLine(key: keyof ProxyOptions): string {
  const spec = OPTIONS[key];
  if (spec.flag === undefined) return '';
  const choices = spec.kind.byHand ? undefined : spec.kind.choices;
  const shown = shownDefault(key);
  return line(spec.flag, argOf(key), [
    ...(choices === undefined ? [] : words(`${choices.join(' | ')}:`)),
    ...words(spec.description),
    ...(shown === '' ? [] : [`(default ${shown})`]),
  ]);
}

const isLimit = (key: keyof ProxyOptions): boolean => OPTIONS[key].kind.limit;
const { listen, backends } = OPTIONS;
const { config, help } = COMMAND_FLAGS;

export const USAGE = `Usage: chanlb [${listen.flag} HOST:PORT ...] ${backends.flag} HOST:PORT [${backends.flag} HOST:PORT ...] [options]
       chanlb ${config.flag} ${config.arg} [options]

${line(config.flag, config.arg, words(config.description))}${OPTION_KEYS.filter((k) => !isLimit(k)).map(optionLine).join('')}
Limits and timeouts (durations take ms, s or m; sizes k, m or g):
${OPTION_KEYS.filter(isLimit).map(optionLine).join('')}${line(help.flag, help.arg, words(help.description))}`;
