/**
 * YAML text → plain values, and a locator that maps a field path back to its line (the yaml
 * package keeps every node's position).
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { configError, type Locate } from './config-error.js';

export function readYaml(file: string, text: string): { value: unknown; locate: Locate } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  const error = doc.errors[0];
  if (error !== undefined) {
    const line = error.linePos?.[0].line ?? lineCounter.linePos(error.pos[0]).line;
    // The message carries a code frame after its first line, and repeats the position.
    const what = (error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    throw configError(file, line, 'YAML syntax', 'valid YAML', what);
  }
  const lineOf = (node: YamlNode | null | undefined): number | undefined =>
    node?.range ? lineCounter.linePos(node.range[0]).line : undefined;
  const locate: Locate = (path, at) => {
    let node: unknown = doc.contents;
    let keyLine: number | undefined = path.length === 0 ? 1 : undefined;
    for (const [i, seg] of path.entries()) {
      node = resolveAlias(doc, node);
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (pair === undefined) return keyLine;
        keyLine = lineOf(pair.key as YamlNode);
        if (i === path.length - 1 && at === 'key') return keyLine;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        node = node.items[seg];
        keyLine = lineOf(node as YamlNode) ?? keyLine;
      } else {
        return keyLine;
      }
    }
    node = resolveAlias(doc, node);
    // An empty value (`timeouts:` and nothing) has no useful position of its own: use its key's.
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) return keyLine;
    return lineOf(node as YamlNode) ?? keyLine;
  };
  return { value: doc.toJS({ maxAliasCount: 100 }), locate };
}

function resolveAlias(doc: Document, node: unknown): unknown {
  return isAlias(node) ? node.resolve(doc) : node;
}
