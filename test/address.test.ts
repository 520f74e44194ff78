// How an address is written with its port: the one helper that brackets IPv6 (hostPort) and the
// two formatters built on it, for a bound socket (formatAddress) and a listen address (formatListen).

import { createServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import t from 'tap';
import { formatAddress, formatListen, hostPort } from '../src/config/address.js';
import { Backend } from '../src/balancer/backend.js';
import { DEFAULT_REQUEST_LIMITS } from '../src/http/request-parser.js';
import { DEFAULTS } from '../src/config/schema.js';

t.test('hostPort: IPv6 in brackets, everything else as it is', async (t) => {
  const cases: [string, number, string][] = [
    ['127.0.0.1', 8080, '127.0.0.1:8080'],
    ['localhost', 80, 'localhost:80'],
    ['www.mango.com', 443, 'www.mango.com:443'],
    ['::1', 8080, '[::1]:8080'],
    ['::', 0, '[::]:0'],
    ['2001:db8::1', 65535, '[2001:db8::1]:65535'],
    ['::ffff:10.0.0.1', 81, '[::ffff:10.0.0.1]:81'],
    ['fe80::1%eth0', 82, '[fe80::1%eth0]:82'],
  ];
  for (const [host, port, expected] of cases) t.equal(hostPort(host, port), expected, `${host} ${port}`);
});

t.test('formatListen: all interfaces named as such, any other host through hostPort', async (t) => {
  t.equal(formatListen({ host: '', port: 8080 }), '*:8080 (all interfaces)');
  t.equal(formatListen({ host: '127.0.0.1', port: 8080 }), '127.0.0.1:8080');
  t.equal(formatListen({ host: '::1', port: 8080 }), '[::1]:8080');
});

t.test('formatAddress: what a bound socket reports, IPv4 and IPv6', async (t) => {
  const v4: AddressInfo = { address: '127.0.0.1', port: 8080, family: 'IPv4' };
  const v6: AddressInfo = { address: '::1', port: 8080, family: 'IPv6' };
  t.equal(formatAddress(v4), '127.0.0.1:8080');
  t.equal(formatAddress(v6), '[::1]:8080');

  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const bound = server.address() as AddressInfo;
  t.equal(formatAddress(bound), `127.0.0.1:${bound.port}`, 'a real listener on 127.0.0.1, port 0');
});

t.test('a Backend is named by hostPort, so IPv6 servers log as "[::1]:8081"', async (t) => {
  t.equal(new Backend('10.0.0.1', 8081, 'app:8081').name, '10.0.0.1:8081');
  t.equal(new Backend('::1', 8081, '[::1]:8081').name, '[::1]:8081');
});

t.test('the request parser takes its default limits from the config defaults (one copy)', async (t) => {
  t.same(DEFAULT_REQUEST_LIMITS, {
    maxStartLine: DEFAULTS.limits.maxRequestLine,
    maxHead: DEFAULTS.limits.maxHead,
    maxFields: DEFAULTS.limits.maxFields,
  });
});
