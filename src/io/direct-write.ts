// Writes to a plain TCP socket straight into its libuv handle when nothing else is queued on it,
// skipping Node's Writable stream (write -> _write -> writeGeneric -> afterWrite on next tick):
// a proxy writes every request and every response once, so that layer is paid twice per request.
//
// Why it is safe: libuv keeps one write queue per handle, in order, whoever queues. A direct
// write is only made when Node's stream has nothing buffered, is not corked, not ended, and the
// handle's queue is empty; so bytes leave in the order they were written, and a later
// socket.write() or socket.end() (a shutdown, which libuv runs after the queued writes) still
// goes after it. When the kernel does not take all the bytes at once, libuv keeps the rest (we
// keep the buffer alive on the request) and the write counts as backpressure: `onDrain` is
// called when it completes, as 'drain' would be. (socket.bytesWritten does not count direct
// writes; the balancer counts its bytes itself.)
//
// One write request object (Node's WriteWrap) serves every write the kernel takes whole; see
// `DirectWriter.write`. `DirectWriter.writeWith` writes bytes that lie in the shared read buffer
// (io/read.ts) without copying the part the kernel takes.

import fs from 'node:fs';
import type net from 'node:net';
import { streamWrap, type WriteRequest } from './internals.js';
import { ownBytes } from './read.js';

/** The part of Node's internal TCP handle used here (node/src/stream_base.cc, stream_wrap.cc). */
interface StreamHandle {
  writeBuffer(req: WriteRequest, bytes: Buffer): number;
  /** The socket's file descriptor; -1 where there is none (Windows). */
  readonly fd: number;
}

export class DirectWriter {
  /** Direct writes in flight that the kernel has not taken whole yet. */
  private pending = 0;
  private readonly direct: boolean;
  /** A write request no native write is bound to, for the next direct write; null: make one. */
  private free: WriteRequest | null = null;

  /**
   * @param onDrain called when a write that returned false has gone out (for direct writes; for
   *   writes that went through the stream, the socket's own 'drain' event says so).
   */
  constructor(
    protected readonly socket: net.Socket,
    private readonly onDrain: () => void,
  ) {
    // TLS sockets encrypt in their stream: only plain TCP sockets are written to directly.
    this.direct = streamWrap !== null && !(socket as net.Socket & { encrypted?: boolean }).encrypted;
  }

  /** The socket's handle when a write may go to it directly (nothing queued anywhere), else null. */
  private directHandle(): StreamHandle | null {
    const socket = this.socket;
    const handle = (socket as unknown as { _handle: StreamHandle | null })._handle;
    // Node's stream counts its bytes until their write completes, so with writableLength 0 and
    // none of our own pending, libuv's queue is empty.
    if (!this.direct || handle === null || this.pending > 0 || socket.writableLength !== 0 || socket.writableCorked !== 0 || socket.writableEnded || socket.connecting || socket.destroyed) {
      return null;
    }
    return handle;
  }

  /** Writes `bytes`; false when they wait in a queue (backpressure: wait for a drain). */
  write(bytes: Buffer): boolean {
    const socket = this.socket;
    const handle = this.directHandle();
    if (handle === null) return socket.write(bytes);
    const { streamBaseState, kLastWriteWasAsync } = streamWrap!;
    const req = this.free ?? this.newRequest(handle);
    const err = handle.writeBuffer(req, bytes);
    if (err !== 0) {
      // EPIPE, ECONNRESET: the peer is gone. Closing the socket tells its owner (its 'close').
      // (The request is not used again: the native side may have bound it before failing.)
      this.free = null;
      socket.destroy();
      return false;
    }
    // The kernel took every byte: the request was not touched (see newRequest); it serves the next write.
    if (streamBaseState[kLastWriteWasAsync] === 0) return true;
    // libuv queued the rest: the request is bound to the native write until it completes. It is
    // never used again (the next direct write, after onComplete, takes a new one), and it keeps
    // the bytes alive while libuv may still send from them (as Node's own writes do).
    this.free = null;
    req.buffer = bytes;
    this.pending++;
    return false;
  }

  /**
   * Writes `head` and then buf[at, end) as one write (one writev); false when some wait in a queue
   * (backpressure). `buf` may be a view of the shared read buffer (io/read.ts), valid only until
   * its read is handled: only the bytes the kernel does not take at once are copied (into one
   * new buffer, queued as `write` queues).
   *
   * Why not the handle's writev: when the kernel does not take every byte, libuv queues the rest
   * where it lies, in the shared buffer, which the next read of any socket overwrites, and it
   * does not say how much it took. So the bytes are offered to the socket's file descriptor
   * with a synchronous writev, as libuv's own uv_try_write does (the socket is non-blocking: the
   * kernel takes what fits, and libuv's fs write says how much); only when nothing is queued on the
   * handle (as for a direct write), so that bytes still leave in the order they were written.
   * Elsewhere (TLS, a queue, no descriptor) both parts go through the stream, corked into one
   * write, the body copied out of the shared buffer.
   */
  writeWith(head: Buffer, buf: Buffer, at: number, end: number): boolean {
    const socket = this.socket;
    const handle = this.directHandle();
    if (handle === null || handle.fd < 0) {
      socket.cork();
      socket.write(head);
      const whole = socket.write(ownBytes(buf, at, end));
      socket.uncork();
      return whole;
    }
    const body = Buffer.from(buf.buffer, buf.byteOffset + at, end - at);
    let taken: number;
    try {
      taken = fs.writevSync(handle.fd, [head, body]);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') {
        // EPIPE, ECONNRESET: the peer is gone. Closing the socket tells its owner (its 'close').
        socket.destroy();
        return false;
      }
      taken = 0; // the kernel's buffer is full: everything waits
    }
    const total = head.length + body.length;
    if (taken === total) return true;
    const rest = Buffer.allocUnsafe(total - taken);
    if (taken < head.length) {
      head.copy(rest, 0, taken);
      body.copy(rest, head.length - taken);
    } else {
      body.copy(rest, 0, taken - head.length);
    }
    return this.write(rest);
  }

  /**
   * A write request, as Node's net.js makes one per write (createWriteWrap in
   * internal/stream_base_commons.js), kept for the writes after it.
   *
   * Why one may serve many writes: StreamBase::Write (node/src/stream_base.cc) first offers the
   * bytes to the kernel (DoTryWrite, uv_try_write); when the kernel takes them all, or the write
   * fails there, it returns without touching the request object. Only when bytes remain does it
   * bind a native WriteWrap to the object (CreateWriteWrap: an internal field, checked to be
   * empty, so binding one object twice aborts the process) and queue them in libuv. So a request
   * whose writes all went out whole is, to the native side, as new as one just made; one whose
   * write was queued is dropped (`write`). Making one per write (a call into C++ and five
   * property stores) was a measurable share of every request (bench/NOTES.md, round 4).
   */
  private newRequest(handle: StreamHandle): WriteRequest {
    const req = new streamWrap!.WriteWrap();
    req.handle = handle;
    req.oncomplete = this.onComplete;
    req.buffer = null; // set when a write is queued: kept alive while libuv may still send from it
    req.async = false;
    req.bytes = 0;
    this.free = req;
    return req;
  }

  private readonly onComplete = (status: number): void => {
    this.pending--;
    if (status < 0) {
      this.socket.destroy();
      return;
    }
    this.onDrain();
  };
}
