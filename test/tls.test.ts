// TLS termination: clients speak HTTPS to the balancer, backends get plain HTTP with
// X-Forwarded-Proto: https. The certificate is self-signed, made for the test with openssl.

import { readFileSync } from 'node:fs';
import https from 'node:https';
import t from 'tap';
import { describeConfig } from '../src/config/check.js';
import { parseConfig } from '../src/config/load.js';
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
    { configure: (c) => (c.listen[0]!.tls = { cert, key }) },
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
  const proxy = await h.proxy(`healthcheck: { interval: 1m }\nservers: ["${backend.address}"]\n`, { configure: (c) => (c.listen[0]!.tls = { cert, key }) });
  const ca = readFileSync(cert);
  // The name in Host is not the certificate's: the client gives up in the handshake.
  const err = await new Promise((resolve) => https.get({ host: HOST, port: proxy.port, ca, headers: { host: 'other.test' }, agent: false }, resolve).on('error', resolve));
  t.type(err, Error);
  await within(proxy.server.close(), 'close() with nothing left open', 2000);
  t.equal(proxy.server.connections, 0);
}, { alive: false });

t.test('listen.tls in the config: paths relative to the config file; a missing file is one clear error', async (t) => {
  const config = parseConfig('listen:\n  address: 127.0.0.1:8443\n  tls:\n    cert: certs/c.pem\n    key: /abs/k.pem\nservers: ["127.0.0.1:1"]\n', '/etc/lb/lb.yaml');
  t.same(config.listen[0], { host: '127.0.0.1', port: 8443, tls: { cert: '/etc/lb/certs/c.pem', key: '/abs/k.pem' }, redirect: false, proxyProtocol: false });
  t.match(describeConfig(config), /^listen +127\.0\.0\.1:8443, TLS with \/etc\/lb\/certs\/c\.pem$/m, '--check shows it');
  t.throws(() => parseConfig('listen:\n  tls: { cert: c.pem }\nservers: ["127.0.0.1:1"]\n', 'lb.yaml'), { message: 'lb.yaml:2:8: listen.tls: key is required: the path of a PEM file' });
  t.same(parseConfig('listen: { tls: { cert: c.pem, key: k.pem } }\nservers: ["127.0.0.1:1"]\n', '/x/lb.yaml').listen[0], { host: '127.0.0.1', port: 8080, tls: { cert: '/x/c.pem', key: '/x/k.pem' }, redirect: false, proxyProtocol: false }, 'the default address');
  const missing = parseConfig('listen: { address: 0, tls: { cert: nope.pem, key: nope.pem } }\nservers: ["127.0.0.1:1"]\n', '/nonexistent/lb.yaml');
  t.throws(() => new ProxyServer(missing, new Logger('silent')), { message: 'listen.tls.cert: cannot read /nonexistent/nope.pem: ENOENT: no such file or directory' });
});
