// DirectWriter (src/io/direct-write.ts): writes go straight to the socket's handle when
// nothing is queued, through the stream otherwise; bytes stay in order, a write the kernel could
// not take whole is backpressure until it completes, and a dead peer closes the socket.
// writeWith: a head and a body from a buffer that is reused at once (the shared read buffer)
// leave in one write, and what the kernel does not take is copied before the buffer changes.

import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import t, { type Test } from 'tap';
import { DirectWriter } from '../src/io/direct-write.js';
import { socketPair } from './helpers/net.js';

/** A connected pair on 127.0.0.1: `near` is the server's side (paused until read), `far` the client's. */
const pair = (t: Test) => socketPair(t, { pauseOnConnect: true });

/** Everything `socket` receives until it ends. */
async function readAll(socket: net.Socket): Promise<Buffer> {
  const parts: Buffer[] = [];
  socket.on('data', (b: Buffer) => parts.push(b));
  await once(socket, 'end');
  return Buffer.concat(parts);
}

t.test('a write with nothing queued goes out at once and returns true', async (t) => {
  const { near, far } = await pair(t);
  const writer = new DirectWriter(near, () => t.fail('no drain expected'));
  const got = readAll(far);
  t.equal(writer.write(Buffer.from('hello ')), true);
  t.equal(near.writableLength, 0, 'nothing went through the stream');
  t.equal(writer.write(Buffer.from('world')), true);
  near.end();
  t.equal((await got).toString(), 'hello world');
});

t.test('a write the kernel cannot take whole is backpressure: drain when it completes; later writes stay in order', async (t) => {
  const { near, far } = await pair(t);
  let drains = 0;
  const writer = new DirectWriter(near, () => drains++);
  const big = Buffer.alloc(32 * 1024 * 1024, 'a');
  t.equal(writer.write(big), false, 'more than the socket buffers take');
  // While it is pending, writes go through the stream, behind it, and so does the end.
  t.equal(writer.write(Buffer.from('b')), true);
  near.cork();
  t.equal(writer.write(Buffer.from('c')), true, 'corked: through the stream');
  near.uncork();
  near.end();
  const got = await readAll(far);
  t.equal(got.length, big.length + 2);
  t.equal(got.subarray(big.length).toString(), 'bc', 'in the order written');
  t.equal(got.indexOf('b'), big.length);
  t.equal(drains, 1, 'one drain, for the direct write');
});

t.test('TLS sockets always write through their stream', async (t) => {
  const written: Buffer[] = [];
  const fake = { encrypted: true, write: (b: Buffer) => written.push(b) > 0 } as unknown as net.Socket;
  const writer = new DirectWriter(fake, () => {});
  t.equal(writer.write(Buffer.from('x')), true);
  t.equal(written.length, 1);
});

t.test('a write to a connection the peer reset closes the socket instead of throwing', async (t) => {
  const { near, far } = await pair(t);
  far.resetAndDestroy();
  await once(far, 'close');
  // The near side is paused, so it has not read the reset: the write itself meets it.
  let failed = false;
  const writer = new DirectWriter(near, () => {});
  for (let i = 0; i < 50 && !near.destroyed; i++) {
    failed = !writer.write(Buffer.from('x'));
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  t.ok(failed, 'the write failed');
  t.ok(near.destroyed, 'and the socket is closed');
});

t.test('a pending write that fails (the peer reset meanwhile) closes the socket', async (t) => {
  const { near, far } = await pair(t);
  const writer = new DirectWriter(near, () => t.fail('no drain after a failure'));
  t.equal(writer.write(Buffer.alloc(32 * 1024 * 1024)), false, 'pending');
  far.resetAndDestroy();
  await once(near, 'close');
  t.ok(near.destroyed);
});

t.test('one write request serves the writes the kernel takes whole; a queued write gets its own, and the bytes around it stay byte-exact', async (t) => {
  // Rounds of whole writes (one request for all of them), a write libuv queues (bound to that
  // request until it completes; the next direct write takes a new one), a write behind it through
  // the stream, and whole writes again after the drain: every byte arrives, in order.
  const { near, far } = await pair(t);
  let drains = 0;
  let resolveDrain: () => void = () => {};
  const writer = new DirectWriter(near, () => {
    drains++;
    resolveDrain();
  });
  const got = readAll(far);
  far.resume();
  const expected: Buffer[] = [];
  const send = (b: Buffer): boolean => {
    expected.push(b);
    return writer.write(b);
  };
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 50; i++) t.equal(send(Buffer.from(`round ${round} small ${i};`)), true);
    const drained = new Promise<void>((resolve) => (resolveDrain = resolve));
    const big = Buffer.alloc(16 * 1024 * 1024, 97 + round);
    t.equal(send(big), false, `round ${round}: the big write is queued`);
    // Behind it, through the stream, while the queued request is bound.
    t.equal(send(Buffer.from(`round ${round} behind;`)), true);
    await drained;
    // Wait for the write behind it too, so that the next round writes directly again.
    await new Promise((resolve) => near.write(Buffer.alloc(0), resolve));
    t.equal(near.writableLength, 0);
  }
  near.end();
  const bytes = await got;
  t.equal(drains, 3);
  t.ok(bytes.equals(Buffer.concat(expected)), 'every byte, in the order written');
});

/** Writes to `socket`'s descriptor until its kernel buffers (the peer does not read) take no more; returns how many bytes went. */
function fillKernel(socket: net.Socket): number {
  const fd = (socket as unknown as { _handle: { fd: number } })._handle.fd;
  const chunk = Buffer.alloc(64 * 1024, 'f');
  let sent = 0;
  for (;;) {
    try {
      sent += fs.writeSync(fd, chunk);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return sent;
      throw err;
    }
  }
}

t.test('writeWith: head and body in one write when the kernel takes them all, nothing queued', async (t) => {
  const { near, far } = await pair(t);
  const writer = new DirectWriter(near, () => t.fail('no drain expected'));
  const got = readAll(far);
  t.equal(writer.writeWith(Buffer.from('head '), Buffer.from('xxbodyyy'), 2, 6), true);
  t.equal(near.writableLength, 0, 'nothing went through the stream');
  near.end();
  t.equal((await got).toString(), 'head body');
});

t.test('writeWith: what the kernel does not take is copied, so the source may change at once; a write behind it waits its turn', async (t) => {
  const { near, far } = await pair(t);
  let drains = 0;
  const writer = new DirectWriter(near, () => drains++);
  const head = Buffer.from('HEAD\r\n');
  const source = Buffer.alloc(32 * 1024 * 1024);
  for (let i = 0; i < source.length; i += 4) source.writeUInt32LE(i, i);
  const expected = Buffer.concat([head, source.subarray(4, source.length - 4)]);
  t.equal(writer.writeWith(head, source, 4, source.length - 4), false, 'more than the socket buffers take');
  source.fill(0); // the shared read buffer would be overwritten by the next read
  // Pending: the next one goes through the stream (corked into one write), behind it. (Its
  // source is not in the shared read buffer: as with write(), the bytes are the caller's to keep.)
  t.equal(writer.writeWith(Buffer.from('more '), Buffer.from('xxtailxx'), 2, 6), true);
  near.end();
  const got = await readAll(far);
  t.ok(got.equals(Buffer.concat([expected, Buffer.from('more tail')])), 'every byte as it was when written, in order');
  t.equal(drains, 1);
});

t.test('writeWith: when the kernel takes nothing, head and body are copied and queued whole', async (t) => {
  const { near, far } = await pair(t);
  let drains = 0;
  const writer = new DirectWriter(near, () => drains++);
  const filled = fillKernel(near);
  const head = Buffer.from('HEAD\r\n');
  const source = Buffer.from('..body..');
  t.equal(writer.writeWith(head, source, 2, 6), false, 'queued');
  source.fill(0);
  head.fill(0);
  near.end();
  const got = await readAll(far);
  t.equal(got.length, filled + 10);
  t.equal(got.subarray(filled).toString(), 'HEAD\r\nbody');
  t.equal(drains, 1);
});

t.test('writeWith to a connection the peer reset closes the socket instead of throwing', async (t) => {
  const { near, far } = await pair(t);
  far.resetAndDestroy();
  await once(far, 'close');
  let failed = false;
  const writer = new DirectWriter(near, () => {});
  for (let i = 0; i < 50 && !near.destroyed; i++) {
    failed = !writer.writeWith(Buffer.from('h'), Buffer.from('b'), 0, 1);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  t.ok(failed, 'the write failed');
  t.ok(near.destroyed, 'and the socket is closed');
});
