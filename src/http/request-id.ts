// Request ids (interface.md, "Route rules": request_id): which field carries them, whether a
// request's own is valid, and new ones, random, 128 bits written as 32 lower-case hex digits.
// New ids are made in batches: one randomFillSync and one hex encoding per BATCH requests,
// into a buffer of their own that every id of the batch points into (no string, no buffer per
// request).

import { randomFillSync } from 'node:crypto';
import { equalsIgnoreCase } from './chars.js';
import { FIELD_STRIDE, F_LINE, F_NAME_END, F_VALUE, F_VALUE_END, Field } from './fields.js';
import type { RequestHead } from './request-parser.js';

/** Random bytes per id: 128 bits. */
const ID_BYTES = 16;
/** Its length in hex digits. */
export const ID_LENGTH = 2 * ID_BYTES;
/** Ids made at once. */
const BATCH = 256;
/** The longest id kept from a request (interface.md). */
const MAX_ID = 200;

/** Where a request's id is: bytes idBuf[idStart, idEnd), which nothing overwrites. */
export interface RequestIdSlot {
  idBuf: Buffer;
  idStart: number;
  idEnd: number;
}

export const EMPTY = Buffer.alloc(0);

export class RequestIds {
  /** The field's name, lower case, to find it in a head. */
  readonly name: string;
  /** "\r\nX-Request-ID: " (as configured), to add the field to a request head. */
  readonly requestPrefix: Buffer;
  /** "X-Request-ID: ", to add it to a response head. */
  readonly responsePrefix: Buffer;
  /** The current batch of ids, as hex digits, and the offset of the next unused one. */
  private batch = EMPTY;
  private at = 0;

  constructor(
    /** The field as configured ("X-Request-ID"). */
    readonly field: string,
  ) {
    this.name = field.toLowerCase();
    this.requestPrefix = Buffer.from(`\r\n${field}: `, 'latin1');
    this.responsePrefix = Buffer.from(`${field}: `, 'latin1');
  }

  /** Points `slot` at a new id. */
  fresh(slot: RequestIdSlot): void {
    if (this.at === this.batch.length) {
      // A new buffer, not the old one refilled: ids of requests still in flight point into that.
      this.batch = Buffer.from(randomFillSync(Buffer.allocUnsafe(BATCH * ID_BYTES)).toString('hex'), 'latin1');
      this.at = 0;
    }
    slot.idBuf = this.batch;
    slot.idStart = this.at;
    slot.idEnd = this.at += ID_LENGTH;
  }

  /** Whether the field named buf[start, end) is the request id field. */
  names(buf: Buffer, start: number, end: number): boolean {
    return end - start === this.name.length && equalsIgnoreCase(buf, start, end, this.name);
  }

  /**
   * Points `slot` at the id of `head` (a copy: the head's bytes are reused) when it has a valid
   * one, else at a new id. For a request that is not forwarded: the head builder finds the id
   * of one that is, in its own pass over the fields.
   */
  of(head: RequestHead, slot: RequestIdSlot): void {
    const { buf, fields, kinds, fieldCount } = head;
    for (let k = 0; k < fieldCount; k++) {
      const at = FIELD_STRIDE * k;
      if (kinds[k] !== Field.OTHER || !this.names(buf, fields[at + F_LINE]!, fields[at + F_NAME_END]!)) continue;
      const start = fields[at + F_VALUE]!;
      const end = fields[at + F_VALUE_END]!;
      if (isValidId(buf, start, end)) keep(buf, start, end, slot);
      else this.fresh(slot);
      return;
    }
    this.fresh(slot);
  }
}

/** Points `slot` at a copy of buf[start, end). */
export function keep(buf: Buffer, start: number, end: number, slot: RequestIdSlot): void {
  slot.idBuf = Buffer.from(buf.subarray(start, end));
  slot.idStart = 0;
  slot.idEnd = end - start;
}

/** Whether buf[start, end) is an id to keep: 1-200 visible ASCII characters (VCHAR, RFC 5234). */
export function isValidId(buf: Buffer, start: number, end: number): boolean {
  if (end <= start || end - start > MAX_ID) return false;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b < 0x21 || b > 0x7e) return false;
  }
  return true;
}
