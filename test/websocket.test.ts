// Upgrade (RFC 9110 7.8) through the proxy: a WebSocket handshake is forwarded with its upgrade
// fields, and after the backend's 101 both connections become one tunnel until either closes.

import { createHash } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import t, { type Test } from 'tap';
import { statusOf } from '../src/admin/status.js';
import { HOST, proxyTest, waitFor, type Harness } from './helpers/net.js';

/** The Sec-WebSocket-Accept for a key (RFC 6455 4.2.2). */
const accept = (key: string) => createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');

/** A backend that completes WebSocket handshakes and echoes every byte it gets after them. */
async function echoBackend(t: Test) {
  const seen: { headers: http.IncomingHttpHeaders }[] = [];
  const sockets: net.Socket[] = [];
  const server = http.createServer((req, res) => {
    if (req.url === '/healthcheck') return res.end('OK');
    res.end('plain');
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    seen.push({ headers: req.headers });
    sockets.push(socket);
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${accept(String(req.headers['sec-websocket-key']))}\r\n\r\n`,
    );
    if (head.length > 0) socket.write(head);
    socket.on('data', (d) => socket.write(d));
    socket.on('end', () => socket.end());
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return { server, seen, sockets, address: `${HOST}:${(server.address() as net.AddressInfo).port}` };
}

/** An echo backend and a proxy in front of it. */
async function echoThroughProxy(t: Test, h: Harness) {
  const backend = await echoBackend(t);
  const proxy = await h.proxy(`
healthcheck: { interval: 1m }
servers: ["${backend.address}"]
`);
  return { backend, proxy };
}

const handshake = (key: string, extra = '') =>
  `GET /chat HTTP/1.1\r\nHost: ws.test\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n` +
  `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n${extra}\r\n`;

proxyTest(t, 'a WebSocket handshake is forwarded, the 101 relayed, then bytes echo both ways', async (t, h) => {
  const { backend, proxy } = await echoThroughProxy(t, h);
  const client = await h.client(proxy);
  const key = 'dGhlIHNhbXBsZSBub25jZQ==';
  const res = await client.send(Buffer.from(handshake(key)));
  const switched = Date.now();
  t.equal(res.status, 101);
  t.equal(res.header('upgrade'), 'websocket');
  t.equal(res.header('connection'), 'upgrade');
  t.equal(res.header('sec-websocket-accept'), accept(key));
  t.equal(backend.seen[0]!.headers.upgrade, 'websocket', 'the backend got Upgrade');
  t.equal(backend.seen[0]!.headers.connection, 'upgrade', 'and Connection: upgrade, our own');
  t.equal(backend.seen[0]!.headers['x-forwarded-for'], HOST);

  // Frames are opaque to the proxy: any bytes, in any pieces, come back the same.
  const payload = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) & 0xff));
  await client.write(payload);
  await waitFor('the echo', () => client.unread >= payload.length);
  const echoed = client.takeAll();
  t.ok(echoed.equals(payload), 'the tunnel passes bytes unchanged both ways');
  t.same(proxy.log.matching('"GET /chat HTTP/1.1"'), [], 'no access line while the tunnel is open');

  // The tunnel was open from before the 101 reached the client until after the client ended it
  // (when the client sees the end is later, by however long this process takes to get to it).
  const open = Date.now() - switched;
  client.end();
  await client.waitEnd();
  await waitFor('the access line', () => proxy.log.matching('"GET /chat HTTP/1.1" 101 ').length === 1);
  // Written when the tunnel ended: every byte passed to the client over its life, the whole duration.
  const [, bytes, ms] = /" 101 (\d+) "-" "-" ws\.test \S+ [0-9a-f]{32} (\d+)ms -$/.exec(proxy.log.matching('"GET /chat HTTP/1.1" 101 ')[0]!)!;
  t.equal(Number(bytes), client.bytesReceived, `${bytes} bytes: the 101's head and the ${payload.length} echoed`);
  t.ok(Number(ms) + 2 >= open, `${ms} ms, at least the ${open} ms the tunnel was open`);
  const status = statusOf(proxy.server, 0, Date.now());
  t.match(status.responses, [{ pool: 'default', status: 101, code: '', source: 'server', count: 1 }], 'counted as a server\'s 101');
});

proxyTest(t, 'bytes the client sends right behind its handshake reach the backend after the 101', async (t, h) => {
  const { proxy } = await echoThroughProxy(t, h);
  const client = await h.client(proxy);
  await client.write(handshake('a2V5') + 'early bytes');
  const res = await client.read();
  t.equal(res.status, 101);
  await waitFor('the early bytes, echoed', () => client.unread >= 'early bytes'.length);
  t.equal(client.takeAll().toString(), 'early bytes');
});

proxyTest(t, 'Upgrade without Connection: upgrade, or on HTTP/1.0, is not a switch: a plain request', async (t, h) => {
  const { backend, proxy } = await echoThroughProxy(t, h);
  const client = await h.client(proxy);
  const res = await client.send(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n'));
  t.same([res.status, res.text()], [200, 'plain']);
  const old = await h.client(proxy);
  const res10 = await old.send(Buffer.from('GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n'));
  t.same([res10.status, res10.text()], [200, 'plain']);
  t.equal(backend.seen.length, 0, 'the backend saw no upgrade');
});

proxyTest(t, 'a backend that refuses the upgrade answers normally and the connection goes on', async (t, h) => {
  const backend = await echoBackend(t);
  backend.server.removeAllListeners('upgrade');
  backend.server.on('upgrade', (_req: http.IncomingMessage, socket: net.Socket) => {
    socket.end('HTTP/1.1 426 Upgrade Required\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope');
  });
  const proxy = await h.proxy(`
healthcheck: { interval: 1m }
servers: ["${backend.address}"]
`);
  const client = await h.client(proxy);
  const res = await client.send(Buffer.from(handshake('eA==')));
  t.same([res.status, res.text()], [426, 'nope']);
  t.equal((await client.get('/', 'a')).text(), 'plain', 'the client connection is still usable');
});

proxyTest(t, 'the backend closing the tunnel closes the client connection: gracefully, or with a reset', async (t, h) => {
  const { backend, proxy } = await echoThroughProxy(t, h);
  for (const [how, end] of [
    ['a graceful close (FIN)', (s: net.Socket) => s.end()],
    ['a reset (RST)', (s: net.Socket) => s.resetAndDestroy()],
  ] as const) {
    const client = await h.client(proxy);
    const before = backend.sockets.length;
    t.equal((await client.send(Buffer.from(handshake('eQ==')))).status, 101);
    await waitFor('the backend socket', () => backend.sockets.length === before + 1);
    end(backend.sockets[before]!);
    await client.waitEnd();
    t.pass(`${how} of the backend ends the client connection`);
  }
});

proxyTest(t, 'backpressure in the tunnel, both ways: 32 MiB each way arrive whole while the other side is slow', async (t, h) => {
  const size = 32 * 1024 * 1024;
  let backendSocket: net.Socket | null = null;
  let received = 0;
  const server = http.createServer((req, res) => res.end(req.url === '/healthcheck' ? 'OK' : 'plain'));
  server.on('upgrade', (_req: http.IncomingMessage, socket: net.Socket) => {
    backendSocket = socket;
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n');
    socket.pause(); // does not read until told: the proxy must hold the client back
    socket.on('data', (d: Buffer) => (received += d.length));
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  t.teardown(() => {
    (backendSocket as net.Socket | null)?.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  const proxy = await h.proxy(`
healthcheck: { interval: 1m }
servers: ["${HOST}:${(server.address() as net.AddressInfo).port}"]
`);
  const client = await h.client(proxy);
  const res = await client.send(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n'));
  t.equal(res.status, 101);

  // Client to backend: the backend does not read, so the proxy stops reading the client, and the
  // client's own queue stops shrinking.
  const up = Buffer.alloc(size, 1);
  client.socket.write(up);
  await settled('the client to be held back', () => client.socket.writableLength);
  t.ok(client.socket.writableLength > 0, `the client still holds ${client.socket.writableLength} bytes`);
  t.equal(received, 0, 'the backend read nothing yet');
  backendSocket!.resume();
  await waitFor('all 32 MiB at the backend', () => received === size, 20_000);

  // Backend to client: the client does not read, so the proxy stops reading the backend.
  client.pause();
  const down = Buffer.alloc(size, 2);
  backendSocket!.write(down);
  await settled('the backend to be held back', () => backendSocket!.writableLength);
  t.ok(backendSocket!.writableLength > 0, `the backend still holds ${backendSocket!.writableLength} bytes`);
  t.ok(client.unread < size, 'the client has not got it all');
  client.resume();
  await waitFor('all 32 MiB at the client', () => client.unread >= size, 20_000);
  t.ok(client.takeAll().equals(down), 'byte for byte');
});

/**
 * Resolves once `value()` has stayed the same for 20 checks 5 ms apart (the flow stopped);
 * bounded: fails after 10 s.
 */
async function settled(what: string, value: () => number): Promise<void> {
  let last = -1;
  let same = 0;
  await waitFor(what, () => {
    const v = value();
    same = v === last ? same + 1 : 0;
    last = v;
    return same >= 20;
  }, 10_000);
}
