// What a head reader fills in and within which limits: the lines of a complete head, as offsets
// into the bytes they arrived in, and the size limits of a head. Both readers of a head use them,
// HeadReader (head-reader.ts) and its WebAssembly fast path (head-scan.ts), so they live here.

import { FIELD_STRIDE } from './fields.js';

/** Size limits of a head. Zero is not allowed for any of them. */
export interface HeadLimits {
  /** Longest start line, CRLF excluded (request line: 414 past it). */
  maxStartLine: number;
  /** Largest head, all bytes from the first one to the final CRLF (431 past it). */
  maxHead: number;
  /** Most field lines in one head (431 past it). */
  maxFields: number;
}

/**
 * The lines of a complete head, as offsets into `buf`: line k runs from lines[2k] to lines[2k+1]
 * (the offset of its CR). Line 0 is the start line, lines 1..count-1 are the field lines.
 * Valid until the next call of HeadReader.execute on the reader that filled them in.
 */
export interface HeadLines {
  buf: Buffer;
  /** Offset of the first byte of the message (empty lines before the start line included). */
  start: number;
  /** Offset just past the empty line that ends the head. */
  end: number;
  /** Whether `buf` is the reader's scratch buffer, which the next split head overwrites. */
  scratch: boolean;
  offsets: Int32Array;
  /**
   * For field line k (1..count-1), nameEnds[k] is where its leading run of tchars ends:
   * skipTokenChars(buf, lines[2k], lines[2k+1]), the colon in a well-formed line.
   */
  nameEnds: Int32Array;
  count: number;
  /**
   * Field line k (1..count-1) split into name and value, as FIELD_STRIDE numbers at
   * FIELD_STRIDE * (k - 1) (fields.ts; the value's bounds are NOT_SPLIT for a line without a
   * name and a colon), and its kind at kinds[k - 1] (fieldKind; OTHER for a line not split).
   */
  fields: Int32Array;
  kinds: Uint8Array;
}

/** Empty HeadLines with room for a head within `limits`: made once per reader. */
export function newHeadLines(limits: HeadLimits): HeadLines {
  return {
    buf: Buffer.alloc(0),
    start: 0,
    end: 0,
    scratch: false,
    offsets: new Int32Array(2 * (limits.maxFields + 1)),
    // One more: the name of the line past the limit is read before that line is refused.
    nameEnds: new Int32Array(limits.maxFields + 2),
    count: 0,
    fields: new Int32Array(FIELD_STRIDE * limits.maxFields),
    kinds: new Uint8Array(limits.maxFields),
  };
}
