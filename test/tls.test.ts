// TLS termination: clients speak HTTPS to the balancer, backends get plain HTTP with
// X-Forwarded-Proto: https. The certificate is self-signed, made for the test with openssl.

import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import https from 'node:https';
import tls from 'node:tls';
import t from 'tap';
import { describeConfig } from '../src/config/check.js';
import { parseConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { certificateNames } from '../src/config/tls-files.js';
import { Logger } from '../src/log.js';
import { ProxyServer } from '../src/proxy/proxy-server.js';
import { selfSigned } from './helpers/certificate.js';
import { HOST, proxyTest, within } from './helpers/net.js';

function get(port: number, ca: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: HOST, port, path, ca, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
  });
}

proxyTest(t, 'HTTPS to the balancer, HTTP to the backend, X-Forwarded-Proto: https', async (t, h) => {
  const dir = t.testdir({});
  const { cert, key } = selfSigned(dir);
  const backend = await h.backend('plain');
  const proxy = await h.proxy(
    `
listen:
  address: 127.0.0.1:0
  tls: { cert: cert.pem, key: key.pem }
healthcheck: { interval: 1m }
servers: ["${backend.address}"]
`,
    { configure: (c) => (c.listen[0]!.tls = { certs: [{ cert, key }], minVersion: 'TLSv1.2' }) },
  );
  const ca = readFileSync(cert, 'utf8');
  const res = await get(proxy.port, ca, '/headers');
  t.equal(res.status, 200);
  const headers = (JSON.parse(res.body) as { rawHeaders: string[] }).rawHeaders;
  const proto = headers[headers.findIndex((h) => h.toLowerCase() === 'x-forwarded-proto') + 1];
  t.equal(proto, 'https', 'the backend learns the client used HTTPS');
  const second = await get(proxy.port, ca, '/');
  t.equal(JSON.parse(second.body).message, 'This is the plain application.');
}, { alive: false });

proxyTest(t, 'a client that rejects the certificate leaves no connection open (regression: close() hung)', async (t, h) => {
  const { cert, key } = selfSigned(t.testdir({}));
  const backend = await h.backend('plain');
  const proxy = await h.proxy(`healthcheck: { interval: 1m }\nservers: ["${backend.address}"]\n`, { configure: (c) => (c.listen[0]!.tls = { certs: [{ cert, key }], minVersion: 'TLSv1.2' }) });
  const ca = readFileSync(cert);
  // The name in Host is not the certificate's: the client gives up in the handshake.
  const err = await new Promise((resolve) => https.get({ host: HOST, port: proxy.port, ca, headers: { host: 'other.test' }, agent: false }, resolve).on('error', resolve));
  t.type(err, Error);
  await within(proxy.server.close(), 'close() with nothing left open', 2000);
  t.equal(proxy.server.connections, 0);
}, { alive: false });

t.test('listen.tls in the config: paths relative to the config file; a missing file is one clear error', async (t) => {
  const config = parseConfig('listen:\n  address: 127.0.0.1:8443\n  tls:\n    cert: certs/c.pem\n    key: /abs/k.pem\nservers: ["127.0.0.1:1"]\n', '/etc/lb/lb.yaml');
  t.same(config.listen[0], { host: '127.0.0.1', port: 8443, tls: { certs: [{ cert: '/etc/lb/certs/c.pem', key: '/abs/k.pem' }], minVersion: 'TLSv1.2' }, redirect: false, proxyProtocol: false });
  t.match(describeConfig(config), /^listen +127\.0\.0\.1:8443, TLS with \/etc\/lb\/certs\/c\.pem$/m, '--check shows it');
  t.throws(() => parseConfig('listen:\n  tls: { cert: c.pem }\nservers: ["127.0.0.1:1"]\n', 'lb.yaml'), { message: 'lb.yaml:2:8: listen.tls: key is required: the path of a PEM file' });
  t.same(parseConfig('listen: { tls: { cert: c.pem, key: k.pem } }\nservers: ["127.0.0.1:1"]\n', '/x/lb.yaml').listen[0], { host: '127.0.0.1', port: 8080, tls: { certs: [{ cert: '/x/c.pem', key: '/x/k.pem' }], minVersion: 'TLSv1.2' }, redirect: false, proxyProtocol: false }, 'the default address');
  const missing = parseConfig('listen: { address: 0, tls: { cert: nope.pem, key: nope.pem } }\nservers: ["127.0.0.1:1"]\n', '/nonexistent/lb.yaml');
  t.throws(() => new ProxyServer(missing, new Logger('silent')), { message: 'listen.tls.cert: cannot read /nonexistent/nope.pem: ENOENT: no such file or directory' });
  const fails = (yaml: string, message: string) => t.throws(() => parseConfig(`${yaml}\nservers: ["127.0.0.1:1"]\n`, 'lb.yaml'), { message }, message);
  fails('listen: { tls: { certs: [], min_version: TLSv1.3 } }', 'lb.yaml:1:25: listen.tls.certs: the list is empty: at least one {cert, key} pair is needed');
  fails('listen: { tls: { certs: [{cert: a, key: b}], cert: c } }', 'lb.yaml:1:52: listen.tls: cert and key go in certs when certs is set: one {cert, key} per certificate');
  fails('listen: { tls: { certs: [{cert: a}] } }', 'lb.yaml:1:26: listen.tls.certs[0]: key is required: the path of a PEM file');
  fails('listen: { tls: { cert: a, key: b, min_version: TLSv1.1 } }', 'lb.yaml:1:48: listen.tls.min_version: expected TLSv1.2 or TLSv1.3');
  const two = parseConfig('listen: { tls: { certs: [{cert: a, key: b}, {cert: c, key: d}], min_version: TLSv1.3 } }\nservers: ["127.0.0.1:1"]\n', '/x/lb.yaml');
  t.strictSame(two.listen[0]!.tls, { certs: [{ cert: '/x/a', key: '/x/b' }, { cert: '/x/c', key: '/x/d' }], minVersion: 'TLSv1.3' });
});

/** A handshake with `servername` (none: by address, as a client without SNI): the certificate's names, the version and ALPN it got. */
async function handshake(port: number, servername: string | null, options: tls.ConnectionOptions = {}): Promise<{ names: string; version: string; alpn: string | false; socket: tls.TLSSocket }> {
  const socket = tls.connect({ host: HOST, port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], ...(servername === null ? {} : { servername }), ...options });
  await within(new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject)), 'the TLS handshake');
  return { names: socket.getPeerCertificate().subjectaltname ?? '', version: socket.getProtocol() ?? '', alpn: socket.alpnProtocol ?? false, socket };
}

proxyTest(t, 'tls.certs: the certificate of the name a client asks for (exact, then a wildcard of one label), else the first; ALPN http/1.1; min_version', async (t, h) => {
  const dir = t.testdir({});
  const a = selfSigned(dir, { name: 'a', names: ['a.test'] });
  const b = selfSigned(dir, { name: 'b', names: ['b.test', '*.b.test'] });
  const backend = await h.backend('app');
  const proxy = await h.proxy(
    `listen: { address: 127.0.0.1:0, tls: { certs: [{cert: a.pem, key: a.key}, {cert: b.pem, key: b.key}], min_version: TLSv1.3 } }\nhealthcheck: { interval: 1m }\nservers: ["${backend.address}"]\n`,
    { configure: (c) => (c.listen[0]!.tls = { certs: [a, b], minVersion: 'TLSv1.3' }) },
  );
  const cases: [servername: string | null, names: RegExp][] = [
    ['a.test', /DNS:a\.test/],
    ['B.test', /DNS:b\.test/],
    ['x.b.test', /DNS:b\.test/],
    ['y.x.b.test', /DNS:a\.test/],
    ['other.test', /DNS:a\.test/],
    [null, /DNS:a\.test/],
  ];
  for (const [servername, names] of cases) {
    const got = await handshake(proxy.port, servername);
    t.match(got.names, names, `${servername ?? 'no name'}: ${got.names}`);
    t.equal(got.version, 'TLSv1.3');
    t.equal(got.alpn, 'http/1.1', 'ALPN: http/1.1');
    got.socket.destroy();
  }
  await t.rejects(handshake(proxy.port, 'a.test', { maxVersion: 'TLSv1.2' }), 'a client that stops at TLSv1.2 is refused (min_version TLSv1.3)');
  t.match(describeConfig(proxy.config), /TLS with .*a-cert\.pem, .*b-cert\.pem, TLSv1\.3 at least/);
}, { alive: false });

proxyTest(t, 'a reload reads the certificate files again: new connections get the new one, an open connection goes on; a broken file keeps the one in force', async (t, h) => {
  const dir = t.testdir({});
  const first = selfSigned(dir, { name: 'site', names: ['old.test'] });
  const backend = await h.backend('app');
  const configure = (c: Config) => (c.listen[0]!.tls = { certs: [first], minVersion: 'TLSv1.2' });
  const proxy = await h.proxy(`healthcheck: { interval: 1m }\nservers: ["${backend.address}"]\n`, { configure });
  const open = await handshake(proxy.port, 'old.test');
  t.match(open.names, /old\.test/);
  selfSigned(dir, { name: 'site', names: ['renewed.test'] });
  const next = parseConfig(`healthcheck: { interval: 1m }\nservers: ["${backend.address}"]\n`, 'lb.yaml');
  configure(next);
  await proxy.server.reload(next);
  const renewed = await handshake(proxy.port, 'old.test');
  t.match(renewed.names, /renewed\.test/, 'the file as it is now');
  renewed.socket.destroy();
  open.socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  const answer = await within(new Promise<string>((resolve) => {
    let text = '';
    open.socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    open.socket.once('end', () => resolve(text));
  }), 'the open connection to be answered');
  t.match(answer, /^HTTP\/1\.1 200/, 'the connection open across the reload is served');

  writeFileSync(first.cert, 'not a certificate\n');
  await proxy.server.reload(next);
  await proxy.log.waitFor('keeping the certificates in force');
  const kept = await handshake(proxy.port, null);
  t.match(kept.names, /renewed\.test/, 'the certificate in force stays');
  kept.socket.destroy();
}, { alive: false });

t.test('a certificate\'s names: its subjectAltName DNS entries, else its CN, else none', async (t) => {
  const dir = t.testdir({});
  const make = (subject: string, ...ext: string[]): X509Certificate => {
    const cert = join(dir, 'c.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', subject, ...ext, '-keyout', join(dir, 'k.pem'), '-out', cert], { stdio: 'ignore' });
    return new X509Certificate(readFileSync(cert));
  };
  t.strictSame(certificateNames(make('/CN=ignored.test', '-addext', 'subjectAltName=DNS:A.test,IP:127.0.0.1,DNS:*.b.test')), ['a.test', '*.b.test']);
  t.strictSame(certificateNames(make('/CN=Only.Test')), ['only.test'], 'no subjectAltName: the CN');
  t.strictSame(certificateNames(make('/O=Nameless')), [], 'neither: no name (it serves only as the default)');
});
