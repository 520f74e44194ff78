// The `timeouts` section: durations, each more than 0, each with its default.

import type { Node } from 'yaml';
import { DEFAULTS, type Timeouts } from '../schema.js';
import { readDuration } from '../scalars.js';
import { readMap, type Source } from '../yaml.js';

const KEYS = ['connect', 'header', 'idle', 'server', 'drain'] as const;

export function readTimeouts(src: Source, node: Node | undefined): Timeouts {
  const fields = node === undefined ? {} : readMap(src, node, 'timeouts', KEYS);
  const d = DEFAULTS.timeouts;
  return {
    connect: readDuration(src, fields.connect, 'timeouts.connect', d.connect),
    header: readDuration(src, fields.header, 'timeouts.header', d.header),
    idle: readDuration(src, fields.idle, 'timeouts.idle', d.idle),
    server: readDuration(src, fields.server, 'timeouts.server', d.server),
    drain: readDuration(src, fields.drain, 'timeouts.drain', d.drain),
  };
}
