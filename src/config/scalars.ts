// Readers of one numeric setting from its YAML node: a duration, a size or a count, the default
// when the key is absent, and a message with a hint when the value is wrong.

import { isScalar, type Node } from 'yaml';
import { parseDuration, parseSize } from './values.js';
import type { Source } from './yaml.js';

const DURATION_HINT = 'expected a duration like "250ms", "2s", "1m" or a number of milliseconds';
const SIZE_HINT = 'expected a size like "8KiB", "1MiB" or a number of bytes';

/** A positive duration in ms; `fallback` when absent. */
export function readDuration(src: Source, node: Node | undefined, path: string, fallback: number): number {
  if (node === undefined) return fallback;
  const ms = isScalar(node) ? parseDuration(node.value) : null;
  if (ms === null) src.fail(node, path, DURATION_HINT);
  if (ms === 0) src.fail(node, path, 'expected a duration greater than 0');
  return ms;
}

/** A positive number of bytes; `fallback` when absent. */
export function readSize(src: Source, node: Node | undefined, path: string, fallback: number): number {
  if (node === undefined) return fallback;
  const bytes = isScalar(node) ? parseSize(node.value) : null;
  if (bytes === null) src.fail(node, path, SIZE_HINT);
  if (bytes === 0) src.fail(node, path, 'expected a size greater than 0');
  return bytes;
}

/** An integer >= min; `fallback` when absent. */
export function readCount(src: Source, node: Node | undefined, path: string, fallback: number, min: number): number {
  if (node === undefined) return fallback;
  if (!isScalar(node) || !Number.isSafeInteger(node.value) || (node.value as number) < min) {
    src.fail(node, path, `expected a whole number of at least ${min}`);
  }
  return node.value as number;
}
