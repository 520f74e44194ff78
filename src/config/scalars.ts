// Readers of one setting from its YAML node: a duration, a size, a count, a flag or a share, the
// default when the key is absent, and a message with a hint when the value is wrong.

import { isScalar, type Node } from 'yaml';
import { parseDuration, parseShare, parseSize } from './values.js';
import type { Source } from './yaml.js';

const DURATION_HINT = 'expected a duration like "250ms", "2s", "1m" or a number of milliseconds';
const SIZE_HINT = 'expected a size like "8KiB", "1MiB" or a number of bytes';
const SHARE_HINT = 'expected a percentage like "20%" or a number from 0 to 1';

/**
 * A duration in ms; `fallback` when absent. More than 0, unless `zero` is 'allowed' (for the
 * settings where 0 means "none").
 */
export function readDuration(
  src: Source,
  node: Node | undefined,
  path: string,
  fallback: number,
  zero: 'allowed' | 'refused' = 'refused',
): number {
  if (node === undefined) return fallback;
  const ms = isScalar(node) ? parseDuration(node.value) : null;
  if (ms === null) src.fail(node, path, DURATION_HINT);
  if (ms === 0 && zero === 'refused') src.fail(node, path, 'expected a duration greater than 0');
  return ms;
}

/** A number of bytes; `fallback` when absent. More than 0, unless `zero` is 'allowed' (0 meaning "no limit"). */
export function readSize(src: Source, node: Node | undefined, path: string, fallback: number, zero: 'allowed' | 'refused' = 'refused'): number {
  if (node === undefined) return fallback;
  const bytes = isScalar(node) ? parseSize(node.value) : null;
  if (bytes === null) src.fail(node, path, SIZE_HINT);
  if (bytes === 0 && zero === 'refused') src.fail(node, path, 'expected a size greater than 0');
  return bytes;
}

/** An integer >= min (and <= max when given); `fallback` when absent. */
export function readCount(
  src: Source,
  node: Node | undefined,
  path: string,
  fallback: number,
  min: number,
  max?: number,
): number {
  if (node === undefined) return fallback;
  const n = isScalar(node) ? node.value : undefined;
  if (!Number.isSafeInteger(n) || (n as number) < min || (max !== undefined && (n as number) > max)) {
    const range = max === undefined ? `of at least ${min}` : `from ${min} to ${max}`;
    src.fail(node, path, `expected a whole number ${range}`);
  }
  return n as number;
}

/** true or false (YAML's booleans, not "yes" or "on"); `fallback` when absent. */
export function readFlag(src: Source, node: Node | undefined, path: string, fallback: boolean): boolean {
  if (node === undefined) return fallback;
  if (!isScalar(node) || typeof node.value !== 'boolean') src.fail(node, path, 'expected true or false');
  return node.value;
}

/** A share from 0 to 1, written "20%" or 0.2; `fallback` when absent. */
export function readShare(src: Source, node: Node | undefined, path: string, fallback: number): number {
  if (node === undefined) return fallback;
  const share = isScalar(node) ? parseShare(node.value) : null;
  if (share === null) src.fail(node, path, SHARE_HINT);
  return share;
}
