// Several listeners, `redirect: https`, and the PROXY protocol both ways (interface.md, "Listeners,
// TLS and PROXY protocol"), on real sockets: a client that opens with a PROXY header is known by
// the header's address everywhere; one without a valid header is closed unanswered; send_proxy
// opens every backend connection (and health check) with a header a recorder backend shows.

import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import t, { type Test } from 'tap';
import { describeConfig } from '../src/config/check.js';
import { parseConfig } from '../src/config/load.js';
import { LOCAL_HEADER, proxyHeader } from '../src/http/proxy-header.js';
import { Logger } from '../src/log.js';
import { ProxyServer } from '../src/proxy/proxy-server.js';
import { selfSigned } from './helpers/certificate.js';
import { HOST, LogCapture, proxyTest, q, RawClient, request, waitFor, within, type Response } from './helpers/net.js';

const xff = (res: Response): string | undefined => {
  const raw = (res.json() as { rawHeaders: string[] }).rawHeaders;
  const at = raw.findIndex((h) => h.toLowerCase() === 'x-forwarded-for');
  return at < 0 ? undefined : raw[at + 1];
};
const V1 = (source: string, port = 56324) => Buffer.from(`PROXY TCP4 ${source} 198.51.100.1 ${port} 443\r\n`, 'latin1');

proxyTest(t, 'listen as a list: each listener serves; a redirect: https listener answers 308 to https:// + host + target', async (t, h) => {
  const backend = await h.backend('app');
  const proxy = await h.proxy(`listen:\n  - 127.0.0.1:0\n  - { address: 127.0.0.1:0, redirect: https }\nhealthcheck: { interval: 1m }\nservers: [${q(backend)}]\n`);
  t.equal(proxy.ports.length, 2);
  const plain = await h.client(proxy.ports[0]!);
  t.equal((await plain.get('/')).status, 200, 'the first listener routes');
  const redirecting = await h.client(proxy.ports[1]!);
  const res = await redirecting.get('/a/b?c=1', 'Shop.Test:8080');
  t.equal(res.status, 308);
  t.equal(res.header('location'), 'https://shop.test/a/b?c=1', 'the host without its port, then the target');
  t.equal(res.header('content-length'), '0');
  const head = await redirecting.send(request('HEAD', '/x', { host: 'shop.test' }), { head: true });
  t.equal(head.header('location'), 'https://shop.test/x', 'the connection stays open; HEAD too');
  const closing = await h.client(proxy.ports[1]!);
  const last = await closing.send(request('GET', '/', { host: 'shop.test', headers: [['Connection', 'close']] }));
  t.same([last.status, last.header('connection')], [308, 'close'], 'Connection: close is kept');
  // An absolute-form target: the path goes after the authority's host.
  t.equal((await redirecting.send(request('GET', 'http://shop.test:80/p?q', { host: 'shop.test' }))).header('location'), 'https://shop.test/p?q');
  await proxy.log.waitFor('HTTPS_REDIRECT');
  t.match(proxy.log.matching('"GET /a/b?c=1 HTTP/1.1" 308')[0], /" 308 \d+ "-" "-" shop\.test .* HTTPS_REDIRECT$/, 'logged like any response of our own');
  t.equal(proxy.server.unrouted.fromBalancer.get('HTTPS_REDIRECT'), 4, 'and counted, with no pool');
  t.equal(backend.requests, 1, 'no redirected request reached a backend');
  // HTTP/1.0 without Host: no name to send the client to.
  const old = await h.client(proxy.ports[1]!);
  t.equal((await old.send(request('GET', '/', { host: null, version: 'HTTP/1.0' }))).status, 400);
});

proxyTest(t, 'proxy_protocol: the header\'s source is the client (X-Forwarded-For, the access log), v1 and v2, split anywhere', async (t, h) => {
  const backend = await h.backend('app');
  const proxy = await h.proxy(`listen:\n  - { address: 127.0.0.1:0, proxy_protocol: true }\n  - 127.0.0.1:0\nhealthcheck: { interval: 1m }\nservers: [${q(backend)}]\n`);
  const v1 = await h.client(proxy);
  await v1.write(Buffer.concat([V1('192.0.2.7'), request('GET', '/headers')]));
  t.equal(xff(await v1.read()), '192.0.2.7', 'v1 and the request in one write');
  t.equal(xff(await v1.get('/headers')), '192.0.2.7', 'the next request on the connection: the same client');
  await proxy.log.waitFor('192.0.2.7 - - [');

  const v2 = await h.client(proxy);
  await v2.writeInPieces(Buffer.concat([proxyHeader(2, '2001:db8::7', 1234, '2001:db8::1', 80), request('GET', '/headers')]), [1, 2, 5]);
  t.equal(xff(await v2.read()), '2001:db8::7', 'v2, IPv6, written a few bytes at a time');

  const local = await h.client(proxy);
  await local.write(LOCAL_HEADER[2]);
  t.equal(xff(await local.get('/headers')), HOST, 'LOCAL: the connection\'s own peer');
  const unknown = await h.client(proxy);
  await unknown.write(LOCAL_HEADER[1]);
  t.equal(xff(await unknown.get('/headers')), HOST, 'UNKNOWN: the same');

  const plain = await h.client(proxy.ports[1]!);
  t.equal(xff(await plain.get('/headers')), HOST, 'the other listener reads no header');
}, { alive: false });

proxyTest(t, 'proxy_protocol: no valid header, no answer: closed at once on bytes that cannot begin one, else at timeouts.header', async (t, h) => {
  const backend = await h.backend('app');
  const proxy = await h.proxy(`listen: { address: 127.0.0.1:0, proxy_protocol: true }\ntimeouts: { header: 300ms }\nhealthcheck: { interval: 1m }\nservers: [${q(backend)}]\n`);
  const http = await h.client(proxy);
  await http.write(request('GET', '/'));
  t.equal((await http.waitEnd(1000)).length, 0, 'a plain request: closed, nothing sent');
  await proxy.log.waitFor('not a PROXY header: NOT_PROXY at byte 0');
  const slow = await h.client(proxy);
  await slow.write('PROXY TCP4 192.0.2.7');
  t.equal((await slow.waitEnd(2000)).length, 0, 'half a header: closed at timeouts.header');
  await proxy.log.waitFor('no complete PROXY header within timeouts.header (300 ms)');
  const silent = await h.client(proxy);
  t.equal((await silent.waitEnd(2000)).length, 0, 'nothing at all: the same');
  const gone = await h.client(proxy);
  await gone.write('PROXY ');
  gone.socket.end();
  await gone.waitEnd(1000);
  t.equal(backend.requests, 0);
}, { alive: false });

proxyTest(t, 'proxy_protocol with trusted_proxies: only those peers may connect', async (t, h) => {
  const backend = await h.backend('app');
  const refused = await h.proxy(`listen: { address: 127.0.0.1:0, proxy_protocol: true }\ntrusted_proxies: [10.0.0.0/8]\nhealthcheck: { interval: 1m }\nservers: [${q(backend)}]\n`);
  const client = await h.client(refused);
  t.equal((await client.waitEnd(1000)).length, 0, 'a peer outside the list is closed at once');
  await refused.log.waitFor(`PROXY listener: ${HOST} is not in trusted_proxies, closed`);
  const allowed = await h.proxy(`listen: { address: 127.0.0.1:0, proxy_protocol: true }\ntrusted_proxies: [127.0.0.0/8]\nhealthcheck: { interval: 1m }\nservers: [${q(backend)}]\n`);
  const ok = await h.client(allowed);
  await ok.write(V1('192.0.2.9'));
  t.equal(xff(await ok.get('/headers')), '192.0.2.9', 'a listed peer: its header counts');
}, { alive: false });

proxyTest(t, 'proxy_protocol before TLS: the header in clear, then the handshake, then HTTPS', async (t, h) => {
  const dir = t.testdir({});
  const { cert, key } = selfSigned(dir);
  const backend = await h.backend('app');
  const proxy = await h.proxy(`listen:\n  - { address: 127.0.0.1:0, proxy_protocol: true, tls: { cert: c.pem, key: k.pem } }\nhealthcheck: { interval: 1m }\nservers: [${q(backend)}]\n`, {
    configure: (c) => (c.listen[0]!.tls = { certs: [{ cert, key }], minVersion: 'TLSv1.2' }),
  });
  const ask = async (header: Buffer): Promise<string> => {
    const raw = net.connect(proxy.port, HOST);
    await within(new Promise((resolve) => raw.once('connect', resolve)), 'connect');
    raw.write(header);
    const secure = tls.connect({ socket: raw, ca: readFileSync(cert), servername: 'localhost', checkServerIdentity: () => undefined });
    await within(new Promise((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject)), 'the TLS handshake');
    secure.write(request('GET', '/headers', { headers: [['Connection', 'close']] }));
    const chunks: Buffer[] = [];
    secure.on('data', (c: Buffer) => chunks.push(c));
    await within(new Promise((resolve) => secure.once('end', resolve)), 'the response');
    secure.destroy();
    return Buffer.concat(chunks).toString('latin1');
  };
  const text = await ask(V1('192.0.2.44'));
  t.match(text, /^HTTP\/1\.1 200/);
  t.match(text, /"x-forwarded-for","192\.0\.2\.44"/i);
  t.match(text, /"x-forwarded-proto","https"/i);
  // A handshake that fails after a good header concerns that client only.
  const raw = await h.client(proxy);
  await raw.write(Buffer.concat([V1('192.0.2.45'), Buffer.from('not TLS at all\r\n\r\n')]));
  await raw.waitEnd(2000);
  await proxy.log.waitFor('TLS handshake:');
}, { alive: false });

proxyTest(t, 'proxy_protocol before TLS with two certificates: the one the client names, after the header', async (t, h) => {
  const dir = t.testdir({});
  const a = selfSigned(dir, { name: 'a', names: ['a.test'] });
  const b = selfSigned(dir, { name: 'b', names: ['b.test'] });
  const backend = await h.backend('app');
  const proxy = await h.proxy(`listen:\n  - { address: 127.0.0.1:0, proxy_protocol: true, tls: { certs: [{cert: a, key: a}, {cert: b, key: b}] } }\nhealthcheck: { interval: 1m }\nservers: [${q(backend)}]\n`, {
    configure: (c) => (c.listen[0]!.tls = { certs: [a, b], minVersion: 'TLSv1.2' }),
  });
  const namesFor = async (servername: string): Promise<string> => {
    const raw = net.connect(proxy.port, HOST);
    await within(new Promise((resolve) => raw.once('connect', resolve)), 'connect');
    raw.write(V1('192.0.2.46'));
    const secure = tls.connect({ socket: raw, servername, rejectUnauthorized: false });
    await within(new Promise((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject)), 'the TLS handshake');
    const names = secure.getPeerCertificate().subjectaltname ?? '';
    secure.destroy();
    return names;
  };
  t.match(await namesFor('b.test'), /DNS:b\.test/, 'the second certificate, by its name');
  t.match(await namesFor('other.test'), /DNS:a\.test/, 'the first for any other name');
  t.match(await namesFor('localhost'), /DNS:a\.test/, 'and for a name of one label');
}, { alive: false });

/** A backend that records each connection's bytes and answers every request head 200 (checks included). */
async function recorder(t: Test): Promise<{ port: number; connections: Buffer[][] }> {
  const connections: Buffer[][] = [];
  const server = net.createServer((socket) => {
    const got: Buffer[] = [];
    connections.push(got);
    socket.on('error', () => {});
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      got.push(chunk);
      text += chunk.toString('latin1');
      for (let end = text.indexOf('\r\n\r\n'); end >= 0; end = text.indexOf('\r\n\r\n')) {
        text = text.slice(end + 4);
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as net.AddressInfo).port, connections };
}

proxyTest(t, 'send_proxy: a header with the client opens every backend connection, which carries that one request', async (t, h) => {
  const v1 = await recorder(t);
  const v2 = await recorder(t);
  const proxy = await h.proxy(
    `listen:\n  - { address: 127.0.0.1:0, proxy_protocol: true }\n  - 127.0.0.1:0\nhealthcheck: { type: none }\nsend_proxy: v1\n` +
      `paths:\n  - path: /two\n    send_proxy: v2\n    servers: ["${HOST}:${v2.port}"]\nservers: ["${HOST}:${v1.port}"]\n`,
  );
  const proxied = await h.client(proxy);
  await proxied.write(V1('192.0.2.7', 40000));
  t.equal((await proxied.get('/one')).status, 200);
  t.equal((await proxied.get('/one')).status, 200);
  t.equal(v1.connections.length, 2, 'not pooled: a new connection for the second request');
  for (const got of v1.connections) t.match(Buffer.concat(got).toString('latin1'), /^PROXY TCP4 192\.0\.2\.7 198\.51\.100\.1 40000 443\r\nGET \/one HTTP\/1\.1\r\n/);
  const direct = await h.client(proxy.ports[1]!);
  t.equal((await direct.get('/two')).status, 200);
  const got = Buffer.concat(v2.connections[0]!);
  const expected = proxyHeader(2, HOST, direct.socket.localPort!, HOST, proxy.ports[1]!);
  t.same(got.subarray(0, expected.length), expected, 'v2, from the socket: the client\'s port, the listener\'s address');
  t.match(got.subarray(expected.length).toString('latin1'), /^GET \/two HTTP\/1\.1\r\n/);
  await waitFor('both connections closed after their response', () => proxy.server.servers.every((s) => s.idle.length === 0));
}, { alive: false });

proxyTest(t, 'send_proxy: health checks open with v1 UNKNOWN or v2 LOCAL', async (t, h) => {
  const v1 = await recorder(t);
  const v2 = await recorder(t);
  const proxy = await h.proxy(
    `healthcheck: { interval: 1m }\nsend_proxy: v2\nhosts:\n  - host: one.test\n    send_proxy: v1\n    servers: ["${HOST}:${v1.port}"]\n` +
      `  - host: tcp.test\n    healthcheck: { type: tcp }\n    servers: ["${HOST}:${v2.port}"]\n`,
  );
  await waitFor('a check of each', () => v1.connections.length > 0 && v2.connections.length > 0 && v1.connections[0]!.length > 0 && v2.connections[0]!.length > 0);
  t.match(Buffer.concat(v1.connections[0]!).toString('latin1'), /^PROXY UNKNOWN\r\nGET \/healthcheck HTTP\/1\.1\r\n/);
  t.same(Buffer.concat(v2.connections[0]!).subarray(0, 16), LOCAL_HEADER[2], 'a TCP check sends its header too');
  t.ok(proxy.server.servers.every((s) => s.up));
}, { alive: false });

t.test('proxyHeader: mixed families are written as IPv6; a name that is not an IP gives the no-client header', async (t) => {
  t.equal(proxyHeader(1, '192.0.2.7', 1, '::1', 2).toString('latin1'), 'PROXY TCP6 ::ffff:192.0.2.7 ::1 1 2\r\n');
  t.equal(proxyHeader(1, '::1', 1, '192.0.2.7', 2).toString('latin1'), 'PROXY TCP6 ::1 ::ffff:192.0.2.7 1 2\r\n');
  t.equal(proxyHeader(1, 'fe80::1%eth0', 1, '::1', 2), LOCAL_HEADER[1]);
  t.equal(proxyHeader(2, '', 0, '', 0), LOCAL_HEADER[2]);
  t.equal(proxyHeader(2, '10.0.0.1', 1, '10.0.0.2', 2).length, 28);
});

t.test('config: listen lists and their options, each named by --check; mistakes at their line', async (t) => {
  const config = parseConfig(
    'listen:\n  - 80\n  - { address: "[::1]:443", redirect: https, proxy_protocol: true }\n  - { address: 127.0.0.1:8443, tls: { cert: c.pem, key: k.pem }, proxy_protocol: true }\n' +
      'send_proxy: v2\nservers: [a:1]\n',
    '/etc/lb/lb.yaml',
  );
  t.strictSame(config.listen.map((l) => [l.host, l.port, l.redirect, l.proxyProtocol, l.tls === null]), [
    ['', 80, false, false, true],
    ['::1', 443, true, true, true],
    ['127.0.0.1', 8443, false, true, false],
  ]);
  t.equal(config.servers!.balancing.sendProxy, 2);
  const summary = describeConfig(config);
  t.match(summary, /^listen {7}\*:80 \(all interfaces\)\nlisten {7}\[::1\]:443, redirects to https, PROXY protocol\nlisten {7}127\.0\.0\.1:8443, TLS with \/etc\/lb\/c\.pem, PROXY protocol\n/);
  t.match(summary, /default +\(requests not matched above\), send_proxy v2/);
  t.strictSame(parseConfig('listen: { proxy_protocol: true }\nservers: [a:1]\n', 'lb.yaml').listen, [{ host: '127.0.0.1', port: 8080, tls: null, redirect: false, proxyProtocol: true }], 'the default address');
  const fails = (yaml: string, message: string) => t.throws(() => parseConfig(yaml, 'lb.yaml'), { message }, message);
  fails('listen: []\nservers: [a:1]\n', 'lb.yaml:1:9: listen: the list is empty: at least one listener is needed, e.g. "127.0.0.1:8080"');
  fails('listen:\n  - 80\n  - "*:80"\nservers: [a:1]\n', 'lb.yaml:3:5: listen[1]: *:80 (all interfaces) is listen[0] already');
  fails('listen:\n  - 80\n  - { address: 81, redirect: http }\nservers: [a:1]\n', 'lb.yaml:3:30: listen[1].redirect: expected https (answer every request with a redirect to https://)');
  fails('listen:\n  - 80\n  - { address: 81, redirect: [https] }\nservers: [a:1]\n', 'lb.yaml:3:30: listen[1].redirect: expected https (answer every request with a redirect to https://)');
  fails('listen: { proxy_protocol: yes }\nservers: [a:1]\n', 'lb.yaml:1:27: listen.proxy_protocol: expected true or false');
  fails('listen: [{ adress: 80 }]\nservers: [a:1]\n', 'lb.yaml:1:12: listen[0]: unknown key "adress" (did you mean "address"?)');
  fails('send_proxy: v3\nservers: [a:1]\n', 'lb.yaml:1:13: send_proxy: expected v1 or v2 (the PROXY protocol version to send)');
  fails('servers: [a:1]\npaths:\n  - path: /x\n    send_proxy: 2\n    servers: [a:1]\n', 'lb.yaml:4:17: paths[0].send_proxy: expected v1 or v2 (the PROXY protocol version to send)');
  // Port 0 twice is two listeners on two ports the system picks.
  t.equal(parseConfig('listen: [0, 0]\nservers: [a:1]\n', 'lb.yaml').listen.length, 2);
});

t.test('a reload keeps the listeners, and says so when the file asks for others', async (t) => {
  const log = new LogCapture('debug');
  const config = (listen: string) => parseConfig(`listen:\n${listen}healthcheck: { type: none }\nservers: ["${HOST}:1"]\n`, 'lb.yaml');
  const server = new ProxyServer(config('  - 127.0.0.1:0\n  - 127.0.0.1:0\n'), log.logger);
  const ports = (await server.listen()).map((a) => a.port);
  t.teardown(() => server.close());
  await server.reload(config('  - 127.0.0.1:0\n  - 127.0.0.1:0\n'));
  t.equal(log.matching('reload:').length, 0, 'the same listeners: nothing to say');
  await server.reload(config('  - 127.0.0.1:0\n'));
  t.equal(log.matching('reload: listen stays 127.0.0.1:0, 127.0.0.1:0; a new address needs a restart').length, 1);
  await server.reload(config('  - 127.0.0.1:0\n  - { address: 127.0.0.1:0, proxy_protocol: true }\n'));
  t.equal(log.matching('reload: the listeners stay as they were (127.0.0.1:0; 127.0.0.1:0); tls, redirect and proxy_protocol changes need a restart').length, 1);
  for (const port of ports) {
    const client = await RawClient.connect(port);
    t.equal((await client.send(request('GET', '/', { headers: [['Connection', 'close']] }))).status, 503, `still serving on ${port}, plain HTTP`);
    client.destroy();
  }
});

t.test('a listener that cannot bind: those bound already are let go, and the start fails', async (t) => {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, HOST, resolve));
  t.teardown(() => taken.close());
  const port = (taken.address() as net.AddressInfo).port;
  const server = new ProxyServer(parseConfig(`listen: [127.0.0.1:0, 127.0.0.1:${port}]\nservers: ["${HOST}:1"]\n`, 'lb.yaml'), new Logger('silent'));
  await t.rejects(server.listen(), { message: `listen address 127.0.0.1:${port} is in use (EADDRINUSE)` });
  t.equal(server['listeners'][0]!.listening, false, 'the first listener is closed again');
});
