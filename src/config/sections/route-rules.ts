// A `hosts` / `paths` entry's route rules (interface.md, "Route rules"): `strip_prefix` or
// `rewrite_prefix`, `request_headers` and `response_headers` (set, add, remove), `redirect`, and
// the route's own `timeouts`. Field names that belong to one connection, or that frame the
// message, are refused at the place that names them: the balancer writes those itself.

import { isMap, isScalar, type Node, type Pair } from 'yaml';
import { DEFAULTS, type HeaderRules, type Redirect, type RouteRules } from '../schema.js';
import { readDuration, readFlag } from '../scalars.js';
import { isToken } from '../values.js';
import { readMap, readSeq, readText, type Source } from '../yaml.js';

/** The keys an entry takes for its rules, beside its name, servers and pool options. */
export const ROUTE_RULE_KEYS = ['strip_prefix', 'rewrite_prefix', 'request_headers', 'response_headers', 'redirect', 'timeouts'] as const;

export type RouteRuleNodes = Partial<Record<(typeof ROUTE_RULE_KEYS)[number], Node>>;

/**
 * Fields no rule may name, lower case: hop-by-hop fields describe one connection (RFC 9110
 * 7.6.1), and the balancer writes its own; the framing fields say where the body ends, and the
 * body passes through unchanged (RFC 9112 6.3); Host is what the backend routes by, and the
 * balancer forwards the client's (or the absolute-form target's).
 */
const FORBIDDEN = new Set([
  'content-length', // the body's length (RFC 9112 6.2)
  'transfer-encoding', // the body's codings, chunked last (RFC 9112 6.1)
  'host', // the target's authority (RFC 9112 3.2)
  'connection', // this connection's options (RFC 9110 7.6.1)
  'keep-alive', // a persistent connection's parameters (RFC 7230 A.1.2)
  'proxy-connection', // a non-standard Connection
  'te', // codings accepted on this connection (RFC 9110 10.1.4)
  'upgrade', // a protocol switch of the next hop (RFC 9110 7.8)
  'trailer', // which fields the chunked body's trailer section holds (RFC 9110 6.6.2)
]);

const CODES = [301, 302, 303, 307, 308] as const;
const PLACEHOLDERS = ['{host}', '{path}', '{scheme}'];
const VALUE_HINT = 'a field value may hold visible characters, spaces and tabs only (no CR, LF, NUL or other control characters)';

/**
 * The rules of one entry at `path`. `prefixed`: whether the entry has a path prefix to strip
 * (a paths entry; a hosts entry has none). `requestId`: the request_id field (lower case, ""
 * when off), which the balancer writes and no rule may name.
 */
export function readRouteRules(src: Source, nodes: RouteRuleNodes, path: string, prefixed: boolean, requestId: string): RouteRules {
  const strip = readFlag(src, nodes.strip_prefix, `${path}.strip_prefix`, false);
  if (strip && !prefixed) src.fail(nodes.strip_prefix!, `${path}.strip_prefix`, 'a hosts entry has no path prefix to strip (strip_prefix is for paths entries)');
  let rewritePrefix: string | null = strip ? '' : null;
  if (nodes.rewrite_prefix) {
    const at = `${path}.rewrite_prefix`;
    if (strip) src.fail(nodes.rewrite_prefix, at, 'strip_prefix and rewrite_prefix cannot both be set: strip_prefix is rewrite_prefix "/"');
    const hint = 'expected a path starting with "/", e.g. "/v2"';
    const text = readText(src, nodes.rewrite_prefix, at, hint);
    if (!/^\/[\x21-\x7e]*$/.test(text) || /[?#]/.test(text)) src.fail(nodes.rewrite_prefix, at, hint);
    rewritePrefix = text.replace(/\/+$/, '');
  }
  const timeouts = nodes.timeouts ? readMap(src, nodes.timeouts, `${path}.timeouts`, ['connect', 'server'] as const) : {};
  return {
    rewritePrefix,
    requestHeaders: readHeaderRules(src, nodes.request_headers, `${path}.request_headers`, requestId),
    responseHeaders: readHeaderRules(src, nodes.response_headers, `${path}.response_headers`, requestId),
    redirect: readRedirect(src, nodes.redirect, `${path}.redirect`),
    timeouts: {
      connect: timeouts.connect ? readDuration(src, timeouts.connect, `${path}.timeouts.connect`, 0) : DEFAULTS.rules.timeouts.connect,
      server: timeouts.server ? readDuration(src, timeouts.server, `${path}.timeouts.server`, 0) : DEFAULTS.rules.timeouts.server,
    },
  };
}

/** `set`, `add` (mappings of name: value) and `remove` (a list of names); null when absent. */
function readHeaderRules(src: Source, node: Node | undefined, path: string, requestId: string): HeaderRules | null {
  if (node === undefined) return null;
  const fields = readMap(src, node, path, ['set', 'add', 'remove'] as const);
  const name = (n: Node, at: string): string => readFieldName(src, n, at, requestId);
  const lines = (n: Node | undefined, at: string): [string, string][] => {
    if (n === undefined) return [];
    if (!isMap(n)) src.fail(n, at, 'expected a mapping of field names to values, e.g. { X-Env: prod }');
    // `{ X-Empty }` (a key alone) and `X-Empty:` are both an empty value.
    return (n.items as Pair<Node, Node | null>[]).map((pair) => [name(pair.key, at), pair.value === null ? '' : readFieldValue(src, pair.value, `${at}.${String(pair.key)}`)]);
  };
  const remove = fields.remove ? readSeq(src, fields.remove, `${path}.remove`, 'field names').map((n, i) => name(n, `${path}.remove[${i}]`)) : [];
  return { set: lines(fields.set, `${path}.set`), add: lines(fields.add, `${path}.add`), remove };
}

/** A field name a rule may name: a token, not hop-by-hop or framing, not the request_id field. */
function readFieldName(src: Source, node: Node, path: string, requestId: string): string {
  const hint = 'expected a field name, e.g. X-Env';
  const name = readText(src, node, path, hint);
  if (!isToken(name)) src.fail(node, path, hint);
  const lower = name.toLowerCase();
  if (FORBIDDEN.has(lower)) src.fail(node, path, `"${name}" is a hop-by-hop or framing field: rules cannot set, add or remove it`);
  if (lower === requestId) src.fail(node, path, `"${name}" is the request_id field, which the balancer writes (request_id: "" turns that off)`);
  return name;
}

/** A field value: text of field-value characters (RFC 9110 5.5), trimmed. */
function readFieldValue(src: Source, node: Node, path: string): string {
  if (isScalar(node) && node.value === null) return '';
  const value = readText(src, node, path, 'expected a field value (text)');
  if (!isFieldValue(value)) src.fail(node, path, VALUE_HINT);
  return value;
}

/** field-value chars = VCHAR / SP / HTAB / obs-text, one byte each (RFC 9110 5.5). */
function isFieldValue(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!(c === 0x09 || (c >= 0x20 && c <= 0x7e) || (c >= 0x80 && c <= 0xff))) return false;
  }
  return true;
}

/** `redirect: {location, code}`; null when absent. */
function readRedirect(src: Source, node: Node | undefined, path: string): Redirect | null {
  if (node === undefined) return null;
  const fields = readMap(src, node, path, ['location', 'code'] as const);
  if (!fields.location) src.fail(node, path, 'missing "location", e.g. "https://{host}{path}"');
  const location = readText(src, fields.location, `${path}.location`, 'expected a URL like "https://{host}{path}"');
  if (location === '' || !isFieldValue(location)) src.fail(fields.location, `${path}.location`, VALUE_HINT);
  for (const m of location.matchAll(/\{[^}]*\}/g)) {
    if (!PLACEHOLDERS.includes(m[0])) src.fail(fields.location, `${path}.location`, `unknown placeholder "${m[0]}"; expected {host}, {path} or {scheme}`);
  }
  let code: Redirect['code'] = DEFAULTS.redirectCode;
  if (fields.code) {
    const n = isScalar(fields.code) ? fields.code.value : undefined;
    if (!(CODES as readonly unknown[]).includes(n)) src.fail(fields.code, `${path}.code`, 'expected 301, 302, 303, 307 or 308');
    code = n as Redirect['code'];
  }
  return { location, code };
}
