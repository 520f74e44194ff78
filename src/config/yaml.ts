// Walking lb.yaml's tree: the document with its positions (every mistake is reported as one line,
// `file:line:col: path: what`), mappings whose unknown keys get a "did you mean", lists and text.
// Every reader takes the node and the dotted path of the value, and fails at the node's own place.

import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import { ConfigError } from './error.js';
import { Places, type Place } from './places.js';
import { plainSyntaxError } from './yaml-errors.js';

/** The document being read, able to name a position as `file:line:col`. */
export class Source {
  /** Where the values checked after parsing are written; the section readers fill it in. */
  readonly places = new Places();

  constructor(
    readonly file: string,
    readonly doc: Document,
    readonly lines: LineCounter,
  ) {}

  /** The node itself, or what an alias (`*name`) points at; null for no node. */
  resolve(node: unknown): Node | null {
    if (!isAlias(node)) return (node as Node | null | undefined) ?? null;
    const target = node.resolve(this.doc);
    if (target === undefined) this.fail(node, '', `alias "*${node.source}" has no anchor "&${node.source}" before it`);
    return this.resolve(target);
  }

  failAt(offset: number, message: string): never {
    const { line, col } = this.lines.linePos(offset);
    throw new ConfigError(`${this.file}:${line}:${col}: ${message}`);
  }

  /** Throws `file:line:col: path: message` for the node. */
  fail(node: Node, path: string, message: string): never {
    this.failAt(node.range![0], path === '' ? message : `${path}: ${message}`);
  }

  /** The 1-based line a node starts on. */
  lineOf(node: Node): number {
    return this.lines.linePos(node.range![0]).line;
  }

  /** Where a node starts, for a message found after parsing (see places.ts). */
  placeOf(node: Node, path: string): Place {
    const { line, col } = this.lines.linePos(node.range![0]);
    return { file: this.file, line, col, path };
  }
}

/**
 * Parses YAML text into its source and root node (null for an empty document); the first syntax
 * error fails at its position, in plain words (yaml-errors.ts). `file` only names the text in
 * messages.
 */
export function readDocument(text: string, file: string): { src: Source; root: Node | null } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const src = new Source(file, doc, lines);
  const syntax = doc.errors[0];
  if (syntax) {
    const { offset, message } = plainSyntaxError(doc, text, lines, syntax);
    src.failAt(offset, message);
  }
  const root = src.resolve(doc.contents);
  return { src, root: root === null || (isScalar(root) && root.value === null) ? null : root };
}

/** A mapping's values by key (absent keys are undefined); unknown keys fail with a "did you mean". */
export function readMap<K extends string>(
  src: Source,
  node: Node,
  path: string,
  keys: readonly K[],
): Partial<Record<K, Node>> {
  if (!isMap(node)) src.fail(node, path, path === '' ? 'expected a mapping of settings' : 'expected a mapping');
  const out: Partial<Record<K, Node>> = {};
  for (const pair of node.items) {
    const keyNode = pair.key as Node;
    const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
    if (!(keys as readonly string[]).includes(key)) {
      const near = suggest(key, keys);
      const hint = near === undefined ? `; expected one of ${keys.join(', ')}` : ` (did you mean "${near}"?)`;
      src.fail(keyNode, path, `unknown key "${key}"${hint}`);
    }
    // `key:` with nothing after it reads as a null scalar: treated like an absent key.
    const value = src.resolve(pair.value);
    if (value !== null && !(isScalar(value) && value.value === null)) out[key as K] = value;
  }
  return out;
}

/** The closest known word, if it is close enough to be what was meant (case, "-" and "_" ignored). */
export function suggest(key: string, known: readonly string[]): string | undefined {
  const fold = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(fold(key), fold(candidate));
    if (d < bestDistance && d <= Math.min(2, Math.ceil(candidate.length / 3))) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance: the fewest single-character edits that turn a into b. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitute = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      row.push(Math.min(previous[j]! + 1, row[j - 1]! + 1, substitute));
    }
    previous = row;
  }
  return previous[b.length]!;
}

/** A list's items, aliases resolved; `what` names the items in the message when it is not a list. */
export function readSeq(src: Source, node: Node, path: string, what: string): Node[] {
  if (!isSeq(node)) src.fail(node, path, `expected a list of ${what}`);
  return node.items.map((item) => src.resolve(item) as Node);
}

/** A scalar's value as text: strings as they are, numbers as written; anything else fails. */
export function readText(src: Source, node: Node, path: string, hint: string): string {
  if (!isScalar(node) || (typeof node.value !== 'string' && typeof node.value !== 'number')) {
    src.fail(node, path, hint);
  }
  return typeof node.value === 'string' ? node.value.trim() : String(node.value);
}
