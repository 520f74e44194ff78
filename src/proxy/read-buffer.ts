// Where sockets read into: one buffer shared by every connection, instead of a new 64 KiB buffer
// per read pushed through a Readable stream. Backend sockets ask for it when they connect
// (net.connect's `onread`); sockets a net.Server accepted are switched to it by `readInto`.
//
// Why sharing one buffer is safe: a read is handled to the end before the next one lands, in
// whichever socket. Whoever keeps bytes beyond their read copies them first: the parsers copy a
// head that came in pieces to their scratch buffer, and the connections copy what they hold or
// write (a write can wait in a socket's queue) out of it (`ownBytes`).

import net from 'node:net';

/** How much one read takes: libuv's usual read size. */
export const READ_SIZE = 64 * 1024;

export const READ_BUFFER = Buffer.allocUnsafe(READ_SIZE);

/** Whether `buf` is a view of READ_BUFFER: valid only until the read it came with is handled. */
export function inReadBuffer(buf: Buffer): boolean {
  return buf.buffer === READ_BUFFER.buffer;
}

/** buf[at, end) to keep or to write (a write may wait in a queue): copied out of READ_BUFFER, else a view. */
export function ownBytes(buf: Buffer, at: number, end: number): Buffer {
  // A view made directly: subarray() would look up a species constructor on every call.
  if (!inReadBuffer(buf)) return Buffer.from(buf.buffer, buf.byteOffset + at, end - at);
  const out = Buffer.allocUnsafe(end - at);
  buf.copy(out, 0, at, end);
  return out;
}

/** Called with each read: `nread` bytes at the start of `buf` (READ_BUFFER or a buffer of its own). */
export type OnRead = (nread: number, buf: Uint8Array) => boolean;

/** Node's names for a socket's `onread` settings (private symbols of lib/net.js). */
interface ReadSymbols {
  buffer: symbol;
  callback: symbol;
  generator: symbol;
}

const symbols = findReadSymbols();

/**
 * net.Socket keeps its `onread` option in three properties under private symbols (kBuffer,
 * kBufferCb, kBufferGen). They are found by value on two probe sockets made with the option (no
 * handle, nothing opened), so that no name is guessed; null if this Node keeps them otherwise.
 */
function findReadSymbols(): ReadSymbols | null {
  const buffer = Buffer.alloc(1);
  // Any two distinct functions will do (built-ins here): a socket without a handle calls neither.
  const callback = Boolean;
  const generator = Array;
  // @types/node lists `onread` for net.connect only; the Socket constructor takes it too.
  const probe = (onread: object) => new net.Socket({ onread } as net.SocketConstructorOpts) as unknown as Record<symbol, unknown>;
  const withBuffer = probe({ buffer, callback });
  const withGenerator = probe({ buffer: generator, callback });
  const find = (socket: Record<symbol, unknown>, value: unknown): symbol | undefined =>
    Object.getOwnPropertySymbols(socket).find((s) => socket[s] === value);
  const b = find(withBuffer, buffer);
  const c = find(withBuffer, callback);
  const g = find(withGenerator, generator);
  /* c8 ignore next -- Node 20, the version this runs on, has all three */
  return b !== undefined && c !== undefined && g !== undefined ? { buffer: b, callback: c, generator: g } : null;
}

/**
 * Makes an accepted socket read as a socket made with `onread` does: each read lands in what
 * `nextBuffer` returns (called before the first read and after each one) and goes to `onRead`;
 * no 'data' events, and pause() stops reading at once. Returns false, changing nothing, where
 * that cannot be done (then read the socket through its 'data' events).
 *
 * Why it is safe: it sets the same three properties the net.Socket constructor sets for
 * `onread`, and gives the handle the buffer as that constructor's initSocketHandle does
 * (`useUserBuffer`, which puts a listener in front that reads into it). It must run in the turn
 * the socket was accepted in (the 'connection' callback), before libuv's first read: the
 * constructor only asked libuv to start reading. Node's onStreamRead (stream_base_commons.js)
 * reads the properties on every read, so from then on the socket is read exactly like one made
 * with `onread`; pause(), resume() and the end of the stream already handle that case.
 */
export function readInto(socket: net.Socket, nextBuffer: () => Uint8Array, onRead: OnRead): boolean {
  const handle = (socket as unknown as { _handle: { useUserBuffer?: (buf: Uint8Array) => void } | null })._handle;
  // TLS sockets decrypt in their stream: their bytes must come through it.
  if (symbols === null || handle === null || typeof handle.useUserBuffer !== 'function' || (socket as net.Socket & { encrypted?: boolean }).encrypted) {
    return false;
  }
  const first = nextBuffer();
  const s = socket as unknown as Record<symbol, unknown>;
  s[symbols.buffer] = first;
  s[symbols.generator] = nextBuffer;
  s[symbols.callback] = onRead;
  handle.useUserBuffer(first);
  return true;
}
