// The `log` section: the access log's format.

import type { Node } from 'yaml';
import { DEFAULTS, type Config } from '../schema.js';
import { readMap, readText, type Source } from '../yaml.js';

export function readLog(src: Source, node: Node | undefined): Config['log'] {
  if (node === undefined) return { ...DEFAULTS.log };
  const fields = readMap(src, node, 'log', ['format'] as const);
  if (fields.format === undefined) return { ...DEFAULTS.log };
  const format = readText(src, fields.format, 'log.format', 'expected "text" or "json"');
  if (format !== 'text' && format !== 'json') src.fail(fields.format, 'log.format', 'expected "text" or "json"');
  return { format };
}
