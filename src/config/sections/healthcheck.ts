// The `healthcheck` section: how servers are checked, each field with its default. Written at
// the top level it is every pool's; on a `hosts` / `paths` entry its fields override the top
// level's one by one, for that pool.

import type { Node } from 'yaml';
import { DEFAULTS, type CheckType, type Healthcheck } from '../schema.js';
import { readCount, readDuration } from '../scalars.js';
import { readMap, readText, type Source } from '../yaml.js';

const KEYS = ['type', 'path', 'expect', 'host', 'interval', 'timeout', 'rise', 'fall'] as const;
const TYPES: readonly CheckType[] = ['http', 'tcp', 'none'];
/** The fields only an HTTP check reads: written beside another type, they are a mistake. */
const HTTP_ONLY = ['path', 'expect', 'host'] as const;

const EXPECT_HINT = 'expected statuses like "200", "200-299" or "200-299,301", each 100..599';

/** The built-in defaults, as a Healthcheck of its own (no two configs share its arrays). */
function defaults(): Healthcheck {
  const d = DEFAULTS.healthcheck;
  return { ...d, expect: d.expect.map(([from, to]) => [from, to]) };
}

/**
 * The `healthcheck` mapping at `at` ("healthcheck", "hosts[0].healthcheck"), its fields over
 * `base`'s (the built-in defaults when absent).
 */
export function readHealthcheck(src: Source, node: Node | undefined, at = 'healthcheck', base: Healthcheck = defaults()): Healthcheck {
  const fields = node === undefined ? {} : readMap(src, node, at, KEYS);
  let type = base.type;
  if (fields.type) {
    const known = `expected one of ${TYPES.join(', ')}`;
    const name = readText(src, fields.type, `${at}.type`, known);
    if (!(TYPES as readonly string[]).includes(name)) src.fail(fields.type, `${at}.type`, `unknown type "${name}"; ${known}`);
    type = name as CheckType;
    const stray = HTTP_ONLY.find((key) => fields[key] !== undefined);
    if (type !== 'http' && stray !== undefined) src.fail(fields[stray]!, `${at}.${stray}`, `${stray} is for type: http only, not type: ${type}`);
  }
  let path = base.path;
  if (fields.path) {
    path = readText(src, fields.path, `${at}.path`, 'expected a path starting with "/"');
    if (!/^\/[\x21-\x7e]*$/.test(path)) src.fail(fields.path, `${at}.path`, 'expected a path starting with "/"');
  }
  let host = base.host;
  if (fields.host) {
    const hint = 'expected a Host header value like "app.internal", or "" for the server\'s host:port';
    host = readText(src, fields.host, `${at}.host`, hint);
    if (!/^[\x21-\x7e]*$/.test(host)) src.fail(fields.host, `${at}.host`, hint);
  }
  return {
    type,
    path,
    strictPath: fields.path !== undefined || base.strictPath,
    expect: fields.expect ? readExpect(src, fields.expect, `${at}.expect`) : base.expect.map(([from, to]) => [from, to]),
    host,
    interval: readDuration(src, fields.interval, `${at}.interval`, base.interval),
    timeout: readDuration(src, fields.timeout, `${at}.timeout`, base.timeout),
    rise: readCount(src, fields.rise, `${at}.rise`, base.rise, 1),
    fall: readCount(src, fields.fall, `${at}.fall`, base.fall, 1),
  };
}

/** `expect`: comma-separated statuses and inclusive ranges ("200-299,301"); a bare number is one status. */
function readExpect(src: Source, node: Node, path: string): [number, number][] {
  const text = readText(src, node, path, EXPECT_HINT);
  const ranges: [number, number][] = [];
  for (const item of text.split(',')) {
    const m = /^\s*(\d{3})\s*(?:-\s*(\d{3})\s*)?$/.exec(item);
    if (m === null) src.fail(node, path, EXPECT_HINT);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (from < 100 || to > 599 || from > to) src.fail(node, path, EXPECT_HINT);
    ranges.push([from, to]);
  }
  return ranges;
}

/** The statuses of `expect` as the config would write them: "200-399", "200,301". */
export function formatExpect(expect: readonly (readonly [number, number])[]): string {
  return expect.map(([from, to]) => (from === to ? `${from}` : `${from}-${to}`)).join(',');
}
