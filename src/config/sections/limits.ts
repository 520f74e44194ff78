// The `limits` section: bounds on what one client may send or hold, each with its default.

import type { Node } from 'yaml';
import { DEFAULTS, type Limits } from '../schema.js';
import { readCount, readSize } from '../scalars.js';
import { readMap, type Source } from '../yaml.js';

const KEYS = ['max_request_line', 'max_head', 'max_fields', 'max_connections', 'max_body'] as const;

export function readLimits(src: Source, node: Node | undefined): Limits {
  const fields = node === undefined ? {} : readMap(src, node, 'limits', KEYS);
  const d = DEFAULTS.limits;
  return {
    maxRequestLine: readSize(src, fields.max_request_line, 'limits.max_request_line', d.maxRequestLine),
    maxHead: readSize(src, fields.max_head, 'limits.max_head', d.maxHead),
    maxFields: readCount(src, fields.max_fields, 'limits.max_fields', d.maxFields, 1),
    maxConnections: readCount(src, fields.max_connections, 'limits.max_connections', d.maxConnections, 0),
    maxBody: readSize(src, fields.max_body, 'limits.max_body', d.maxBody, 'allowed'),
  };
}
