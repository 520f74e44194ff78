// Where sockets read into, and how a read reaches its connection: one buffer shared by every
// connection, instead of a new 64 KiB buffer per read pushed through a Readable stream, and a
// read handler of our own on the socket's handle instead of Node's (`readInto`).
//
// Why sharing one buffer is safe: a read is handled to the end before the next one lands, in
// whichever socket. Whoever keeps bytes beyond their read copies them first: the parsers copy a
// head that came in pieces to their scratch buffer, and the connections copy what they hold or
// write (a write can wait in a socket's queue) out of it (`ownBytes`).

import type net from 'node:net';
import { kBuffer, streamWrap } from './internals.js';

/** How much one read takes: libuv's usual read size. */
export const READ_SIZE = 64 * 1024;

export const READ_BUFFER = Buffer.allocUnsafe(READ_SIZE);
const READ_ARRAY_BUFFER = READ_BUFFER.buffer;

/** Whether `buf` is a view of READ_BUFFER: valid only until the read it came with is handled. */
export function inReadBuffer(buf: Buffer): boolean {
  return buf.buffer === READ_ARRAY_BUFFER;
}

/** buf[at, end) to keep or to write (a write may wait in a queue): copied out of READ_BUFFER, else a view. */
export function ownBytes(buf: Buffer, at: number, end: number): Buffer {
  // A view made directly: subarray() would look up a species constructor on every call.
  if (!inReadBuffer(buf)) return Buffer.from(buf.buffer, buf.byteOffset + at, end - at);
  const out = Buffer.allocUnsafe(end - at);
  buf.copy(out, 0, at, end);
  return out;
}

/**
 * Views of READ_BUFFER's first bytes, one per length, reused from read to read (slot: the
 * length's low 8 bits). Reusing a view is as safe as the buffer itself: what a view shows is
 * only valid until its read is handled, whether or not the view object is new; nobody keeps
 * one (`inReadBuffer` sends them to `ownBytes`). A keep-alive load reads the same few lengths
 * over and over; a new view (Buffer.from) costs about as much as the rest of the read handler.
 */
const views: (Buffer | undefined)[] = new Array<Buffer | undefined>(256).fill(undefined);
const READ_OFFSET = READ_BUFFER.byteOffset;

/** The `nread` bytes a read put at the start of `buf`, as a Buffer. */
export function bytesRead(buf: Buffer, nread: number): Buffer {
  if (buf === READ_BUFFER) {
    const slot = nread & 255;
    let view = views[slot];
    if (view === undefined || view.length !== nread) views[slot] = view = Buffer.from(READ_ARRAY_BUFFER, READ_OFFSET, nread);
    return view;
  }
  // A view made directly: subarray() would look up a species constructor on every read.
  return nread === buf.length ? buf : Buffer.from(buf.buffer, buf.byteOffset, nread);
}

/** The parts of a socket's libuv handle used here (node/src/stream_base.cc, stream_wrap.cc). */
interface ReadHandle {
  /** Called by the handle for every read: Node's onStreamRead, until replaced. */
  onread: (this: ReadHandle, arrayBuffer: unknown) => unknown;
  /** Reads land in `buf` (and, when onread returns a Uint8Array, in that one from then on). */
  useUserBuffer(buf: Uint8Array): void;
}

/** What reads a socket: its connection. Methods, not closures: one read handler serves every socket. */
export interface Reader {
  /**
   * Whether the next read should land in a buffer of its own rather than READ_BUFFER: while a
   * long body or a tunnel streams through, its bytes are written on as they came, and copying
   * each of them out of the shared buffer would cost more than the allocation it saves. Asked
   * before the first read and after each one.
   */
  streaming(): boolean;
  /** A read's bytes: in READ_BUFFER (valid until this returns) unless `streaming()` said otherwise. */
  onData(chunk: Buffer): void;
}

/** Where the next read of `reader` lands. */
function nextBuffer(reader: Reader): Buffer {
  return reader.streaming() ? Buffer.allocUnsafe(READ_SIZE) : READ_BUFFER;
}

/** A socket's read state, kept on its handle for `onHandleRead`. */
interface HandleReader {
  readonly reader: Reader;
  /** Where the read in progress lands. */
  current: Buffer;
  readonly nodeOnRead: ReadHandle['onread'];
  readonly socket: Record<symbol, unknown>;
}

const kReader = Symbol('reader');

/**
 * The handle's read handler (`this` is the handle): one function for every socket. A closure per
 * socket worked as well but cost a cache miss per read, where Node's C++ checks that the handler
 * is a function (bench/NOTES.md, round 3); this one stays in the cache.
 */
function onHandleRead(this: ReadHandle & { [kReader]: HandleReader }, arrayBuffer: unknown): unknown {
  const r = this[kReader];
  const nread = streamWrap!.streamBaseState[streamWrap!.kReadBytesOrError]!;
  if (nread <= 0) return r.nodeOnRead.call(this, arrayBuffer);
  const current = r.current;
  r.reader.onData(bytesRead(current, nread));
  const next = nextBuffer(r.reader);
  if (next === current) return undefined;
  r.current = next;
  r.socket[kBuffer!] = next;
  return next;
}

/**
 * Makes `socket` read into READ_BUFFER (or, while `reader.streaming()`, a buffer of its own)
 * and hands every read to `reader.onData` as a Buffer, valid until it
 * returns when it is in READ_BUFFER. No 'data' events; pause() stops reading at once. Returns
 * false, changing nothing, where that cannot be done (TLS, another Node, LB_IO=plain): then
 * read the socket through its 'data' events.
 *
 * What it does, and why it is safe. It gives the handle the buffer (`useUserBuffer`) and sets
 * the socket's kBuffer, as net.Socket's constructor and initSocketHandle do for the `onread`
 * option: kBuffer is what makes pause() and resume() stop and start the handle's reads. Then it
 * replaces the handle's `onread` (Node's onStreamRead, which initSocketHandle put there) by a
 * handler that takes the reads that brought bytes itself and hands everything else (end of
 * stream, errors) to Node's. For a read with bytes, onStreamRead would refresh the socket's
 * setTimeout timer (these sockets have none), check that the socket is not destroyed (destroy()
 * replaces the handle's onread, so no read comes after it), and call the `onread` callback and
 * buffer generator through their private properties: that, with a new Buffer per read, was a
 * measurable share of every keep-alive request (bench/NOTES.md, round 3). The handle's next buffer is only
 * returned when it changes (returning one makes Node look its memory up again).
 *
 * For a socket a net.Server accepted, it must run in the turn the socket was accepted in (the
 * 'connection' callback), before libuv's first read; for one from net.connect(), before it
 * connects.
 */
export function readInto(socket: net.Socket, reader: Reader): boolean {
  const handle = (socket as unknown as { _handle: (ReadHandle & { [kReader]?: HandleReader }) | null })._handle;
  // TLS sockets decrypt in their stream: their bytes must come through it. So must those of a
  // socket that was read already (the PROXY header's gate): some may wait in its stream.
  if (
    socket.readableFlowing !== null ||
    streamWrap === null ||
    kBuffer === null ||
    handle === null ||
    typeof handle.useUserBuffer !== 'function' ||
    typeof handle.onread !== 'function' ||
    (socket as net.Socket & { encrypted?: boolean }).encrypted
  ) {
    return false;
  }
  const s = socket as unknown as Record<symbol, unknown>;
  const current = nextBuffer(reader);
  handle[kReader] = { reader, current, nodeOnRead: handle.onread, socket: s };
  s[kBuffer] = current;
  handle.useUserBuffer(current);
  handle.onread = onHandleRead as ReadHandle['onread'];
  return true;
}
