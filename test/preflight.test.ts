// What a start checks before it listens, and --check with it: listen.tls's certificate and key
// (real ones, made with openssl; each problem at the line of the file it is about), and the
// servers' names looked up (with a stand-in lookup; the real one is in cli.test.ts).

import t from 'tap';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigWithPlaces } from '../src/config/load.js';
import type { DnsLookups } from '../src/balancer/discovery.js';
import { discoverWarnings, preflight, unresolvedServers, type Lookup } from '../src/config/preflight.js';
import { loadTlsFiles } from '../src/config/tls-files.js';
import { selfSigned } from './helpers/certificate.js';

/** A config in `dir` whose listener takes `cert` and `key` (as written: relative to `dir`), at lines 4 and 5. */
function tlsConfig(dir: string, cert: string, key: string) {
  const file = join(dir, 'lb.yaml');
  const text = `listen:\n  address: 127.0.0.1:0\n  tls:\n    cert: ${cert}\n    key: ${key}\nservers: ["127.0.0.1:1"]\n`;
  return { file, ...parseConfigWithPlaces(text, file) };
}

/** The message preflight rejects with, or "passed". */
async function problem(loaded: ReturnType<typeof tlsConfig>): Promise<string> {
  return preflight(loaded.config, loaded.places).then(
    (warnings) => `passed ${JSON.stringify(warnings)}`,
    (err: Error) => `${err.name}: ${err.message}`,
  );
}

t.test('a certificate and its key pass, and are what the listener gets', async (t) => {
  const dir = t.testdir({});
  selfSigned(dir);
  const loaded = tlsConfig(dir, 'cert.pem', 'key.pem');
  t.equal(await problem(loaded), 'passed []');
  const pair = loadTlsFiles(loaded.config.listen[0]!.tls!.certs[0]!, loaded.places.tls[0]![0]);
  t.same(pair, { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) });
});

t.test('each problem with the TLS files is one line at the place of the file it is about', async (t) => {
  const dir = t.testdir({ 'garbage.pem': 'not a certificate\n', 'a-directory': {} });
  const a = selfSigned(dir, { name: 'a' });
  const b = selfSigned(dir, { name: 'b' });
  const small = selfSigned(dir, { name: 'small', bits: 512 });
  const locked = selfSigned(dir, { name: 'locked', passphrase: 'secret' });
  const at = (line: number, col: number, path: string) => `ConfigError: ${join(dir, 'lb.yaml')}:${line}:${col}: listen.tls.${path}: `;
  const cert = at(4, 11, 'cert');
  const key = at(5, 10, 'key');
  const cases: [string, string, string, string | RegExp][] = [
    ['no certificate file', 'nope.pem', a.key, `${cert}cannot read ${join(dir, 'nope.pem')}: ENOENT: no such file or directory`],
    ['no key file', a.cert, 'nope.key', `${key}cannot read ${join(dir, 'nope.key')}: ENOENT: no such file or directory`],
    ['a directory for a key', a.cert, 'a-directory', `${key}cannot read ${join(dir, 'a-directory')}: EISDIR: illegal operation on a directory`],
    ['not a certificate', 'garbage.pem', a.key, `${cert}${join(dir, 'garbage.pem')} is not a PEM certificate (no start line)`],
    // The reason is OpenSSL's, whose words may change from one version to the next.
    ['a certificate for a key', a.cert, a.cert, new RegExp(`^${escape(key)}${escape(a.cert)} is not a PEM private key \\(.+\\)$`)],
    ['an encrypted key', locked.cert, locked.key, `${key}${locked.key} is encrypted: the balancer needs the key without a passphrase`],
    ['the key of another certificate', a.cert, b.key, `${key}${b.key} is not the key of the certificate in ${a.cert}`],
    ['a key too small for OpenSSL', small.cert, small.key, new RegExp(`^${escape(cert)}${escape(small.cert)} cannot be used with its key \\(.+\\)$`)],
  ];
  for (const [name, certFile, keyFile, message] of cases) {
    const result = await problem(tlsConfig(dir, certFile, keyFile));
    if (typeof message === 'string') t.equal(result, message, name);
    else t.match(result, message, name);
  }
});

t.test('relative paths are read from the config file\'s directory, wherever lb runs', async (t) => {
  const dir = t.testdir({ etc: {} });
  const pair = selfSigned(dir);
  mkdirSync(join(dir, 'etc', 'tls'));
  copyFileSync(pair.cert, join(dir, 'etc', 'tls', 'c.pem'));
  copyFileSync(pair.key, join(dir, 'etc', 'tls', 'k.pem'));
  t.equal(await problem(tlsConfig(join(dir, 'etc'), 'tls/c.pem', 'tls/k.pem')), 'passed []');
});

t.test('without places (a cluster worker, given the config alone) the setting is named', async (t) => {
  const dir = t.testdir({});
  const a = selfSigned(dir, { name: 'a' });
  const b = selfSigned(dir, { name: 'b' });
  t.throws(() => loadTlsFiles({ cert: join(dir, 'gone.pem'), key: a.key }, undefined), {
    name: 'ConfigError',
    message: `listen.tls.cert: cannot read ${join(dir, 'gone.pem')}: ENOENT: no such file or directory`,
  });
  t.throws(() => loadTlsFiles({ cert: a.cert, key: b.key }, undefined), {
    message: `listen.tls.key: ${b.key} is not the key of the certificate in ${a.cert}`,
  });
});

t.test('server names: each looked up once, IP addresses not at all; a warning per server that does not resolve', async (t) => {
  const asked: string[] = [];
  const lookup: Lookup = async (host) => {
    asked.push(host);
    if (host === 'gone.test') throw Object.assign(new Error('getaddrinfo ENOTFOUND gone.test'), { code: 'ENOTFOUND' });
    if (host === 'odd.test') throw new Error('no code');
    return [{ address: '10.0.0.1', family: 4 }];
  };
  const text = [
    'hosts:',
    '  - host: a.test',
    '    servers: [ok.test:80, gone.test:80]',
    'paths:',
    '  - path: /x',
    '    servers:',
    '      - gone.test:81',
    '      - 127.0.0.1:82',
    '      - "[::1]:83"',
    'servers: [ok.test:80, odd.test:84]',
    '',
  ].join('\n');
  const { config, places } = parseConfigWithPlaces(text, 'lb.yaml');
  t.strictSame(await unresolvedServers(config, places, lookup), [
    'lb.yaml:3: gone.test:80 does not resolve (ENOTFOUND)',
    'lb.yaml:7: gone.test:81 does not resolve (ENOTFOUND)',
    'lb.yaml:10: odd.test:84 does not resolve (no code)',
  ]);
  t.strictSame(asked, ['ok.test', 'gone.test', 'odd.test'], 'one lookup per name');
  t.strictSame(await preflight(config, places, lookup), [
    'lb.yaml:3: gone.test:80 does not resolve (ENOTFOUND)',
    'lb.yaml:7: gone.test:81 does not resolve (ENOTFOUND)',
    'lb.yaml:10: odd.test:84 does not resolve (no code)',
  ], 'preflight passes them on: a warning for --check, the error of a start');
  const hostsOnly = parseConfigWithPlaces('hosts:\n  - host: a.test\n    servers: [gone.test:80]\n', 'lb.yaml');
  t.strictSame(await unresolvedServers(hostsOnly.config, hostsOnly.places, lookup), ['lb.yaml:3: gone.test:80 does not resolve (ENOTFOUND)'], 'no default pool');
});

t.test('--check asks every discover name once: a warning with its line for a failed lookup or no records', async (t) => {
  const text = [
    'servers:',
    '  - discover: ok.test:80',
    '  - discover: gone.test:80',
    '  - discover: _h._tcp.down.test',
    '',
  ].join('\n');
  const { config, places } = parseConfigWithPlaces(text, 'lb.yaml');
  const fail = (code: string) => Promise.reject(Object.assign(new Error(code), { code }));
  const lookups: DnsLookups = {
    a: (name) => (name === 'ok.test' ? Promise.resolve([{ address: '10.0.0.1', ttl: 5 }]) : fail('ENOTFOUND')),
    aaaa: () => fail('ENODATA'),
    srv: () => fail('ECONNREFUSED'),
  };
  t.strictSame(await discoverWarnings(config, places, lookups), [
    'lb.yaml:3: discover gone.test:80: no records: no servers yet',
    'lb.yaml:4: discover _h._tcp.down.test: lookup failed (ECONNREFUSED)',
  ]);
  const none = parseConfigWithPlaces('servers: [a.test:1]', 'lb.yaml');
  t.strictSame(await discoverWarnings(none.config, none.places), [], 'nothing to ask');
});

/** `text` as a literal part of a RegExp. */
function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
