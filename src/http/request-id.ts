// Request ids (interface.md, "Route rules": request_id): which field carries them, whether a
// request's own is valid, and new ones, random, 128 bits written as 32 lower-case hex digits.
// A request's id is held as its whole field line, "\r\nX-Request-ID: <id>\r\n", which both head
// builders copy in one go (forward.ts): the request head takes it as its last line, the response
// head over the CRLF that ends its previous line. New ids are made in batches: one
// randomFillSync per BATCH requests, written as hex into one buffer of lines, and a view of each
// line (no string, no buffer of its own per request).

import { randomFillSync } from 'node:crypto';
import { equalsIgnoreCase } from './chars.js';
import { FIELD_STRIDE, F_LINE, F_NAME_END, F_VALUE, F_VALUE_END, Field } from './fields.js';
import type { RequestHead } from './request-parser.js';

/** Random bytes per id: 128 bits. */
const ID_BYTES = 16;
/** Ids made at once. */
const BATCH = 256;
/** The longest id kept from a request (interface.md). */
const MAX_ID = 200;

/** Where a request's id is: its field line, CRLF before and after; EMPTY while it has none. */
export interface RequestIdSlot {
  idLine: Buffer;
}

export const EMPTY = Buffer.alloc(0);

export class RequestIds {
  /** The field's name, lower case, to find it in a head. */
  readonly name: string;
  /** "\r\nX-Request-ID: " (as configured): how every id line starts. */
  private readonly prefix: Buffer;
  /** The current batch's lines, and the index of the next unused one. */
  private lines: Buffer[] = [];
  private at = 0;

  constructor(
    /** The field as configured ("X-Request-ID"). */
    readonly field: string,
  ) {
    this.name = field.toLowerCase();
    this.prefix = Buffer.from(`\r\n${field}: `, 'latin1');
  }

  /** Points `slot` at a new id. */
  fresh(slot: RequestIdSlot): void {
    if (this.at === this.lines.length) this.batch();
    slot.idLine = this.lines[this.at++]!;
  }

  /**
   * The next BATCH lines, in a new buffer and a new list: lines of requests still in flight
   * point into the old one. The random bytes become hex in one call, written past the lines'
   * end, and each line takes its 32 digits from there by copyWithin: per request, that is
   * cheaper than a loop of table lookups.
   */
  private batch(): void {
    const random = randomFillSync(Buffer.allocUnsafe(BATCH * ID_BYTES));
    const prefix = this.prefix;
    const digits = 2 * ID_BYTES;
    const size = prefix.length + digits + 2;
    const hexAt = BATCH * size;
    const buf = Buffer.allocUnsafe(hexAt + BATCH * digits);
    buf.write(random.toString('hex'), hexAt, 'latin1');
    const lines: Buffer[] = [];
    for (let i = 0; i < BATCH; i++) {
      const start = i * size;
      buf.set(prefix, start);
      const hex = hexAt + i * digits;
      buf.copyWithin(start + prefix.length, hex, hex + digits);
      buf[start + size - 2] = 0x0d;
      buf[start + size - 1] = 0x0a;
      lines.push(buf.subarray(start, start + size));
    }
    this.lines = lines;
    this.at = 0;
  }

  /** Points `slot` at a line of its own for the id buf[start, end) (a copy: the head's bytes are reused). */
  keep(buf: Buffer, start: number, end: number, slot: RequestIdSlot): void {
    const prefix = this.prefix;
    const line = Buffer.allocUnsafe(prefix.length + (end - start) + 2);
    line.set(prefix, 0);
    buf.copy(line, prefix.length, start, end);
    line[line.length - 2] = 0x0d;
    line[line.length - 1] = 0x0a;
    slot.idLine = line;
  }

  /** The id `slot` holds, as a string (for the access log). */
  idOf(slot: RequestIdSlot): string {
    return slot.idLine.toString('latin1', this.prefix.length, slot.idLine.length - 2);
  }

  /** Whether the field named buf[start, end) is the request id field. */
  names(buf: Buffer, start: number, end: number): boolean {
    return end - start === this.name.length && equalsIgnoreCase(buf, start, end, this.name);
  }

  /**
   * Points `slot` at the id of `head` when it has a valid one, else at a new id. For a request
   * that is not forwarded: the head builder finds the id of one that is, in its own pass over
   * the fields.
   */
  of(head: RequestHead, slot: RequestIdSlot): void {
    const { buf, fields, kinds, fieldCount } = head;
    for (let k = 0; k < fieldCount; k++) {
      const at = FIELD_STRIDE * k;
      if (kinds[k] !== Field.OTHER || !this.names(buf, fields[at + F_LINE]!, fields[at + F_NAME_END]!)) continue;
      const start = fields[at + F_VALUE]!;
      const end = fields[at + F_VALUE_END]!;
      if (isValidId(buf, start, end)) this.keep(buf, start, end, slot);
      else this.fresh(slot);
      return;
    }
    this.fresh(slot);
  }
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
