// What a request says that balancing may key on (interface.md, `hash_key` and `sticky`): a field's
// value, a cookie, a query parameter, the path. Read from a parsed head's field offsets, only for
// a pool that asks: a pool without hash_key or sticky never calls these.

import type { HashKey } from '../config/schema.js';
import { equalsIgnoreCase, text } from './chars.js';
import { FIELD_STRIDE, F_LINE, F_NAME_END, F_VALUE, F_VALUE_END } from './fields.js';
import type { RequestHead } from './request-parser.js';

/** The value of the first field named `lowerName` (lower case), OWS trimmed; null when there is none. */
export function fieldValue(head: RequestHead, lowerName: string): string | null {
  const { buf, fields, fieldCount } = head;
  for (let k = 0; k < fieldCount; k++) {
    const f = FIELD_STRIDE * k;
    if (equalsIgnoreCase(buf, fields[f + F_LINE]!, fields[f + F_NAME_END]!, lowerName)) {
      return text(buf, fields[f + F_VALUE]!, fields[f + F_VALUE_END]!);
    }
  }
  return null;
}

/**
 * The value of cookie `name` (RFC 6265 5.4: `Cookie: a=1; b=2`, one field or several), without
 * surrounding double quotes; null when the request has no such cookie. The first one wins, as
 * browsers send the most specific path first.
 */
export function cookieValue(head: RequestHead, name: string): string | null {
  const { buf, fields, fieldCount } = head;
  for (let k = 0; k < fieldCount; k++) {
    const f = FIELD_STRIDE * k;
    if (!equalsIgnoreCase(buf, fields[f + F_LINE]!, fields[f + F_NAME_END]!, 'cookie')) continue;
    const found = pairValue(text(buf, fields[f + F_VALUE]!, fields[f + F_VALUE_END]!), name, ';');
    if (found !== null) return found.length >= 2 && found.startsWith('"') && found.endsWith('"') ? found.slice(1, -1) : found;
  }
  return null;
}

/** The value of query parameter `name` in `path` (`/p?a=1&b=2`), as sent (not decoded); null when absent. */
export function queryValue(path: string, name: string): string | null {
  const q = path.indexOf('?');
  return q < 0 ? null : pairValue(path.slice(q + 1), name, '&');
}

/** The path without its query. */
export function pathOnly(path: string): string {
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}

/** In `list` of `name=value` pairs separated by `separator` (spaces around a pair ignored), `name`'s value. */
function pairValue(list: string, name: string, separator: string): string | null {
  for (const pair of list.split(separator)) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    if (pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return null;
}

/** The request's value of `key` (hash_key); null when it has none. `source`: the client's address. */
export function hashKeyOf(key: HashKey, head: RequestHead, source: string): string | null {
  switch (key.from) {
    case 'header':
      return fieldValue(head, key.name);
    case 'cookie':
      return cookieValue(head, key.name);
    case 'query':
      return queryValue(head.path, key.name);
    case 'path':
      return pathOnly(head.path);
    case 'source':
      return source;
  }
}
