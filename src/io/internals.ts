// The one place that reaches into Node's internals: the stream binding that net.js itself writes
// and reads through, the private symbol of a socket's `onread` buffer, and a TLS context's
// session-ticket callback. Probed once, when this module loads (the callback when it is asked
// for); null where they are missing or not as expected, on a Node.js line they were not proven
// on, and with LB_IO=plain, which makes every socket read through its 'data' events and write
// through its stream (the plain path, as a TLS socket always does), and leaves tickets to Node.

import net from 'node:net';
import type tls from 'node:tls';

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
 * The Node.js lines the fast paths were proven on: the binding and net.js's use of it read in each
 * line's sources, and the whole suite run on each (.ci/run). Another line may have changed what
 * the probes below cannot see (what a field means, when net.js reads it), so it gets the plain path.
 */
export const PROVEN_NODE_LINES: readonly number[] = [20, 22, 24, 26];

/** Why Node.js `version` ("22.4.1") gets the plain path, or null when it is a proven line. */
export function unprovenLine(version: string): string | null {
  const major = Number(version.split('.')[0]);
  if (PROVEN_NODE_LINES.includes(major)) return null;
  return `Node.js ${version} is not a line the I/O fast paths were proven on (${PROVEN_NODE_LINES.join(', ')}): sockets are read and written through their streams`;
}

/** Why this process takes the plain path though LB_IO does not ask for it (lb logs it once), or null. */
export const IO_FALLBACK: string | null = PLAIN_IO ? null : unprovenLine(process.versions.node);

/** Whether the fast paths may be probed for at all. */
const FAST = !PLAIN_IO && IO_FALLBACK === null;

/**
 * The binding Node's net.js reads and writes through (it reaches it as internalBinding).
 * process.binding is deprecated in the documentation only (DEP0111); with --pending-deprecation
 * it warns once.
 */
export const streamWrap: StreamWrap | null = FAST ? loadStreamWrap() : null;

/** Node's private symbol for a socket's `onread` buffer (net.js kBuffer). */
export const kBuffer: symbol | null = FAST ? findBufferSymbol() : null;

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

/**
 * A session-ticket callback (node/src/crypto/crypto_context.cc, TicketKeyCallback): given the
 * ticket's key name and IV, and whether OpenSSL seals (true) or opens (false) a ticket, it answers
 * [1, hmacKey, aesKey, name, iv] to seal; [0 | 1 | 2, hmacKey, aesKey] to open: 0 refuses the
 * ticket, 1 takes it, 2 takes it and has OpenSSL send the client a new one.
 */
export type TicketKeyCallback = (name: Buffer, iv: Buffer, encrypt: boolean) => unknown[];

/** The native half of a tls.SecureContext (its `context`), as far as tickets go. */
interface NativeSecureContext {
  enableTicketKeyCallback?: () => void;
  onticketkeycallback?: TicketKeyCallback;
}

/**
 * Has `context` seal and open session tickets through `callback` instead of Node's own ticket
 * code. Undocumented (Node keeps it for a test of its own), so it is taken only where the fast
 * paths are (a proven line, not LB_IO=plain) and the method is there. Returns whether it is in
 * place; where not, Node's ticket code goes on.
 */
export function setTicketKeyCallback(context: tls.SecureContext, callback: TicketKeyCallback): boolean {
  if (!FAST) return false;
  const native = (context as unknown as { context?: NativeSecureContext }).context;
  if (native === undefined || typeof native.enableTicketKeyCallback !== 'function') return false;
  native.enableTicketKeyCallback();
  native.onticketkeycallback = callback;
  return true;
}

/** A tls.Server's own secure context, the one setSecureContext replaces (net.js `_sharedCreds`), or null. */
export function serverSecureContext(server: tls.Server): tls.SecureContext | null {
  if (!FAST) return null;
  return (server as unknown as { _sharedCreds?: tls.SecureContext })._sharedCreds ?? null;
}
