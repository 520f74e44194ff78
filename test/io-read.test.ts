// readInto and bytesRead (src/io/read.ts): a socket read into the shared buffer by a
// read handler of our own hands every read to its connection as a Buffer, stops reading when
// paused, changes buffers when asked, and still ends and fails as Node's sockets do.

import { once } from 'node:events';
import net from 'node:net';
import t, { type Test } from 'tap';
import { bytesRead, inReadBuffer, READ_BUFFER, READ_SIZE, readInto, type Reader } from '../src/io/read.js';
import { socketPair, waitFor, waitStalled, within } from './helpers/net.js';

/** A reader of the shared buffer (unless `streaming` says otherwise) that hands reads to `onData`. */
function reader(onData: (chunk: Buffer) => void, streaming: () => boolean = () => false): Reader {
  return { streaming, onData };
}

/** A connected pair on 127.0.0.1: `near` was accepted (read with readInto in the test), `far` connected. */
const pair = (t: Test, setUp: (near: net.Socket) => void) => socketPair(t, { allowHalfOpen: true }, setUp);

t.test('views of the read buffer are reused by length and show what the last read put there', async (t) => {
  READ_BUFFER.write('first read', 0, 'latin1');
  const a = bytesRead(READ_BUFFER, 5);
  t.equal(a.toString(), 'first');
  t.ok(inReadBuffer(a));
  READ_BUFFER.write('later', 0, 'latin1');
  const b = bytesRead(READ_BUFFER, 5);
  t.equal(b, a, 'the same view for the same length');
  t.equal(b.toString(), 'later', 'showing the bytes of the later read');
  const c = bytesRead(READ_BUFFER, 5 + 256);
  t.not(c, a, 'a length in the same slot gets a view of its own');
  t.equal(c.length, 261);
  t.equal(bytesRead(READ_BUFFER, 5).length, 5, 'and the slot follows the last length asked');
});

t.test('a buffer of its own: whole when the read filled it, else a view of its start', async (t) => {
  const own = Buffer.alloc(8, 'x');
  t.equal(bytesRead(own, 8), own);
  const part = bytesRead(own, 3);
  t.equal(part.length, 3);
  t.equal(part.buffer, own.buffer);
  t.notOk(inReadBuffer(part));
});

t.test('reads reach onData in order, into the buffers asked for; pause() stops them, resume() goes on', async (t) => {
  const got: string[] = [];
  const own: Buffer[] = [];
  let useOwn = false;
  const onData = (chunk: Buffer) => {
    got.push(`${inReadBuffer(chunk) ? 'shared' : 'own'}:${chunk.toString()}`);
    if (!inReadBuffer(chunk)) own.push(chunk);
  };
  const { near, far } = await pair(t, (near) => {
    t.ok(readInto(near, reader(onData, () => useOwn)));
  });
  far.write('one');
  await waitFor('the first read', () => got.length === 1);
  useOwn = true;
  far.write('two');
  await waitFor('the second read', () => got.length === 2);
  useOwn = false;
  far.write('three');
  await waitFor('the third read', () => got.length === 3);
  t.same(got, ['shared:one', 'shared:two', 'own:three'], 'a new buffer takes effect from the read after the one that asked for it');
  t.equal(own.length, 1);
  t.equal(own[0]!.buffer.byteLength >= READ_SIZE, true, 'a whole read buffer of its own');
  t.not(own[0]!.buffer, READ_BUFFER.buffer, 'not the shared one');

  // Paused, nothing is read: what the far side sends waits in the kernel, then in its own queue.
  near.pause();
  let received = 0;
  const big = Buffer.alloc(16 * 1024 * 1024, 'b');
  far.write(big);
  const before = got.length;
  const stalled = await waitStalled('the far side to be held back', () => got.length, () => far.writableLength > 0);
  t.equal(stalled, before, 'no read while paused');
  near.resume();
  await waitFor('the rest after resume', () => {
    received = got.slice(before).reduce((n, s) => n + s.length - 'shared:'.length, 0);
    return received === big.length;
  });
  t.ok(got.slice(before).every((s) => s.startsWith('shared:b') && /^shared:b+$/.test(s)), 'every byte as sent');
});

t.test("the end of the stream and errors still go through Node's handler: 'end', 'error', 'close'", async (t) => {
  const got: Buffer[] = [];
  const { near, far } = await pair(t, (near) => {
    t.ok(readInto(near, reader((chunk) => got.push(Buffer.from(chunk)))));
  });
  far.end('last words');
  await within(once(near, 'end'), "the near side's 'end'");
  t.equal(Buffer.concat(got).toString(), 'last words');
  near.end();
  await within(once(near, 'close'), "the near side's 'close'");

  const second = await pair(t, (near) => {
    t.ok(readInto(near, reader(() => {})));
  });
  const failed = once(second.near, 'error') as Promise<[NodeJS.ErrnoException]>;
  second.far.resetAndDestroy();
  const [err] = await within(failed, "the near side's 'error'");
  t.equal(err.code, 'ECONNRESET');
});

t.test('a socket that cannot be read this way is left as it was', async (t) => {
  const tlsLike = new net.Socket() as net.Socket & { encrypted?: boolean };
  t.equal(readInto(tlsLike, reader(() => {})), false, 'no handle yet');
  const { near } = await pair(t, () => {});
  (near as net.Socket & { encrypted?: boolean }).encrypted = true;
  t.equal(readInto(near, reader(() => t.fail('not read into'))), false, 'TLS');
});
