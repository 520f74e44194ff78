// The one place that reaches into Node's internals: the stream binding that net.js itself writes
// and reads through, and the private symbol of a socket's `onread` buffer. Probed once, when this
// module loads; null where they are missing or not as expected, and always null with
// LB_IO=plain, which makes every socket read through its 'data' events and write through its
// stream (the plain path, as a TLS socket always does).

import net from 'node:net';

/** Node's stream binding (node/src/stream_base.h, stream_wrap.cc): the parts used here. */
export interface StreamWrap {
  /** Node's write request class: the one every net.Socket write uses. */
  WriteWrap: new () => WriteRequest;
  /** Set by every native read and write: the read's byte count, whether a write was queued. */
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  /** streamBaseState[kLastWriteWasAsync] is 1 when libuv queued part of the last write. */
  kLastWriteWasAsync: number;
}

/** A native write request (node/src/stream_base.cc), as net.js fills one in. */
export interface WriteRequest {
  handle: unknown;
  oncomplete: (status: number) => void;
  buffer: Buffer | null;
  async: boolean;
  bytes: number;
}

/** Whether the plain path is forced (LB_IO=plain): the integration tests run both ways. */
export const PLAIN_IO = process.env['LB_IO'] === 'plain';

/**
 * The binding Node's net.js reads and writes through (it reaches it as internalBinding).
 * process.binding is deprecated in the documentation only (DEP0111); with --pending-deprecation
 * it warns once.
 */
export const streamWrap: StreamWrap | null = PLAIN_IO ? null : loadStreamWrap();

/** Node's private symbol for a socket's `onread` buffer (net.js kBuffer). */
export const kBuffer: symbol | null = PLAIN_IO ? null : findBufferSymbol();

function loadStreamWrap(): StreamWrap | null {
  try {
    const b = (process as unknown as { binding(name: string): StreamWrap }).binding('stream_wrap');
    if (
      typeof b.WriteWrap === 'function' &&
      b.streamBaseState instanceof Int32Array &&
      typeof b.kReadBytesOrError === 'number' &&
      typeof b.kLastWriteWasAsync === 'number'
    ) {
      return b;
    }
    /* c8 ignore start -- every Node line we support has it; a later Node or another runtime may not */
  } catch {
    // Fall through.
  }
  return null;
}
/* c8 ignore stop */

/**
 * net.Socket keeps its `onread` buffer under a private symbol (kBuffer). It is found by value on
 * a probe socket made with the option (no handle, nothing opened), so that no name is guessed.
 */
function findBufferSymbol(): symbol | null {
  const buffer = Buffer.alloc(1);
  // @types/node lists `onread` for net.connect only; the Socket constructor takes it too.
  const probe = new net.Socket({ onread: { buffer, callback: Boolean } } as net.SocketConstructorOpts) as unknown as Record<symbol, unknown>;
  const found = Object.getOwnPropertySymbols(probe).find((s) => probe[s] === buffer);
  /* c8 ignore next -- every Node line we support has it */
  return found ?? null;
}
