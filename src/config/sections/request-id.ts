// The top-level `request_id`: the field that carries each request's id (interface.md, "Route
// rules"), or "" for none.

import type { Node } from 'yaml';
import { KNOWN_FIELD_NAMES } from '../../http/fields.js';
import { DEFAULTS } from '../schema.js';
import { isToken } from '../values.js';
import { readText, type Source } from '../yaml.js';

/**
 * `request_id`: a field name as written, "" to turn ids off; the default when absent. A field the
 * balancer reads or writes itself (Host, the framing and hop-by-hop fields, X-Forwarded-*,
 * Referer, User-Agent, Expect) cannot be it.
 */
export function readRequestId(src: Source, node: Node | undefined): string {
  if (node === undefined) return DEFAULTS.requestId;
  const hint = 'expected a field name like X-Request-ID, or "" for no request ids';
  const name = readText(src, node, 'request_id', hint);
  if (name === '') return '';
  if (!isToken(name)) src.fail(node, 'request_id', hint);
  if (KNOWN_FIELD_NAMES.includes(name.toLowerCase()) || name.toLowerCase() === 'trailer') {
    src.fail(node, 'request_id', `"${name}" is a field the balancer reads or writes itself; ${hint}`);
  }
  return name;
}
