// The YAML parser's syntax errors in plain words. The parser says which rule of its grammar broke
// ("Implicit keys need to be on a single line"); someone editing lb.yaml needs to hear what to
// change, and where: for a "[", "{" or quote left open, the place it was opened, not the end of
// the file where the parser noticed; for a line indented wrong, that line's first character.

import { visit, type Document, type LineCounter, type Node, type YAMLError } from 'yaml';

/** A syntax error as lb.yaml's messages give it: where (an offset into the text) and what to do. */
export interface PlainError {
  offset: number;
  message: string;
}

const LINE_UP_KEYS = 'this key is not lined up with the keys above it: the keys of one mapping start in the same column';
const LINE_UP_ITEMS = 'this "-" item is not lined up with the items above it: the items of one list start in the same column';
const KEY_VALUE = 'expected "key: value", with a colon and a space after the key';

/** The first line of `error`, reworded where the parser's words are about its grammar. */
export function plainSyntaxError(doc: Document, text: string, lines: LineCounter, error: YAMLError): PlainError {
  const offset = error.pos[0];
  const said = error.message.split('\n', 1)[0]!;
  const at = (where: number, message: string): PlainError => ({ offset: where, message });
  switch (error.code) {
    case 'TAB_AS_INDENT':
      return at(offset, 'a tab indents this line: YAML indents with spaces only');
    case 'BAD_INDENT':
      if (said.startsWith('Flow sequence')) {
        return at(openerOf(doc, offset), 'this "[" list is not closed: end it with "]" (and indent any line it runs on to more than its key)');
      }
      if (said.startsWith('Flow map')) {
        return at(openerOf(doc, offset), 'this "{" mapping is not closed: end it with "}" (and indent any line it runs on to more than its key)');
      }
      return at(firstOnLine(text, offset), said.startsWith('All sequence') ? LINE_UP_ITEMS : LINE_UP_KEYS);
    case 'BLOCK_AS_IMPLICIT_KEY':
      if (said.startsWith('A block sequence')) return at(firstOnLine(text, offset), LINE_UP_ITEMS);
      // "Nested mappings are not allowed in compact mappings": a value followed by ": " on its
      // own line, or by a next line indented deeper, which the parser reads as the same value.
      if (/: /.test(text.slice(offset, lineEnd(text, offset)))) {
        return at(offset, 'a value cannot hold ": " unless it is quoted');
      }
      return at(firstOnLine(text, lineEnd(text, offset) + 1), 'this key is indented more than the keys above it: the keys of one mapping start in the same column');
    case 'MISSING_CHAR': {
      const quote = /^Missing closing (["'])quote/.exec(said)?.[1];
      if (quote !== undefined) return at(openerOf(doc, offset), `this quoted value is not closed: end it with ${quote}`);
      if (said.startsWith('Sequence item without')) return at(firstOnLine(text, offset), LINE_UP_KEYS);
      return at(offset, KEY_VALUE);
    }
    case 'MULTILINE_IMPLICIT_KEY':
      return at(offset, KEY_VALUE);
    case 'DUPLICATE_KEY':
      return at(offset, duplicateKey(doc, lines, offset));
    case 'MULTIPLE_DOCS':
      return at(offset, 'a second document begins here ("---"): the configuration is one document');
    case 'BAD_SCALAR_START':
      // "Plain value cannot start with reserved character @": the character ends the message.
      return at(offset, `a value that starts with "${said.slice(-1)}" must be quoted`);
    case 'UNEXPECTED_TOKEN': {
      const closer = /^Unexpected flow-(seq|map)-end token/.exec(said)?.[1];
      if (closer === 'seq') return at(offset, 'this "]" closes nothing: no "[" list is open here');
      if (closer === 'map') return at(offset, 'this "}" closes nothing: no "{" mapping is open here');
      return at(offset, said);
    }
    default:
      return at(offset, said);
  }
}

/**
 * Where the "[", "{" or quote opens whose value runs on to `offset`, where the parser found it
 * unclosed: the innermost flow collection or quoted scalar that ends there.
 */
function openerOf(doc: Document, offset: number): number {
  let start = offset;
  visit(doc, {
    Scalar(_key, node) {
      if (node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE') start = innermost(node, offset, start);
    },
    Collection(_key, node) {
      if (node.flow === true) start = innermost(node, offset, start);
    },
  });
  return start;
}

/**
 * The start of `node` if it ends at `offset`; else `start`, what was found before. visit() goes
 * from the outside in, so the last one found is the innermost.
 */
function innermost(node: Node, offset: number, start: number): number {
  const [from, to] = node.range!;
  return to === offset ? from : start;
}

/** `duplicate key "servers" (first at line 1)`: the key written at `offset`, and its first place. */
function duplicateKey(doc: Document, lines: LineCounter, offset: number): string {
  let message = 'a key is written twice in one mapping';
  visit(doc, {
    Map(_key, map) {
      const seen = new Map<string, number>();
      for (const pair of map.items) {
        const key = pair.key as Node;
        const name = String(key);
        const first = seen.get(name);
        if (key.range![0] === offset && first !== undefined) {
          message = `duplicate key "${name}" (first at line ${lines.linePos(first).line})`;
          return visit.BREAK;
        }
        if (first === undefined) seen.set(name, key.range![0]);
      }
      return undefined;
    },
  });
  return message;
}

/** The offset of the "\n" that ends the line holding `offset` (the text's length on the last line). */
function lineEnd(text: string, offset: number): number {
  const end = text.indexOf('\n', offset);
  return end === -1 ? text.length : end;
}

/** From `offset` on its line, the first character that is not a space: where an indented line begins. */
function firstOnLine(text: string, offset: number): number {
  let i = offset;
  while (text[i] === ' ') i++;
  return i;
}
