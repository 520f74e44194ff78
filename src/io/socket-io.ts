// A connection's I/O on its socket, the seam between the proxy and Node: reads handed to the
// connection (into the shared buffer where Node's internals allow it, else through 'data'
// events), writes (straight to the handle when nothing is queued, else through the stream), and
// pause / resume for backpressure. The connections know nothing of handles or bindings.

import type net from 'node:net';
import { DirectWriter } from './direct-write.js';
import { readInto, type Reader } from './read.js';

export type { Reader } from './read.js';
export { inReadBuffer, ownBytes } from './read.js';

export class SocketIO extends DirectWriter {
  /** Whether the socket reads: true from our resume() until our pause() (see `resume`). */
  private flowing = false;

  /**
   * Sets up `socket`'s reads to go to `reader` and its drains (of the stream, or of a direct
   * write) to `onDrain`. For a socket a net.Server accepted, it must run in the turn the socket
   * was accepted in; for one from net.connect(), before it connects (see readInto).
   */
  constructor(socket: net.Socket, reader: Reader, onDrain: () => void) {
    super(socket, onDrain);
    if (!readInto(socket, reader)) {
      socket.on('data', (chunk: Buffer) => reader.onData(chunk));
      skipReadMoreTicks(socket);
    }
    socket.on('drain', onDrain);
  }

  /** Stops reading the socket (with readInto, pause() stops the handle's reads at once). */
  pause(): void {
    this.flowing = false;
    this.socket.pause();
  }

  /**
   * Reads the socket again, if it was paused. Every pause() and resume() of the socket goes
   * through `pause` and `resume`, and resume() is called only when a pause() came since the last
   * one (or there was none yet): the connections call it at least once a request on each side,
   * and on a socket that reads already it did nothing but load stream state (megamorphic loads:
   * bench/NOTES.md, hot path round 4, has the measurement).
   *
   * Why skipping it is safe (lib/net.js and internal/streams/readable.js): after
   * socket.resume() the stream is flowing and not paused, and, for a socket that reads through
   * readInto (kBuffer set), the handle reads unless the socket was still connecting, in which
   * case afterConnect starts the reads of a socket that is not paused. Until the next pause()
   * nothing else stops it: Node stops a handle's reads only in pause() and in onStreamRead when
   * the stream refuses bytes (push() or the kBuffer callback returning false; with readInto the
   * reads with bytes never reach onStreamRead), and clears `flowing` only in pause(), in unpipe()
   * and for a 'readable' listener (neither used here); net.Server pauses a new socket only with
   * pauseOnConnect (not set). So a resume() with no pause() since the last one changes nothing.
   * A socket read through 'data' events (TLS, the plain path) has no kBuffer: there resume() only
   * sets `flowing`, and Node's own flow control (push() returning false) restarts itself when read.
   */
  resume(): void {
    if (!this.flowing) {
      this.flowing = true;
      this.socket.resume();
    }
  }
}

/**
 * A Readable schedules a nextTick after each chunk it is given ("maybeReadMore") to go on reading
 * up to its highWaterMark. A socket does that by itself: libuv reads while the handle is started,
 * push() returning false stops it and resume() starts it again; so for a socket read in flowing
 * mode the tick only costs (bench/NOTES.md has the measurement). Marking it as scheduled already skips it, as Node's own http server does for its requests (IncomingMessage
 * sets the same flag); nothing else reads the flag.
 */
function skipReadMoreTicks(socket: net.Socket): void {
  const state = (socket as unknown as { _readableState?: { readingMore: boolean } })._readableState;
  /* c8 ignore next -- every Readable of the Node lines we support has a _readableState */
  if (state === undefined) return;
  state.readingMore = true;
}
