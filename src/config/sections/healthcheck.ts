// The `healthcheck` section: the active check of every server, each field with its default.

import type { Node } from 'yaml';
import { DEFAULTS, type Healthcheck } from '../schema.js';
import { readCount, readDuration } from '../scalars.js';
import { readMap, readText, type Source } from '../yaml.js';

const KEYS = ['path', 'interval', 'timeout', 'rise', 'fall'] as const;

export function readHealthcheck(src: Source, node: Node | undefined): Healthcheck {
  const fields = node === undefined ? {} : readMap(src, node, 'healthcheck', KEYS);
  const d = DEFAULTS.healthcheck;
  let path: string = d.path;
  if (fields.path) {
    path = readText(src, fields.path, 'healthcheck.path', 'expected a path starting with "/"');
    if (!/^\/[\x21-\x7e]*$/.test(path)) src.fail(fields.path, 'healthcheck.path', 'expected a path starting with "/"');
  }
  return {
    path,
    interval: readDuration(src, fields.interval, 'healthcheck.interval', d.interval),
    timeout: readDuration(src, fields.timeout, 'healthcheck.timeout', d.timeout),
    rise: readCount(src, fields.rise, 'healthcheck.rise', d.rise, 1),
    fall: readCount(src, fields.fall, 'healthcheck.fall', d.fall, 1),
  };
}
