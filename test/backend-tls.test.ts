// backend_tls: HTTPS to backends. Real node:https backends with certificates from a test CA made
// with openssl (one for 127.0.0.1 as an IP subjectAltName, one for the DNS name api.internal, one
// from another CA); requests, bodies, keep-alive, session resumption, failed certificate checks as
// refused connections, health checks over TLS, send_proxy before TLS, the config's errors, and the
// real program's warning for verify: false.

import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import t, { type Test } from 'tap';
import { describeConfig } from '../src/config/check.js';
import { parseConfig } from '../src/config/load.js';
import type { BackendTls } from '../src/config/schema.js';
import { probeHttp, probeTcp } from '../src/health/probe.js';
import { BackendTlsClient, backendTlsOptions, CONTEXTS_KEPT, rootsContext, trustedRoots } from '../src/proxy/backend-tls.js';
import { certificateAuthority, signedBy } from './helpers/certificate.js';
import { LB, lb } from './helpers/lb-process.js';
import { HOST, proxyTest, refusedPort, request, serverOf, sha256, waitFor, within, type Harness, type Proxy } from './helpers/net.js';

/** Starting the program is a process start and its modules: slow on a busy machine (test files run side by side). */
const STARTUP_MS = 30_000;

// The certificates, made once for the whole file.
const DIR = t.testdir({});
const AUTHORITY = certificateAuthority(DIR, 'good');
const OTHER_AUTHORITY = certificateAuthority(DIR, 'other');
/** For 127.0.0.1 (an IP subjectAltName only), signed by the good CA. */
const BY_IP = signedBy(AUTHORITY, DIR, 'by-ip', ['IP:127.0.0.1']);
/** For api.internal (a DNS name only), signed by the good CA. */
const BY_NAME = signedBy(AUTHORITY, DIR, 'by-name', ['DNS:api.internal']);
/** For 127.0.0.1, signed by a CA the balancer does not trust. */
const UNTRUSTED = signedBy(OTHER_AUTHORITY, DIR, 'untrusted', ['IP:127.0.0.1']);
const CA = AUTHORITY.ca;

/** A response body big enough to take many reads and TLS records. */
const BIG = randomBytes(3 * 1024 * 1024 + 17);

/** An HTTPS backend, and what it saw. */
interface TlsBackend {
  server: https.Server;
  port: number;
  /** "127.0.0.1:port" */
  address: string;
  /** Each TLS connection that carried a request other than a health check: whether it resumed a session, the SNI it got. */
  connections: { resumed: boolean; servername: string | false }[];
  /** Health check requests answered. */
  checks: number;
  /** PROXY header lines read (with `proxyProtocol`), health checks' included. */
  proxyLines: string[];
}

/**
 * An HTTPS backend on 127.0.0.1 with certificate `pair`: GET /healthcheck -> 200; POST /echo
 * answers the body it got, with its sha256 in X-Sha256; GET /big -> BIG; GET /close answers with
 * Connection: close; anything else -> "hello". `proxyProtocol`: every connection opens with a
 * PROXY v1 line in clear, before TLS.
 */
async function httpsBackend(t: Test, pair: { cert: string; key: string }, options: { maxVersion?: tls.SecureVersion; proxyProtocol?: boolean } = {}): Promise<TlsBackend> {
  const server = https.createServer({ cert: readFileSync(pair.cert), key: readFileSync(pair.key), ...(options.maxVersion === undefined ? {} : { maxVersion: options.maxVersion }) });
  const backend: TlsBackend = { server, port: 0, address: '', connections: [], checks: 0, proxyLines: [] };
  const seen = new WeakSet<object>();
  server.on('request', (req, res) => {
    if (req.url === '/healthcheck') {
      backend.checks++;
      res.end('OK');
      return;
    }
    const socket = req.socket as tls.TLSSocket;
    if (!seen.has(socket)) {
      seen.add(socket);
      backend.connections.push({ resumed: socket.isSessionReused(), servername: (socket as tls.TLSSocket & { servername: string | false }).servername });
    }
    if (req.url === '/echo') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        res.writeHead(200, { 'content-length': body.length, 'x-sha256': sha256(body) }).end(body);
      });
      return;
    }
    if (req.url === '/big') res.writeHead(200, { 'content-length': BIG.length }).end(BIG);
    else if (req.url === '/close') res.writeHead(200, { connection: 'close' }).end('closing');
    else res.end('hello');
  });
  server.on('tlsClientError', () => {});
  let listener: net.Server = server;
  if (options.proxyProtocol === true) {
    // The PROXY line comes in clear; the TLS server takes the connection after it.
    listener = net.createServer((raw) => {
      raw.on('error', () => {});
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n');
        if (end < 0) return;
        raw.off('data', onData);
        raw.pause();
        backend.proxyLines.push(head.toString('latin1', 0, end));
        raw.unshift(head.subarray(end + 2));
        server.emit('connection', raw);
      };
      raw.on('data', onData);
    });
  }
  await new Promise<void>((resolve) => listener.listen(0, HOST, resolve));
  backend.port = (listener.address() as net.AddressInfo).port;
  backend.address = `${HOST}:${backend.port}`;
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => listener.close(resolve));
  });
  return backend;
}

/** A request through the proxy on a connection of its own. */
async function send(h: Harness, proxy: Proxy, method: string, target: string, options: { host?: string; body?: Buffer } = {}) {
  const client = await h.client(proxy);
  return client.send(request(method, target, { host: options.host ?? 'test.local', ...(options.body === undefined ? {} : { body: options.body }) }));
}

proxyTest(t, 'HTTPS to a backend by IP address: bodies byte-exact both ways, one pooled TLS connection for many requests', async (t, h) => {
  const backend = await httpsBackend(t, BY_IP);
  const proxy = await h.proxy(`healthcheck: { interval: 1m }\nbackend_tls: { ca: ${CA} }\nservers: ["${backend.address}"]\n`);
  const client = await h.client(proxy);
  for (let i = 0; i < 3; i++) {
    const body = randomBytes(1024 * 1024 + i);
    const echo = await client.send(request('POST', '/echo', { body }));
    t.equal(echo.status, 200);
    t.equal(echo.header('x-sha256'), sha256(body), 'the backend got the request body byte for byte');
    t.equal(sha256(echo.body), sha256(body), 'and the client its response body');
    const big = await client.send(request('GET', '/big'));
    t.equal(sha256(big.body), sha256(BIG), 'a 3 MiB response body, byte for byte');
  }
  t.equal(backend.connections.length, 1, 'six requests over one TLS connection, kept in the pool between them');
  t.same(backend.connections[0], { resumed: false, servername: false }, 'no SNI for a server written as an IP address (RFC 6066)');
});

for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
  proxyTest(t, `${version}: a new connection resumes the server's last session`, async (t, h) => {
    const backend = await httpsBackend(t, BY_IP, { maxVersion: version });
    const proxy = await h.proxy(`healthcheck: { type: none }\nbackend_tls: { ca: ${CA} }\nservers: ["${backend.address}"]\n`);
    for (let i = 0; i < 3; i++) t.equal((await send(h, proxy, 'GET', '/close')).text(), 'closing');
    t.same(backend.connections.map((c) => c.resumed), [false, true, true], 'each connection after the first resumed (the backend closed each one)');
  });
}

for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
  t.test(`${version}: a connection whose certificate check failed leaves no session to resume (Node skips the name check on a resumed session)`, async (t) => {
    const backend = await httpsBackend(t, BY_IP, { maxVersion: version });
    const client = new BackendTlsClient({ ca: CA, caCerts: [readFileSync(CA, 'utf8')], serverName: 'other.internal', verify: true }, HOST);
    const attempt = (): Promise<string> =>
      new Promise((resolve) => {
        const socket = client.connect(HOST, backend.port, null);
        socket.once('secureConnect', () => {
          socket.destroy();
          resolve(`connected, resumed ${socket.isSessionReused()}`);
        });
        socket.once('error', (err: NodeJS.ErrnoException) => resolve(String(err.code)));
      });
    for (let i = 0; i < 3; i++) t.equal(await within(attempt(), 'a connection attempt'), 'ERR_TLS_CERT_ALTNAME_INVALID', `attempt ${i + 1} fails the name check`);
  });
}

proxyTest(t, 'a certificate from an untrusted CA: the connection counts as refused (the next server is used, the server goes down); none left: 503', async (t, h) => {
  const untrusted = await httpsBackend(t, UNTRUSTED);
  const good = await httpsBackend(t, BY_IP);
  const lone = await httpsBackend(t, UNTRUSTED);
  const refused = await refusedPort();
  const proxy = await h.proxy(
    `healthcheck: { type: none }\nbackend_tls: { ca: ${CA} }\n` +
      `hosts:\n  - host: two.test\n    servers: ["${untrusted.address}", "${HOST}:${refused}", "${good.address}"]\n` +
      `servers: ["${lone.address}"]\n`,
  );
  for (let i = 0; i < 3; i++) {
    const res = await send(h, proxy, 'GET', '/', { host: 'two.test' });
    t.same([res.status, res.text()], [200, 'hello'], 'served by the good server');
  }
  t.equal(serverOf(proxy, untrusted).up, false, 'the server whose certificate failed is down');
  t.equal(serverOf(proxy, { port: refused }).up, false);
  t.equal(good.connections.length, 1);
  t.equal(untrusted.connections.length, 0, 'no request reached it');
  t.match(proxy.log.matching(`${untrusted.address} (pool two.test) DOWN`)[0], /DOWN: connect TLS UNABLE_TO_VERIFY_LEAF_SIGNATURE/, 'the DOWN line names the certificate error');
  t.match(proxy.log.matching(`${HOST}:${refused} (pool two.test) DOWN`)[0], /DOWN: connect ECONNREFUSED/, 'a refused TCP connection reads as before');

  const res = await send(h, proxy, 'GET', '/');
  t.equal(res.status, 503, 'no server left: 503');
  t.equal(serverOf(proxy, lone).up, false);
}, { alive: { host: 'two.test' } });

proxyTest(t, 'a server that never finishes the handshake, and one that speaks plain HTTP: refused connections too (timeouts.connect covers the handshake)', async (t, h) => {
  const silent = await h.rawBackend();
  const plain = await h.backend('plain');
  const good = await httpsBackend(t, BY_IP);
  const other = await h.backend('plain');
  // The plain server is a process of its own: its answer to the ClientHello has to come within
  // timeouts.connect on a loaded machine too (300 ms was missed once, four files at a time).
  const proxy = await h.proxy(
    `healthcheck: { type: none }\ntimeouts: { connect: 1s }\nbackend_tls: { ca: ${CA} }\nservers: ["${silent.address}", "${plain.address}", "${good.address}"]\n` +
      `hosts:\n  - host: plain.test\n    backend_tls: false\n    servers: ["${other.address}"]\n`,
  );
  t.equal((await send(h, proxy, 'GET', '/', { host: 'plain.test' })).json().message, 'This is the plain application.', 'a pool without backend_tls beside, in plain HTTP');
  for (let i = 0; i < 3; i++) t.equal((await send(h, proxy, 'GET', '/')).text(), 'hello', 'served by the good server');
  t.match(proxy.log.matching(`${silent.address} (pool default) DOWN`)[0], /DOWN: connect timeout/, 'no ServerHello within timeouts.connect');
  t.match(proxy.log.matching(`${plain.address} (pool default) DOWN`)[0], /DOWN: connect TLS ERR_SSL_WRONG_VERSION_NUMBER/, 'an HTTP answer to the ClientHello');
});

proxyTest(t, 'server_name: the SNI sent and the name checked; the IP address is checked without it; a name the certificate lacks fails', async (t, h) => {
  const named = await httpsBackend(t, BY_NAME);
  const unnamed = await httpsBackend(t, BY_NAME);
  const byIp = await httpsBackend(t, BY_IP);
  const proxy = await h.proxy(
    `healthcheck: { type: none }\nbackend_tls: { ca: ${CA} }\nhosts:\n` +
      `  - host: named.test\n    backend_tls: { server_name: API.internal }\n    servers: ["${named.address}"]\n` +
      `  - host: unnamed.test\n    servers: ["${unnamed.address}"]\n` +
      `  - host: mismatch.test\n    backend_tls: { server_name: other.internal }\n    servers: ["${byIp.address}"]\n`,
  );
  const res = await send(h, proxy, 'GET', '/', { host: 'named.test' });
  t.same([res.status, res.text()], [200, 'hello']);
  t.equal(named.connections[0]!.servername, 'api.internal', 'the SNI is server_name, in lower case');
  // A certificate for api.internal does not name 127.0.0.1.
  t.equal((await send(h, proxy, 'GET', '/', { host: 'unnamed.test' })).status, 503, 'without server_name, the IP address is checked: 503');
  t.equal((await send(h, proxy, 'GET', '/', { host: 'mismatch.test' })).status, 503, 'a server_name the certificate lacks: 503');
  t.match(proxy.log.matching('(pool mismatch.test) DOWN')[0], /DOWN: connect TLS ERR_TLS_CERT_ALTNAME_INVALID/);
  t.match(proxy.log.matching('(pool unnamed.test) DOWN')[0], /DOWN: connect TLS ERR_TLS_CERT_ALTNAME_INVALID/);
}, { alive: { host: 'named.test' } });

proxyTest(t, 'verify: false: a certificate no CA signed for a name it lacks is taken', async (t, h) => {
  const backend = await httpsBackend(t, UNTRUSTED);
  const proxy = await h.proxy(`healthcheck: { interval: 1m }\nbackend_tls: { verify: false, server_name: api.internal }\nservers: ["${backend.address}"]\n`);
  const res = await send(h, proxy, 'GET', '/');
  t.same([res.status, res.text()], [200, 'hello']);
});

proxyTest(t, 'health checks over TLS, http and tcp: a bad certificate takes the server DOWN with the reason, a good one brings it UP', async (t, h) => {
  const web = await httpsBackend(t, UNTRUSTED);
  const tcp = await httpsBackend(t, UNTRUSTED);
  const check = 'interval: 50ms, timeout: 2s, rise: 1, fall: 1';
  const proxy = await h.proxy(
    `backend_tls: { ca: ${CA} }\nhosts:\n` +
      `  - host: web.test\n    healthcheck: { type: http, path: /healthcheck, ${check} }\n    servers: ["${web.address}"]\n` +
      `  - host: tcp.test\n    healthcheck: { type: tcp, ${check} }\n    servers: ["${tcp.address}"]\n`,
    { level: 'info' },
  );
  await proxy.log.waitFor(`${web.address} (pool web.test) DOWN: GET /healthcheck: TLS UNABLE_TO_VERIFY_LEAF_SIGNATURE`);
  await proxy.log.waitFor(`${tcp.address} (pool tcp.test) DOWN: TLS connect: TLS UNABLE_TO_VERIFY_LEAF_SIGNATURE`);
  t.equal(web.checks, 0, 'no check request went past the failed handshake');
  for (const backend of [web, tcp]) backend.server.setSecureContext({ cert: readFileSync(BY_IP.cert), key: readFileSync(BY_IP.key) });
  await proxy.log.waitFor(`${web.address} (pool web.test) UP`);
  await proxy.log.waitFor(`${tcp.address} (pool tcp.test) UP`);
  t.ok(web.checks > 0, 'the http check went over TLS');
  t.same([(await send(h, proxy, 'GET', '/', { host: 'tcp.test' })).status, (await send(h, proxy, 'GET', '/', { host: 'web.test' })).status], [200, 200]);
}, { alive: { host: 'web.test' } });

proxyTest(t, 'send_proxy v1 with backend_tls: the PROXY header goes first, in clear, then TLS (requests and health checks)', async (t, h) => {
  const backend = await httpsBackend(t, BY_IP, { proxyProtocol: true });
  const proxy = await h.proxy(`healthcheck: { interval: 1m }\nsend_proxy: v1\nbackend_tls: { ca: ${CA} }\nservers: ["${backend.address}"]\n`);
  await waitFor('the first health check', () => backend.checks > 0);
  t.equal(backend.proxyLines[0], 'PROXY UNKNOWN', "the health check's header says it is the balancer's own connection");
  const client = await h.client(proxy);
  const body = randomBytes(200_000);
  const res = await client.send(request('POST', '/echo', { body }));
  t.equal(res.header('x-sha256'), sha256(body));
  t.match(backend.proxyLines[1], new RegExp(`^PROXY TCP4 127\\.0\\.0\\.1 127\\.0\\.0\\.1 \\d+ ${proxy.port}$`), "a request's connection names its client");
  t.equal(backend.connections.length, 1);
  // Each of these closes the connection it came on: the next one is new, and offers the session.
  for (let i = 0; i < 2; i++) t.equal((await send(h, proxy, 'GET', '/close')).text(), 'closing');
  const resumed = backend.connections.map((c) => c.resumed);
  t.ok(resumed.length >= 2, 'new connections were made');
  t.same(resumed, [false, ...resumed.slice(1).map(() => true)], 'each connection after the first resumed a session, its PROXY header in clear before the handshake');
  t.match(backend.proxyLines.at(-1), /^PROXY TCP4 /, 'and named its client');
});

proxyTest(t, 'a reload keeps a server whose TLS settings are unchanged, and replaces one whose ca contents changed', async (t, h) => {
  const backend = await httpsBackend(t, BY_IP);
  const dir = t.testdir({});
  const ca = join(dir, 'ca.pem');
  writeFileSync(ca, readFileSync(CA));
  const yaml = `healthcheck: { interval: 1m }\nbackend_tls: { ca: ${ca} }\nservers: ["${backend.address}"]\n`;
  const proxy = await h.proxy(yaml);
  t.equal((await send(h, proxy, 'GET', '/')).status, 200);
  const first = serverOf(proxy, backend);
  t.not(first.tls, null);
  await proxy.server.reload(parseConfig(yaml, 'test.yaml'));
  t.equal(serverOf(proxy, backend), first, 'the same settings: the same server, its pooled connection and session');
  writeFileSync(ca, readFileSync(CA, 'utf8') + readFileSync(OTHER_AUTHORITY.ca, 'utf8'));
  await proxy.server.reload(parseConfig(yaml, 'test.yaml'));
  const second = serverOf(proxy, backend);
  t.not(second, first, 'another CA in the file: a new server');
  t.equal(first.retired, true, 'the old one is retired: its pooled connection closes');
  t.equal((await send(h, proxy, 'GET', '/')).status, 200);
  t.equal(backend.connections.length, 2, 'the new server made its own connection');
});

t.test('one check over TLS, run here: http and tcp, a bad certificate, a refused port, a PROXY header first; plain ones beside them', async (t) => {
  const good = await httpsBackend(t, BY_IP, { proxyProtocol: true });
  const bad = await httpsBackend(t, UNTRUSTED);
  const plain = await httpsBackend(t, BY_IP);
  const refused = await refusedPort();
  const settings: BackendTls = { ca: CA, caCerts: [readFileSync(CA, 'utf8')], serverName: null, verify: true };
  const secure = (port: number, sendProxy: 0 | 1 = 0) => ({ host: HOST, port, sendProxy, tls: { settings, host: HOST } });
  const check = { path: '/healthcheck', expect: [[200, 399]] as [number, number][], host: '', timeout: 2000 };
  t.same(await probeHttp(secure(good.port, 1), check), { ok: true, status: 200, reason: 'GET /healthcheck -> 200' }, 'an HTTPS check after a PROXY header in clear');
  t.equal(good.proxyLines[0], 'PROXY UNKNOWN');
  t.same(await probeTcp(secure(plain.port), 2000), { ok: true, status: 0, reason: 'TLS connect: open' }, 'a tcp check completes the handshake');
  t.same(await probeTcp(secure(bad.port), 2000), { ok: false, status: 0, reason: 'TLS connect: TLS UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  t.same(await probeHttp(secure(bad.port), check), { ok: false, status: 0, reason: 'GET /healthcheck: TLS UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  t.same(await probeTcp(secure(refused), 2000), { ok: false, status: 0, reason: 'TLS connect: ECONNREFUSED' });
  t.same(await probeHttp(secure(refused, 1), check), { ok: false, status: 0, reason: 'GET /healthcheck: connect ECONNREFUSED' }, 'with a PROXY header to send: the TLS socket reports its TCP connection\'s error');
  // Without backend_tls, as before: a TLS server answers no plain HTTP, a TCP connect opens.
  t.same(await probeTcp({ host: HOST, port: plain.port, tls: null }, 2000), { ok: true, status: 0, reason: 'TCP connect: open' });
  t.same(await probeTcp({ host: HOST, port: refused, sendProxy: 1 }, 2000), { ok: false, status: 0, reason: 'TCP connect: ECONNREFUSED' });
});

t.test('the config: shorthand, merging over the top level, --check, and every mistake at its line', async (t) => {
  const dir = t.testdir({ 'ca.pem': readFileSync(CA), 'two.pem': readFileSync(CA, 'utf8') + readFileSync(OTHER_AUTHORITY.ca, 'utf8'), 'not.pem': 'hello\n', 'broken.pem': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' });
  const file = join(dir, 'lb.yaml');
  const parse = (yaml: string) => parseConfig(yaml, file);
  const caPem = readFileSync(CA, 'latin1').trim();

  const yes = parse('backend_tls: true\nservers: ["127.0.0.1:1"]\n').servers!.balancing.backendTls;
  t.strictSame(yes, { ca: null, caCerts: [], serverName: null, verify: true }, 'true: verified against the default roots');
  t.equal(parse('backend_tls: false\nservers: ["127.0.0.1:1"]\n').servers!.balancing.backendTls, null, 'false: plain HTTP');
  t.equal(parse('servers: ["127.0.0.1:1"]\n').servers!.balancing.backendTls, null, 'the default: plain HTTP');

  const merged = parse(
    'backend_tls: { ca: ca.pem, server_name: api.internal }\n' +
      'hosts:\n  - host: a.test\n    backend_tls: { verify: false }\n    servers: ["127.0.0.1:1"]\n' +
      '  - host: b.test\n    backend_tls: false\n    servers: ["127.0.0.1:2"]\n' +
      '  - host: c.test\n    backend_tls: { ca: two.pem }\n    servers: ["127.0.0.1:3"]\n    paths:\n      - path: /x\n        servers: ["127.0.0.1:3"]\n' +
      'servers: ["127.0.0.1:4"]\n',
  );
  const [a, b, c] = merged.hosts;
  const top: BackendTls = { ca: join(dir, 'ca.pem'), caCerts: [caPem], serverName: 'api.internal', verify: true };
  t.strictSame(a!.balancing.backendTls, { ...top, verify: false }, "an entry's fields over the top level's");
  t.equal(b!.balancing.backendTls, null, 'false on an entry: plain HTTP there');
  t.equal(c!.balancing.backendTls!.caCerts.length, 2, 'every certificate of a ca file');
  t.strictSame(c!.paths[0]!.balancing.backendTls, c!.balancing.backendTls, "a host's paths take the host's");
  t.strictSame(merged.servers!.balancing.backendTls, top);
  const summary = describeConfig(merged);
  t.match(summary, `default      (requests not matched above), HTTPS to servers (CA ${join(dir, 'ca.pem')}: 1 certificate; name api.internal)`);
  t.match(summary, 'host         a.test, HTTPS to servers (CA');
  t.match(summary, 'certificates not verified)');
  t.match(summary, ': 2 certificates;');
  t.match(describeConfig(parse('backend_tls: true\nservers: ["127.0.0.1:1"]\n')), /, HTTPS to servers$/m);

  const fails = (yaml: string, message: string | RegExp) => t.throws(() => parse(yaml), { message }, String(message));
  fails('backend_tls: { ca: nope.pem }\nservers: ["127.0.0.1:1"]\n', `${file}:1:20: backend_tls.ca: cannot read ${join(dir, 'nope.pem')}: ENOENT: no such file or directory`);
  fails('backend_tls:\n  ca: not.pem\nservers: ["127.0.0.1:1"]\n', `${file}:2:7: backend_tls.ca: ${join(dir, 'not.pem')} holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`);
  fails('backend_tls: { ca: broken.pem }\nservers: ["127.0.0.1:1"]\n', new RegExp(`^${file}:1:20: backend_tls\\.ca: certificate 1 in .*broken\\.pem cannot be parsed`));
  fails('backend_tls: { ca: [a] }\nservers: ["127.0.0.1:1"]\n', `${file}:1:20: backend_tls.ca: expected the path of a PEM file of CA certificates`);
  fails('backend_tls: yes\nservers: ["127.0.0.1:1"]\n', `${file}:1:14: backend_tls: expected true, false or a mapping {ca, server_name, verify}`);
  fails('backend_tls: [ca.pem]\nservers: ["127.0.0.1:1"]\n', `${file}:1:14: backend_tls: expected true, false or a mapping {ca, server_name, verify}`);
  fails('backend_tls: { verfy: false }\nservers: ["127.0.0.1:1"]\n', `${file}:1:16: backend_tls: unknown key "verfy" (did you mean "verify"?)`);
  fails('backend_tls: { verify: no }\nservers: ["127.0.0.1:1"]\n', `${file}:1:24: backend_tls.verify: expected true or false`);
  fails('backend_tls: { server_name: 10.0.0.1 }\nservers: ["127.0.0.1:1"]\n', /backend_tls\.server_name: an IP address cannot be a TLS server name \(RFC 6066\)/);
  fails('backend_tls: { server_name: "api internal" }\nservers: ["127.0.0.1:1"]\n', /:1:29: backend_tls\.server_name: expected a DNS name like "api\.internal"/);
  fails(
    'hosts:\n  - host: a.test\n    backend_tls: true\n    servers: ["127.0.0.1:1"]\n  - host: b.test\n    servers: ["127.0.0.1:2", "127.0.0.1:1"]\n',
    `${file}:6:30: hosts[1].servers: server "127.0.0.1:1" has other backend_tls settings than in hosts[0].servers (line 4): TLS settings belong to the server's address, so every pool that lists it must give the same`,
  );
  fails(
    'backend_tls: { ca: ca.pem }\npaths:\n  - path: /a\n    backend_tls: { ca: two.pem }\n    servers: ["127.0.0.1:1"]\nservers: ["127.0.0.1:1"]\n',
    /:6:11: servers: server "127.0.0.1:1" has other backend_tls settings than in paths\[0\]\.servers \(line 5\)/,
  );
  // The same settings from two pools (the same certificates, whichever file holds them) are one server's.
  t.doesNotThrow(() => parse('backend_tls: { ca: ca.pem }\npaths:\n  - path: /a\n    servers: ["127.0.0.1:1"]\nservers: ["127.0.0.1:1"]\n'));
});

t.test('the TLS options: SNI and the name checked by how the server is written; roots with ca', async (t) => {
  const settings: BackendTls = { ca: null, caCerts: [], serverName: null, verify: true };
  const named = backendTlsOptions(settings, 'api.internal');
  t.equal(named.servername, 'api.internal', 'a server written by name: its name is the SNI');
  t.equal(named.rejectUnauthorized, true);
  t.equal(backendTlsOptions(settings, '::1').servername, undefined, 'no SNI for an IP address');
  const certificate = { subject: { CN: 'x' }, subjectaltname: 'DNS:api.internal' } as unknown as tls.PeerCertificate;
  t.equal(named.checkServerIdentity!('10.0.0.7', certificate), undefined, 'the name checked is the one written, not the address connected to');
  t.type(backendTlsOptions(settings, '10.0.0.7').checkServerIdentity!('api.internal', certificate), Error, 'an IP address the certificate does not hold fails');
  t.equal(backendTlsOptions({ ...settings, verify: false }, 'x').rejectUnauthorized, false);

  t.equal(trustedRoots([]), undefined, "without ca: Node's default roots");
  t.strictSame(trustedRoots(['C'], () => ['A', 'B']), ['A', 'B', 'C'], "with ca, where Node lists its defaults: those and ca's");
  t.strictSame(trustedRoots(['C'], null), [...tls.rootCertificates, 'C'], "on Node 20: the bundled roots and ca's");
});

t.test('rootsContext: servers that trust the same CA certificates share one context; the last CONTEXTS_KEPT are kept', async (t) => {
  // Real certificates, each a CA list of its own.
  const lists = tls.rootCertificates.slice(0, CONTEXTS_KEPT + 1).map((pem) => [pem]);
  const first = rootsContext(lists[0]!);
  t.equal(rootsContext([...lists[0]!]), first, 'the same certificates in another array: the same context');
  const settings: BackendTls = { ca: null, caCerts: lists[0]!, serverName: null, verify: true };
  t.equal(backendTlsOptions(settings, 'a.internal').secureContext, backendTlsOptions({ ...settings, caCerts: [...lists[0]!] }, 'b.internal').secureContext, 'two servers, one context');
  // Fifteen more: the sixteen are all that is kept now, whatever was before.
  const made = [first];
  for (let i = 1; i < CONTEXTS_KEPT; i++) made.push(rootsContext(lists[i]!));
  t.equal(new Set(made).size, CONTEXTS_KEPT, 'other certificates, another context');
  t.equal(rootsContext(lists[0]!), first, 'used again: kept, and now the last used');
  rootsContext(lists[CONTEXTS_KEPT]!);
  t.equal(rootsContext(lists[0]!), first, 'one more: the last used is still there');
  t.not(rootsContext(lists[1]!), made[1], 'the one used longest ago was let go');
  t.equal(rootsContext([]), rootsContext([]), 'without ca: one context too');
});

t.test('the real program: verify: false is a warning naming the pool at start and on SIGHUP; --check reads the ca file', async (t) => {
  const backend = await httpsBackend(t, UNTRUSTED);
  const dir = t.testdir({ 'ca.pem': readFileSync(CA) });
  const yaml = `listen: 127.0.0.1:0\nhealthcheck: { interval: 1m }\nbackend_tls: { ca: ca.pem }\nhosts:\n  - host: a.test\n    backend_tls: { verify: false }\n    servers: ["${backend.address}"]\nservers: ["127.0.0.1:1"]\n`;
  writeFileSync(join(dir, 'lb.yaml'), yaml);
  const check = await lb([LB, 'lb.yaml', '--check'], dir).exit;
  t.equal(check.code, 0, check.stderr);
  t.match(check.stderr, 'lb: warning: pool a.test: backend_tls.verify is false');
  t.match(check.stdout, `HTTPS to servers (CA ${join(dir, 'ca.pem')}: 1 certificate)`, '--check read the ca file');

  const proc = lb([LB, 'lb.yaml'], dir);
  t.teardown(() => proc.child.kill('SIGKILL'));
  const port = Number((await within(proc.until(/listening on http:\/\/127\.0\.0\.1:(\d+)/), 'the listening line', STARTUP_MS))[1]);
  t.match(proc.output(), /WARN pool a\.test: backend_tls\.verify is false: its servers' certificates and names are not checked/);
  t.equal(proc.output().match(/backend_tls\.verify is false/g)!.length, 1, 'once, for the one pool');
  const res = await new Promise<number>((resolve, reject) => {
    http.get({ host: HOST, port, headers: { host: 'a.test' }, agent: false }, (r) => resolve(r.resume().statusCode!)).on('error', reject);
  });
  t.equal(res, 200, 'served over TLS without a check');
  proc.child.kill('SIGHUP');
  await within(proc.until(/SIGHUP: pool a\.test: backend_tls\.verify is false/), 'the warning again on reload', STARTUP_MS);
  await within(proc.until(/SIGHUP: reloaded/), 'the reload', STARTUP_MS);

  writeFileSync(join(dir, 'lb.yaml'), 'backend_tls: { ca: missing.pem }\nservers: ["127.0.0.1:1"]\n');
  const missing = await lb([LB, 'lb.yaml', '--check'], dir).exit;
  t.equal(missing.code, 1);
  t.match(missing.stderr, /lb\.yaml:1:20: backend_tls\.ca: cannot read .*missing\.pem: ENOENT/);
  proc.child.kill('SIGTERM');
  t.equal((await proc.exit).code, 0);
});
