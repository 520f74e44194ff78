// The config reader: every default, every message (with its line and column), the value parsers
// and the trusted-proxy matcher.

import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTrustedProxy } from '../../src/config/address.js';
import { describeConfig } from '../../src/config/check.js';
import { loadConfig, parseConfig, parseConfigWithPlaces } from '../../src/config/load.js';
import { DEFAULTS, poolsOf, type Config, type Healthcheck, type Pool } from '../../src/config/schema.js';
import { parseDuration, parseSeconds, parseShare } from '../../src/config/values.js';

/** Lines joined with "\n", so that a case reads like the file it stands for. */
const yaml = (...lines: string[]) => lines.join('\n') + '\n';

const HEALTHCHECK = { type: 'http', path: '/healthcheck', strictPath: false, expect: [[200, 399]], host: '', interval: 5000, timeout: 1000, rise: 2, fall: 2 };

const DEFAULT_REST = {
  listen: [{ host: '127.0.0.1', port: 8080, tls: null, redirect: false, proxyProtocol: false }],
  admin: null,
  healthcheck: HEALTHCHECK,
  timeouts: { connect: 3000, header: 10000, idle: 60000, server: 60000, drain: 30000 },
  limits: { maxRequestLine: 8192, maxHead: 16384, maxFields: 100, maxConnections: 0, maxBody: 0 },
  requestId: 'X-Request-ID',
  trustedProxies: [],
  resolvers: [],
  log: { format: 'text' },
};

const BALANCING = { ...DEFAULTS.balancing, queue: { ...DEFAULTS.balancing.queue } };

const server = (name: string) => {
  const colon = name.lastIndexOf(':');
  return { host: name.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(name.slice(colon + 1)), name, ...DEFAULTS.server };
};

t.test('the simplest configs are valid as they are, with every default', async (t) => {
  t.strictSame(parseConfig('servers: [localhost:8081]\n', 'lb.yaml'), {
    ...DEFAULT_REST,
    hosts: [],
    paths: [],
    servers: { name: 'default', servers: [server('localhost:8081')], discover: [], paths: [], balancing: BALANCING, healthcheck: HEALTHCHECK, rules: DEFAULTS.rules },
  });
  t.strictSame(
    parseConfig(yaml('hosts:', '  - host: www.mango.com', '    servers:', '      - localhost:8081'), 'lb.yaml'),
    {
      ...DEFAULT_REST,
      hosts: [{ name: 'www.mango.com', servers: [server('localhost:8081')], discover: [], paths: [], balancing: BALANCING, healthcheck: HEALTHCHECK, rules: DEFAULTS.rules }],
      paths: [],
      servers: null,
    },
  );
  t.strictSame(parseConfig(yaml('paths:', '  - path: /mango', '    servers: [localhost:8081]'), 'lb.yaml'), {
    ...DEFAULT_REST,
    hosts: [],
    paths: [{ name: '/mango', servers: [server('localhost:8081')], discover: [], paths: [], balancing: BALANCING, healthcheck: HEALTHCHECK, rules: DEFAULTS.rules }],
    servers: null,
  });
});

const FULL = yaml(
  'listen: 0.0.0.0:80',
  'admin: 127.0.0.1:9000',
  'healthcheck:',
  '  path: /health?full=1',
  '  interval: 2s',
  '  timeout: 250ms',
  '  rise: 3',
  '  fall: 1',
  '  expect: 200-299,301',
  '  host: app.internal',
  'timeouts:',
  '  connect: 1s',
  '  header: 1.5s',
  '  idle: 1m',
  '  server: 30000',
  '  drain: 5s',
  'limits:',
  '  max_request_line: 4KiB',
  '  max_head: 1MiB',
  '  max_fields: 50',
  '  max_connections: 1000',
  '  max_body: 1MiB',
  'hosts:',
  '  - host: WWW.Mango.com:8080',
  '    balance: least_conn',
  '    servers:',
  '      - localhost:8081',
  '      - {address: 10.0.0.2:8082, weight: 2, max_connections: 10, backup: true, slow_start: 5s}',
  '  - host: "[::1]"',
  '    servers: ["[::1]:8083"]',
  '    healthcheck: {type: tcp, interval: 1s}',
  'paths:',
  '  - path: /mango/',
  '    servers: [localhost:8081]',
  '  - path: /',
  '    servers: [localhost:8082]',
  'servers:',
  '  - localhost:8084',
  'balance: hash',
  'hash_key: path',
  'sticky: {cookie: s, max_age: 60}',
  'queue: {max: 5, timeout: 1s}',
  'outlier: {consecutive_failures: 2, count_5xx: true, ejection: 1s, max_ejected: 1}',
  'retry_budget: 50%',
  'trusted_proxies: [10.0.0.0/8, "::1", 192.168.1.7]',
  'log: { format: json }',
  'request_id: X-Trace',
);

t.test('a config with every key', async (t) => {
  const balancing = {
    balance: 'hash',
    hashKey: { from: 'path', name: '' },
    sticky: { cookie: 's', maxAge: 60 },
    queue: { max: 5, timeout: 1000 },
    outlier: { consecutiveFailures: 2, count5xx: true, ejection: 1000, maxEjected: 1 },
    retryBudget: 0.5,
    sendProxy: 0,
    backendTls: null,
  } as const;
  const healthcheck: Healthcheck = { type: 'http', path: '/health?full=1', strictPath: true, expect: [[200, 299], [301, 301]], host: 'app.internal', interval: 2000, timeout: 250, rise: 3, fall: 1 };
  const backup = { ...server('10.0.0.2:8082'), weight: 2, maxConnections: 10, backup: true, slowStart: 5000 };
  t.strictSame(parseConfig(FULL, 'lb.yaml'), {
    listen: [{ host: '0.0.0.0', port: 80, tls: null, redirect: false, proxyProtocol: false }],
    admin: { host: '127.0.0.1', port: 9000, token: null },
    healthcheck,
    timeouts: { connect: 1000, header: 1500, idle: 60000, server: 30000, drain: 5000 },
    limits: { maxRequestLine: 4096, maxHead: 1048576, maxFields: 50, maxConnections: 1000, maxBody: 1048576 },
    requestId: 'X-Trace',
    hosts: [
      { name: 'www.mango.com', servers: [server('localhost:8081'), backup], discover: [], paths: [], balancing: { ...balancing, balance: 'least_conn' }, healthcheck, rules: DEFAULTS.rules },
      { name: '[::1]', servers: [server('[::1]:8083')], discover: [], paths: [], balancing, healthcheck: { ...healthcheck, type: 'tcp', interval: 1000 }, rules: DEFAULTS.rules },
    ],
    paths: [
      { name: '/mango', servers: [server('localhost:8081')], discover: [], paths: [], balancing, healthcheck, rules: DEFAULTS.rules },
      { name: '/', servers: [server('localhost:8082')], discover: [], paths: [], balancing, healthcheck, rules: DEFAULTS.rules },
    ],
    servers: { name: 'default', servers: [server('localhost:8084')], discover: [], paths: [], balancing, healthcheck, rules: DEFAULTS.rules },
    trustedProxies: ['10.0.0.0/8', '::1', '192.168.1.7'],
    resolvers: [],
    log: { format: 'json' },
  } satisfies Config);
});

t.test('listen and admin addresses', async (t) => {
  const listen = (v: string) => {
    const { host, port } = parseConfig(yaml('servers: [a:1]', `listen: ${v}`), 'lb.yaml').listen[0]!;
    return { host, port };
  };
  const admin = (v: string) => parseConfig(yaml('servers: [a:1]', `admin: ${v}`), 'lb.yaml').admin;
  t.strictSame(listen('8080'), { host: '', port: 8080 }, 'a bare port: all interfaces');
  t.strictSame(listen('"8080"'), { host: '', port: 8080 }, 'a bare port as a string');
  t.strictSame(listen('"*:8080"'), { host: '', port: 8080 });
  t.strictSame(listen('":8080"'), { host: '', port: 8080 });
  t.strictSame(listen('localhost:0'), { host: 'localhost', port: 0 }, 'port 0: any free port');
  t.strictSame(listen('"[::]:8080"'), { host: '::', port: 8080 });
  t.strictSame(admin('9000'), { host: '127.0.0.1', port: 9000, token: null }, 'a bare admin port stays on loopback');
  t.strictSame(admin('"*:9000"'), { host: '', port: 9000, token: null }, 'all interfaces when asked');
  t.equal(admin(''), null, 'an empty value is no admin listener');
});

t.test('durations', async (t) => {
  const cases: [unknown, number | null][] = [
    ['250ms', 250],
    ['2s', 2000],
    ['1.5s', 1500],
    ['.5s', 500],
    ['1m', 60000],
    ['1h', 3600000],
    ['0s', 0],
    ['750', 750],
    [' 2s ', 2000],
    [1200, 1200],
    [0.4, 0],
    [1.5, 2],
    [-1, null],
    [Infinity, null],
    [NaN, null],
    ['-1s', null],
    ['2 s', null],
    ['2sec', null],
    ['1.s', null],
    ['s', null],
    ['', null],
    [true, null],
    [null, null],
    [{}, null],
  ];
  for (const [input, ms] of cases) t.equal(parseDuration(input), ms, JSON.stringify(input) ?? String(input));
});

t.test('sizes and counts in limits', async (t) => {
  const limits = (body: string) => parseConfig(yaml('servers: [a:1]', 'limits:', `  ${body}`), 'lb.yaml').limits;
  t.equal(limits('max_head: 20000').maxHead, 20000);
  t.equal(limits('max_head: "20000"').maxHead, 20000);
  t.equal(limits('max_head: 512B').maxHead, 512);
  t.equal(limits('max_head: 16KiB').maxHead, 16384);
  t.equal(limits('max_head: 2MiB').maxHead, 2097152);
  t.equal(limits('max_connections: 0').maxConnections, 0, '0 connections is unlimited');
  t.equal(limits('max_fields: 1').maxFields, 1);
  t.equal(limits('max_head:').maxHead, 16384, 'an empty value keeps the default');
});

/** What `fn` throws, as "Name: message", so that messages are compared whole. */
function thrown(fn: () => unknown): string {
  try {
    fn();
    return 'nothing thrown';
  } catch (err) {
    return `${(err as Error).name}: ${(err as Error).message}`;
  }
}

type Asserts = Pick<typeof t, 'equal'>;

/** Asserts that `text` fails with a ConfigError saying exactly `message`. */
function fails(t: Asserts, text: string, message: string, name = message): void {
  t.equal(thrown(() => parseConfig(text, 'lb.yaml')), `ConfigError: ${message}`, name);
}

t.test('the file as a whole', async (t) => {
  const empty = 'lb.yaml: the file is empty; at least one of hosts, paths or servers is required';
  fails(t, '', empty);
  fails(t, '# only a comment\n', empty, 'only a comment');
  fails(t, '~\n', empty, 'only a null');
  fails(t, 'hello\n', 'lb.yaml:1:1: expected a mapping of settings');
  fails(t, '- a:1\n', 'lb.yaml:1:1: expected a mapping of settings', 'a list');
  fails(t, 'listen: 8080\n', 'lb.yaml: at least one of hosts, paths or servers is required');
  fails(t, yaml('listen: 8080', 'hosts: []', 'paths:'), 'lb.yaml: at least one of hosts, paths or servers is required');
});

t.test('YAML syntax errors: in plain words, at the line and column to change', async (t) => {
  const keys = 'this key is not lined up with the keys above it: the keys of one mapping start in the same column';
  const deeper = 'this key is indented more than the keys above it: the keys of one mapping start in the same column';
  const items = 'this "-" item is not lined up with the items above it: the items of one list start in the same column';
  const keyValue = 'expected "key: value", with a colon and a space after the key';
  const list = 'this "[" list is not closed: end it with "]" (and indent any line it runs on to more than its key)';
  const map = 'this "{" mapping is not closed: end it with "}" (and indent any line it runs on to more than its key)';
  const cases: [string, string, string][] = [
    ['a tab', yaml('servers: [a:1]', '\tlisten: 1'), '2:1: a tab indents this line: YAML indents with spaces only'],
    ['a key indented less', yaml('healthcheck:', '  path: /h', ' interval: 2s', 'servers: [a:1]'), `3:2: ${keys}`],
    ['a key indented more', yaml('healthcheck:', '  path: /h', '    interval: 2s', 'servers: [a:1]'), `3:5: ${deeper}`],
    ['a top-level key indented', yaml('listen: 8080', '  servers: [a:1]'), `2:3: ${deeper}`],
    ['a key between two columns', yaml('hosts:', '  - host: a', '   servers: [a:1]'), `3:4: ${keys}`],
    ['an item indented less', yaml('servers:', '  - a:1', ' - b:1'), `3:2: ${items}`],
    ['an item between two columns', yaml('hosts:', '  - host: a', '    servers:', '    - a:1', '   - b:1'), `5:4: ${items}`],
    ['": " in a value', 'servers: a: b\n', '1:10: a value cannot hold ": " unless it is quoted'],
    ['": " in a value on the last line, with no newline', 'servers: a: b', '1:10: a value cannot hold ": " unless it is quoted'],
    ['an unclosed [', yaml('listen: 8080', 'servers: [a:1'), `2:10: ${list}`],
    ['a [ list running on to a line not indented', yaml('servers: [a:1,', 'b:1]'), `1:10: ${list}`],
    ['an unclosed {', yaml('listen: { address: 1', 'servers: [a:1]'), `1:9: ${map}`],
    ['an unclosed { in a [', 'servers: [a:1, {b: 1]\n', `1:16: ${map}`],
    ['an unclosed "', yaml('listen: "8080', 'servers: [a:1]'), '1:9: this quoted value is not closed: end it with "'],
    ["an unclosed '", yaml('hosts:', "  - host: 'a", '    servers: [a:1]'), "2:11: this quoted value is not closed: end it with '"],
    ['no colon', yaml('servers: [a:1]', 'listen 8080'), `2:1: ${keyValue}`],
    ['a word alone', yaml('servers: [a:1]', 'foo', 'bar: 1'), `2:1: ${keyValue}`],
    ['a key twice', yaml('servers: [a:1]', 'servers: [b:1]'), '2:1: duplicate key "servers" (first at line 1)'],
    ['a key twice in an entry', yaml('hosts:', '  - host: a', '    servers: [a:1]', '    host: b'), '4:5: duplicate key "host" (first at line 2)'],
    ['two documents', yaml('servers: [a:1]', '---', 'servers: [b:1]'), '2:1: a second document begins here ("---"): the configuration is one document'],
    ['a reserved character', yaml('servers: [a:1]', 'listen: @x'), '2:9: a value that starts with "@" must be quoted'],
    ['a directive character', yaml('servers: [a:1]', 'listen: %x'), '2:9: a value that starts with "%" must be quoted'],
    ['a "]" too many', 'servers: [a:1]]\n', '1:15: this "]" closes nothing: no "[" list is open here'],
    ['a "}" too many', yaml('listen: {address: 1}}', 'servers: [a:1]'), '1:21: this "}" closes nothing: no "{" mapping is open here'],
    // Rarer ones keep the parser's words.
    ['a comma too many', 'servers: [a:1,, b:1]\n', '1:15: Unexpected , in flow sequence'],
    ['an empty anchor', 'servers: &\n', '1:10: Anchor cannot be an empty string'],
  ];
  for (const [name, text, message] of cases) fails(t, text, `lb.yaml:${message}`, name);
  t.match(thrown(() => parseConfig('servers: [a:1\n', '/etc/lb/lb.yaml')), /^ConfigError: \/etc\/lb\/lb.yaml:1:10: /, 'the file as given');
});

t.test('aliases are followed', async (t) => {
  const c = parseConfig(yaml('servers: &all [a:1, b:2]', 'paths:', '  - path: /x', '    servers: *all'), 'lb.yaml');
  t.strictSame(c.paths[0]!.servers, c.servers!.servers);
  fails(t, 'servers: *nothing\n', 'lb.yaml:1:10: alias "*nothing" has no anchor "&nothing" before it');
});

t.test('unknown keys', async (t) => {
  fails(t, yaml('healtcheck: {}', 'servers: [a:1]'), 'lb.yaml:1:1: unknown key "healtcheck" (did you mean "healthcheck"?)');
  fails(
    t,
    yaml('servers: [a:1]', 'trustedProxies: []'),
    'lb.yaml:2:1: unknown key "trustedProxies" (did you mean "trusted_proxies"?)',
  );
  fails(t, yaml('server: [a:1]'), 'lb.yaml:1:1: unknown key "server" (did you mean "servers"?)');
  fails(
    t,
    yaml('servers: [a:1]', 'frobnicate: 1'),
    'lb.yaml:2:1: unknown key "frobnicate"; expected one of listen, admin, healthcheck, timeouts, limits, hosts, paths, servers, balance, hash_key, sticky, queue, outlier, retry_budget, send_proxy, backend_tls, trusted_proxies, resolvers, log, request_id',
  );
  fails(t, yaml('servers: [a:1]', 'timeouts:', '  conect: 1s'), 'lb.yaml:3:3: timeouts: unknown key "conect" (did you mean "connect"?)');
  fails(t, yaml('servers: [a:1]', 'limits:', '  max-head: 1'), 'lb.yaml:3:3: limits: unknown key "max-head" (did you mean "max_head"?)');
  fails(t, yaml('servers: [a:1]', 'healthcheck:', '  fail: 3'), 'lb.yaml:3:3: healthcheck: unknown key "fail" (did you mean "fall"?)');
  fails(
    t,
    yaml('paths:', '  - path: /m', '    server: [a:1]'),
    'lb.yaml:3:5: paths[0]: unknown key "server" (did you mean "servers"?)',
  );
  fails(
    t,
    yaml('servers: [a:1]', '? [x]', ': 1'),
    'lb.yaml:2:3: unknown key "["x"]"; expected one of listen, admin, healthcheck, timeouts, limits, hosts, paths, servers, balance, hash_key, sticky, queue, outlier, retry_budget, send_proxy, backend_tls, trusted_proxies, resolvers, log, request_id',
    'a key that is not a scalar',
  );
});

t.test('sections of the wrong shape', async (t) => {
  fails(t, yaml('servers: [a:1]', 'timeouts: 5s'), 'lb.yaml:2:11: timeouts: expected a mapping');
  fails(t, yaml('servers: [a:1]', 'healthcheck: [1]'), 'lb.yaml:2:14: healthcheck: expected a mapping');
  fails(t, yaml('servers: [a:1]', 'limits: 5'), 'lb.yaml:2:9: limits: expected a mapping');
  fails(t, 'hosts: {}\n', 'lb.yaml:1:8: hosts: expected a list of {host, servers} entries');
  fails(t, 'paths: /m\n', 'lb.yaml:1:8: paths: expected a list of {path, servers} entries');
  fails(t, 'hosts: [a]\n', 'lb.yaml:1:9: hosts[0]: expected a mapping');
  fails(t, yaml('servers: [a:1]', 'trusted_proxies: 10.0.0.1'), 'lb.yaml:2:18: trusted_proxies: expected a list of addresses or CIDRs');
});

t.test('listen and admin messages', async (t) => {
  const listenHint = 'expected "host:port" or a port, e.g. "127.0.0.1:8080" or 8080';
  fails(t, yaml('servers: [a:1]', 'listen: "a b"'), `lb.yaml:2:9: listen: ${listenHint}`);
  fails(t, yaml('servers: [a:1]', 'listen: 70000'), 'lb.yaml:2:9: listen: port 70000 is out of range (0-65535)');
  fails(t, yaml('servers: [a:1]', 'listen: "*:70000"'), 'lb.yaml:2:9: listen: port 70000 is out of range (0-65535)');
  fails(t, yaml('servers: [a:1]', 'listen: localhost:99999'), 'lb.yaml:2:9: listen: port 99999 is out of range (0-65535)');
  fails(t, yaml('servers: [a:1]', 'listen: localhost:1234567'), 'lb.yaml:2:9: listen: port 1234567 is out of range (0-65535)');
  fails(t, yaml('servers: [a:1]', 'listen: { address: "[::1]:65536" }'), 'lb.yaml:2:20: listen: port 65536 is out of range (0-65535)');
  fails(t, yaml('servers: [a:1]', 'listen: http://0.0.0.0:80/'), 'lb.yaml:2:9: listen: no scheme: write "0.0.0.0:80" without "http://"');
  fails(t, yaml('servers: [a:1]', 'listen: true'), `lb.yaml:2:9: listen: ${listenHint}`);
  fails(t, yaml('servers: [a:1]', 'listen: "::1:8080"'), `lb.yaml:2:9: listen: ${listenHint}`, 'IPv6 without brackets');
  fails(t, yaml('servers: [a:1]', 'listen: "[nope]:8080"'), `lb.yaml:2:9: listen: ${listenHint}`, 'not IPv6 in brackets');
  const adminHint = 'expected "host:port" or a port, e.g. "127.0.0.1:9000" or 9000';
  fails(t, yaml('servers: [a:1]', 'admin: [1]'), `lb.yaml:2:8: admin: ${adminHint}`);
  fails(t, yaml('servers: [a:1]', 'admin: x:y'), `lb.yaml:2:8: admin: ${adminHint}`);
  fails(t, yaml('servers: [a:1]', 'admin: 127.0.0.1:90000'), 'lb.yaml:2:8: admin: port 90000 is out of range (0-65535)');
  fails(t, yaml('servers: [a:1]', 'admin: https://127.0.0.1:9000'), 'lb.yaml:2:8: admin: no scheme: write "127.0.0.1:9000" without "https://"');
});

t.test('healthcheck, timeouts and limits messages', async (t) => {
  const at = (section: string, line: string) => yaml('servers: [a:1]', `${section}:`, `  ${line}`);
  const duration = 'expected a duration like "250ms", "2s", "1m" or a number of milliseconds';
  fails(t, at('timeouts', 'connect: fast'), `lb.yaml:3:12: timeouts.connect: ${duration}`);
  fails(t, yaml('servers: [a:1]', 'timeouts:', '    connect: fast'), `lb.yaml:3:14: timeouts.connect: ${duration}`);
  fails(t, at('timeouts', 'header: -1'), `lb.yaml:3:11: timeouts.header: ${duration}`);
  fails(t, at('timeouts', 'idle: [1s]'), `lb.yaml:3:9: timeouts.idle: ${duration}`);
  fails(t, at('timeouts', 'server: 0'), 'lb.yaml:3:11: timeouts.server: expected a duration greater than 0');
  fails(t, at('healthcheck', 'interval: 0s'), 'lb.yaml:3:13: healthcheck.interval: expected a duration greater than 0');
  fails(t, at('healthcheck', 'timeout: 1 second'), `lb.yaml:3:12: healthcheck.timeout: ${duration}`);
  fails(t, at('healthcheck', 'rise: 0'), 'lb.yaml:3:9: healthcheck.rise: expected a whole number of at least 1');
  fails(t, at('healthcheck', 'fall: 1.5'), 'lb.yaml:3:9: healthcheck.fall: expected a whole number of at least 1');
  fails(t, at('healthcheck', 'fall: "2"'), 'lb.yaml:3:9: healthcheck.fall: expected a whole number of at least 1');
  fails(t, at('healthcheck', 'rise: {}'), 'lb.yaml:3:9: healthcheck.rise: expected a whole number of at least 1');
  fails(t, at('healthcheck', 'path: health'), 'lb.yaml:3:9: healthcheck.path: expected a path starting with "/"');
  fails(t, at('healthcheck', 'path: "/a b"'), 'lb.yaml:3:9: healthcheck.path: expected a path starting with "/"');
  fails(t, at('healthcheck', 'path: [x]'), 'lb.yaml:3:9: healthcheck.path: expected a path starting with "/"');
  fails(t, at('healthcheck', 'type: grpc'), 'lb.yaml:3:9: healthcheck.type: unknown type "grpc"; expected one of http, tcp, none');
  fails(t, yaml('servers: [a:1]', 'healthcheck:', '  type: tcp', '  path: /h'), 'lb.yaml:4:9: healthcheck.path: path is for type: http only, not type: tcp');
  const expect = 'expected statuses like "200", "200-299" or "200-299,301", each 100..599';
  fails(t, at('healthcheck', 'expect: 2xx'), `lb.yaml:3:11: healthcheck.expect: ${expect}`);
  fails(t, at('healthcheck', 'expect: 299-200'), `lb.yaml:3:11: healthcheck.expect: ${expect}`);
  fails(t, at('healthcheck', 'expect: "099"'), `lb.yaml:3:11: healthcheck.expect: ${expect}`);
  fails(t, at('healthcheck', 'expect: 200-600'), `lb.yaml:3:11: healthcheck.expect: ${expect}`);
  fails(t, at('healthcheck', 'host: "a b"'), 'lb.yaml:3:9: healthcheck.host: expected a Host header value like "app.internal", or "" for the server\'s host:port');
  const entry = yaml('paths:', '  - path: /a', '    servers: [a:1]', '    healthcheck: {type: tcp, expect: 200}');
  fails(t, entry, 'lb.yaml:4:38: paths[0].healthcheck.expect: expect is for type: http only, not type: tcp');
  const size = 'expected a size like "8KiB", "1MiB" or a number of bytes';
  fails(t, at('limits', 'max_head: 16KB'), `lb.yaml:3:13: limits.max_head: ${size}`);
  fails(t, at('limits', 'max_head: 1.5KiB'), `lb.yaml:3:13: limits.max_head: ${size}`);
  fails(t, at('limits', 'max_request_line: -1'), `lb.yaml:3:21: limits.max_request_line: ${size}`);
  fails(t, at('limits', 'max_request_line: 1.5'), `lb.yaml:3:21: limits.max_request_line: ${size}`);
  fails(t, at('limits', 'max_head: true'), `lb.yaml:3:13: limits.max_head: ${size}`);
  fails(t, at('limits', 'max_head: [1]'), `lb.yaml:3:13: limits.max_head: ${size}`);
  fails(t, at('limits', 'max_head: 0'), 'lb.yaml:3:13: limits.max_head: expected a size greater than 0');
  fails(t, at('limits', 'max_fields: 0'), 'lb.yaml:3:15: limits.max_fields: expected a whole number of at least 1');
  fails(t, at('limits', 'max_connections: -1'), 'lb.yaml:3:20: limits.max_connections: expected a whole number of at least 0');
});

t.test('servers messages', async (t) => {
  const hint = 'expected "host:port", e.g. "localhost:8081"';
  fails(t, 'servers: [8081]\n', 'lb.yaml:1:11: servers[0]: expected "host:port", not only a port, e.g. "localhost:8081"');
  fails(t, 'servers: ["8081"]\n', `lb.yaml:1:11: servers[0]: ${hint}`);
  fails(t, 'servers: [localhost]\n', `lb.yaml:1:11: servers[0]: ${hint}`);
  fails(t, 'servers: [localhost:0]\n', 'lb.yaml:1:11: servers[0]: port 0 is out of range (1-65535)', 'port 0');
  fails(t, 'servers: [localhost:65536]\n', 'lb.yaml:1:11: servers[0]: port 65536 is out of range (1-65535)', 'port 65536');
  fails(t, 'servers: ["http://localhost:8081"]\n', 'lb.yaml:1:11: servers[0]: no scheme: write "localhost:8081" without "http://"');
  fails(t, 'servers: ["HTTPS://api.test:443/v1"]\n', 'lb.yaml:1:11: servers[0]: no scheme: write "api.test:443" without "HTTPS://"');
  fails(t, 'servers: [{ address: "http://a:1" }]\n', 'lb.yaml:1:22: servers[0].address: no scheme: write "a:1" without "http://"');
  fails(t, 'servers: [":8081"]\n', `lb.yaml:1:11: servers[0]: ${hint}`, 'no host');
  fails(t, 'servers: ["a..b:1"]\n', `lb.yaml:1:11: servers[0]: ${hint}`, 'an empty label');
  fails(t, 'servers: ["[::1:1"]\n', `lb.yaml:1:11: servers[0]: ${hint}`, 'an unclosed bracket');
  fails(t, 'servers: [[a:1]]\n', `lb.yaml:1:11: servers[0]: ${hint}`, 'a list, not a string');
  fails(t, yaml('servers:', '  - a:1', '  - b:2', '  - a:1'), 'lb.yaml:4:5: servers[2]: duplicate server "a:1"');
  fails(t, 'servers: []\n', 'lb.yaml:1:10: servers: expected at least one "host:port" server');
  fails(t, 'servers: localhost:8081\n', 'lb.yaml:1:10: servers: expected a list of "host:port" servers');
  t.strictSame(parseConfig('servers: [" a:1 ", "[fe80::1]:80"]\n', 'lb.yaml').servers!.servers, [
    server('a:1'),
    server('[fe80::1]:80'),
  ]);
});

t.test('hosts messages', async (t) => {
  fails(t, yaml('hosts:', '  - host: a', '  - host: b', '    servers: [a:1]'), 'lb.yaml:2:5: hosts[0]: missing "servers" (or "paths", or "redirect")');
  fails(t, yaml('hosts:', '  - servers: [a:1]'), 'lb.yaml:2:5: hosts[0]: missing "host"');
  fails(
    t,
    yaml('hosts:', '  - host: a', '    servers: [a:1]', '  - host: A:80', '    servers: [a:1]'),
    'lb.yaml:4:11: hosts[1].host: duplicate host "a" (first at line 2)',
  );
  const hint = 'expected a host name like "www.mango.com", or a wildcard like "*.mango.com"';
  fails(t, yaml('hosts:', '  - host: a b', '    servers: [a:1]'), `lb.yaml:2:11: hosts[0].host: ${hint}`);
  fails(t, yaml('hosts:', '  - host: "*mango.com"', '    servers: [a:1]'), `lb.yaml:2:11: hosts[0].host: ${hint}`);
  fails(t, yaml('hosts:', '  - host: "a.*.com"', '    servers: [a:1]'), `lb.yaml:2:11: hosts[0].host: ${hint}`);
  fails(t, yaml('hosts:', '  - host: "*.[::1]"', '    servers: [a:1]'), `lb.yaml:2:11: hosts[0].host: ${hint}`);
  fails(t, yaml('hosts:', '  - host: "*"', '    servers: [a:1]'), `lb.yaml:2:11: hosts[0].host: ${hint}`);
  fails(t, yaml('hosts:', '  - host: "[1:2]"', '    servers: [a:1]'), `lb.yaml:2:11: hosts[0].host: ${hint}`);
  fails(t, yaml('hosts:', '  - host: {}', '    servers: [a:1]'), `lb.yaml:2:11: hosts[0].host: ${hint}`);
  fails(t, yaml('hosts:', '  - host: a', '    servers: []'), 'lb.yaml:3:14: hosts[0].servers: expected at least one "host:port" server');
  fails(t, yaml('hosts:', '  - host: a', '    servers: [x]'), 'lb.yaml:3:15: hosts[0].servers[0]: expected "host:port", e.g. "localhost:8081"');
  const names = parseConfig(
    yaml('hosts:', '  - host: "[::1]:8080"', '    servers: [a:1]', '  - host: Mango.COM', '    servers: [a:1]'),
    'lb.yaml',
  ).hosts.map((p) => p.name);
  t.strictSame(names, ['[::1]', 'mango.com']);
  t.strictSame(parseConfig(yaml('hosts:', '  - host: "*.Mango.com:443"', '    servers: [a:1]'), 'lb.yaml').hosts[0]!.name, '*.mango.com', 'a wildcard, lower-cased, port removed');
  fails(t, yaml('hosts:', '  - host: "*.a.com"', '    servers: [a:1]', '  - host: "*.A.com"', '    servers: [a:1]'), 'lb.yaml:4:11: hosts[1].host: duplicate host "*.a.com" (first at line 2)');
});

t.test('a hosts entry with its own paths: named host + prefix, options from the host, no servers needed', async (t) => {
  const config = parseConfig(
    yaml(
      'balance: least_conn',
      'hosts:',
      '  - host: shop.test',
      '    balance: random',
      '    healthcheck: { path: /up }',
      '    paths:',
      '      - path: /api/',
      '        servers: [api:1]',
      '      - path: /static',
      '        balance: round_robin',
      '        servers: [static:1]',
      '  - host: "*.shop.test"',
      '    servers: [any:1]',
      '    paths: [{path: /, servers: [root:1]}]',
    ),
    'lb.yaml',
  );
  const [shop, any] = config.hosts as [Pool, Pool];
  t.strictSame([shop.servers, shop.discover], [[], []], 'no servers of its own');
  t.strictSame(shop.paths.map((p) => [p.name, p.balancing.balance, p.healthcheck.path]), [
    ['shop.test/api', 'random', '/up'],
    ['shop.test/static', 'round_robin', '/up'],
  ]);
  t.strictSame(any.paths.map((p) => p.name), ['*.shop.test/']);
  t.strictSame(poolsOf(config).map((p) => p.name), ['shop.test/api', 'shop.test/static', '*.shop.test/', '*.shop.test'], 'routing order: a host\'s paths, then the host');
  t.match(
    describeConfig(config),
    /\nhost {9}shop\.test, balance random\n {2}checked by GET \/up every 5s, timeout 1s, rise 2, fall 2\n {2}no servers of its own: a request none of its paths match goes on\npath {9}shop\.test\/api, balance random\n/,
  );
  fails(t, yaml('hosts:', '  - host: a', '    paths:', '      - path: /x', '        servers: [a:1]', '      - path: /x/', '        servers: [a:1]'), 'lb.yaml:6:15: hosts[0].paths[1].path: duplicate path "a/x" (first at line 4)');
  fails(t, yaml('hosts:', '  - host: a', '    paths: [{path: /x}]'), 'lb.yaml:3:13: hosts[0].paths[0]: missing "servers" (or "redirect")');
  fails(t, yaml('hosts:', '  - host: a', '    paths: [{path: /x, paths: []}]'), 'lb.yaml:3:24: hosts[0].paths[0]: unknown key "paths" (did you mean "path"?)');
  const hashed = parseConfig(yaml('hosts:', '  - host: a', '    balance: hash', '    hash_key: path', '    paths: [{path: /x, servers: [a:1]}]'), 'lb.yaml');
  t.strictSame(hashed.hosts[0]!.paths[0]!.balancing.hashKey, { from: 'path', name: '' }, 'a path under a hash host hashes as the host does');
  fails(t, yaml('hosts:', '  - host: a', '    balance: hash', '    hash_key: path', '    servers: [a:1]', '    paths: [{path: /x, hash_key: "", servers: [a:1]}]'), 'lb.yaml:6:34: hosts[0].paths[0].hash_key: expected header:NAME, cookie:NAME, query:NAME, path or source');
});

t.test('paths messages', async (t) => {
  const hint = 'expected a path prefix starting with "/", e.g. "/mango"';
  fails(t, yaml('paths:', '  - path: mango', '    servers: [a:1]'), `lb.yaml:2:11: paths[0].path: ${hint}`);
  fails(t, yaml('paths:', '  - path: "/a b"', '    servers: [a:1]'), `lb.yaml:2:11: paths[0].path: ${hint}`);
  fails(
    t,
    yaml('paths:', '  - path: /mango?x', '    servers: [a:1]'),
    'lb.yaml:2:11: paths[0].path: a path prefix cannot hold a query ("?") or fragment ("#")',
  );
  fails(
    t,
    yaml('paths:', '  - path: /mango/', '    servers: [a:1]', '  - path: /mango', '    servers: [a:1]'),
    'lb.yaml:4:11: paths[1].path: duplicate path "/mango" (first at line 2)',
  );
  fails(t, yaml('paths:', '  - path: /m'), 'lb.yaml:2:5: paths[0]: missing "servers" (or "redirect")');
  fails(t, yaml('paths:', '  - servers: [a:1]'), 'lb.yaml:2:5: paths[0]: missing "path"');
  const names = parseConfig(
    yaml('paths:', '  - path: //', '    servers: [a:1]', '  - path: /Mango//', '    servers: [a:1]'),
    'lb.yaml',
  ).paths.map((p) => p.name);
  t.strictSame(names, ['/', '/Mango'], 'trailing slashes go, the root stays, case is kept');
});

t.test('trusted_proxies messages', async (t) => {
  const hint = 'expected an IP address or CIDR, e.g. "10.0.0.0/8" or "::1"';
  for (const bad of ['10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/x', 'nope', '10.0.0.256', 'fe80::/-1']) {
    fails(t, yaml('servers: [a:1]', `trusted_proxies: ["${bad}"]`), `lb.yaml:2:19: trusted_proxies[0]: ${hint}`, bad);
  }
  t.strictSame(
    parseConfig(yaml('servers: [a:1]', 'trusted_proxies: [0.0.0.0/0, "::/0", "fe80::1%eth0"]'), 'lb.yaml').trustedProxies,
    ['0.0.0.0/0', '::/0', 'fe80::1%eth0'],
  );
});

t.test('isTrustedProxy', async (t) => {
  const trusted = ['10.0.0.0/8', '192.168.1.7', '2001:db8::/32', '::1', '172.16.0.0/12', 'not an address'];
  const cases: [string, boolean][] = [
    ['10.1.2.3', true],
    ['11.0.0.1', false],
    ['192.168.1.7', true],
    ['192.168.1.8', false],
    ['172.31.255.255', true],
    ['172.32.0.0', false],
    ['::ffff:10.9.9.9', true],
    ['::ffff:192.168.1.7', true],
    ['::FFFF:0a01:0203', true],
    ['::ffff:11.0.0.1', false],
    ['2001:db8:1::5', true],
    ['2001:db9::1', false],
    ['::1', true],
    ['0:0:0:0:0:0:0:1', true],
    ['::', false],
    ['::2', false],
    ['fe80::1%eth0', false],
    ['', false],
    ['garbage', false],
  ];
  for (const [address, expected] of cases) t.equal(isTrustedProxy(address, trusted), expected, address);
  t.equal(isTrustedProxy('10.0.0.1', []), false, 'an empty list trusts no one');
  t.equal(isTrustedProxy('10.0.0.1', ['10.0.0.1/8']), true, 'host bits in a CIDR are ignored');
  t.equal(isTrustedProxy('10.0.0.1', ['::ffff:10.0.0.0/104']), true, 'an IPv4 address matches a mapped CIDR');
  t.equal(isTrustedProxy('fe80::1%eth0', ['fe80::/10']), true, 'a zone is ignored');
  t.equal(isTrustedProxy('1.2.3.4', ['0.0.0.0/0']), true);
  t.equal(isTrustedProxy('2001::1', ['0.0.0.0/0']), false, '0.0.0.0/0 is every IPv4 address, not every address');
  t.equal(isTrustedProxy('2001::1', ['::/0']), true);
});

t.test('loadConfig', async (t) => {
  const dir = t.testdir({ 'lb.yaml': 'servers: [localhost:8081]\n', 'bad.yaml': 'servers: [8081]\n', sub: {} });
  t.equal(loadConfig(join(dir, 'lb.yaml')).config.servers!.servers[0]!.name, 'localhost:8081');
  t.equal(
    thrown(() => loadConfig(join(dir, 'bad.yaml'))),
    `ConfigError: ${join(dir, 'bad.yaml')}:1:11: servers[0]: expected "host:port", not only a port, e.g. "localhost:8081"`,
  );
  t.equal(
    thrown(() => loadConfig(join(dir, 'missing.yaml'))),
    `ConfigError: cannot read ${join(dir, 'missing.yaml')}: ENOENT: no such file or directory`,
  );
  t.equal(
    thrown(() => loadConfig(join(dir, 'sub'))),
    `ConfigError: cannot read ${join(dir, 'sub')}: EISDIR: illegal operation on a directory`,
  );
  t.match(thrown(() => loadConfig('a\0b')), /^ConfigError: cannot read a\0b: The argument 'path' must be/, 'not a system error');
});

t.test('places: where the TLS files and each server are written, for the checks after parsing', async (t) => {
  const { config, places } = parseConfigWithPlaces(
    yaml(
      'listen:',
      '  address: 127.0.0.1:8443',
      '  tls:',
      '    cert: c.pem',
      '    key:  k.pem',
      'hosts:',
      '  - host: a.test',
      '    servers: [a:1, "b:2"]',
      'paths:',
      '  - path: /x',
      '    servers:',
      '      - { address: b:2, weight: 2 }',
      'servers: [c:3]',
    ),
    '/etc/lb/lb.yaml',
  );
  t.equal(config.listen[0]!.tls!.certs[0]!.key, '/etc/lb/k.pem');
  t.strictSame(places.tls, [[{
    cert: { file: '/etc/lb/lb.yaml', line: 4, col: 11, path: 'listen.tls.cert' },
    key: { file: '/etc/lb/lb.yaml', line: 5, col: 11, path: 'listen.tls.key' },
  }]]);
  t.strictSame([...places.servers], [
    ['a:1', { file: '/etc/lb/lb.yaml', line: 8, col: 15, path: 'hosts[0].servers[0]' }],
    ['b:2', { file: '/etc/lb/lb.yaml', line: 8, col: 20, path: 'hosts[0].servers[1]' }],
    ['c:3', { file: '/etc/lb/lb.yaml', line: 13, col: 11, path: 'servers[0]' }],
  ], 'a server in several pools: where it is first written');
  t.strictSame(parseConfigWithPlaces('servers: [a:1]\n', 'lb.yaml').places.tls, [], 'no TLS, no places for it');
});

t.test('healthcheck: an entry\'s fields over the top level\'s; expect as a number; an empty host', async (t) => {
  const c = parseConfig(
    yaml('healthcheck: {path: /up, expect: 200, host: app}', 'hosts:', '  - host: a', '    servers: [a:1]', '    healthcheck: {host: "", rise: 5}', 'servers: [b:1]'),
    'lb.yaml',
  );
  t.same(c.hosts[0]!.healthcheck, { ...c.healthcheck, host: '', rise: 5 });
  t.same(c.healthcheck, { ...HEALTHCHECK, path: '/up', strictPath: true, expect: [[200, 200]], host: 'app' });
  t.same(c.servers!.healthcheck, c.healthcheck, 'the default pool is checked as the top level says');
  t.not(c.hosts[0]!.healthcheck.expect, c.healthcheck.expect, 'no two pools share an array');
});

t.test('describeConfig: a pool checked its own way says how', async (t) => {
  const text = describeConfig(parseConfig(yaml('healthcheck: {type: none}', 'paths:', '  - path: /a', '    servers: [a:1]', '    healthcheck: {type: http, expect: "200"}'), 'lb.yaml'));
  t.match(text, 'path         /a\n  checked by GET /healthcheck expecting 200 every 5s, timeout 1s, rise 2, fall 2\n  a:1\n');
  t.match(text, 'healthcheck  none (refused connections and outlier only)\n');
});

t.test('describeConfig', async (t) => {
  t.equal(
    describeConfig(parseConfig(FULL, 'lb.yaml')),
    [
      'listen       0.0.0.0:80',
      'admin        127.0.0.1:9000',
      'host         www.mango.com, balance least_conn, sticky cookie s, outlier ejection after 2 failures',
      '  localhost:8081',
      '  10.0.0.2:8082  weight 2, max 10 in flight, backup, slow start 5s',
      'host         [::1], balance hash on path, sticky cookie s, outlier ejection after 2 failures',
      '  checked by TCP connect every 1s, timeout 250ms, rise 3, fall 1',
      '  [::1]:8083',
      'path         /mango, balance hash on path, sticky cookie s, outlier ejection after 2 failures',
      '  localhost:8081',
      'path         /, balance hash on path, sticky cookie s, outlier ejection after 2 failures',
      '  localhost:8082',
      'default      (requests not matched above), balance hash on path, sticky cookie s, outlier ejection after 2 failures',
      '  localhost:8084',
      'healthcheck  GET /health?full=1 expecting 200-299,301 with Host app.internal every 2s, timeout 250ms, rise 3, fall 1',
      'timeouts     connect 1s, header 1500ms, idle 1m, server 30s, drain 5s',
      'limits       request line 4KiB, head 1MiB, 50 fields, 1000 connections',
      'trusted      10.0.0.0/8, ::1, 192.168.1.7',
      '',
    ].join('\n'),
  );
  t.equal(
    describeConfig(
      parseConfig(yaml('listen: 8080', 'paths:', '  - path: /', '    servers: [a:1]', 'limits: {max_head: 1000}'), 'lb.yaml'),
    ),
    [
      'listen       *:8080 (all interfaces)',
      'admin        off',
      'path         /',
      '  a:1',
      'healthcheck  GET /healthcheck every 5s, timeout 1s, rise 2, fall 2',
      'timeouts     connect 3s, header 10s, idle 1m, server 1m, drain 30s',
      'limits       request line 8KiB, head 1000B, 100 fields, unlimited connections',
      'trusted      none',
      '',
    ].join('\n'),
  );
  t.match(describeConfig(parseConfig(yaml('listen: "[::1]:80"', 'servers: [a:1]'), 'lb.yaml')), /^listen {7}\[::1\]:80\n/);
});

t.test('pool options: every key, at the top level, for the default pool', async (t) => {
  const c = parseConfig(
    yaml(
      'servers: [a:1]',
      'balance: hash',
      'hash_key: header:X-User',
      'sticky:',
      '  cookie: sid',
      '  max_age: 3600',
      'queue:',
      '  max: 10',
      '  timeout: 2s',
      'outlier:',
      '  consecutive_failures: 3',
      '  count_5xx: true',
      '  ejection: 10s',
      '  max_ejected: 25%',
      'retry_budget: 10%',
    ),
    'lb.yaml',
  );
  t.strictSame(c.servers!.balancing, {
    balance: 'hash',
    hashKey: { from: 'header', name: 'x-user' },
    sticky: { cookie: 'sid', maxAge: 3600 },
    queue: { max: 10, timeout: 2000 },
    outlier: { consecutiveFailures: 3, count5xx: true, ejection: 10000, maxEjected: 0.25 },
    retryBudget: 0.1,
    sendProxy: 0,
    backendTls: null,
  });
});

t.test('pool options: the defaults, and a mapping written empty', async (t) => {
  const balancing = (...lines: string[]) => parseConfig(yaml('servers: [a:1]', ...lines), 'lb.yaml').servers!.balancing;
  t.strictSame(balancing(), BALANCING, 'nothing written');
  t.strictSame(balancing('sticky: {}').sticky, DEFAULTS.sticky, 'sticky: {} is on, with the defaults');
  t.strictSame(balancing('outlier: {}').outlier, DEFAULTS.outlier, 'outlier: {} is on, with the defaults');
  t.strictSame(balancing('queue: {}').queue, DEFAULTS.balancing.queue);
  t.equal(balancing('outlier:').outlier, null, 'an empty value is as if absent: off');
  t.equal(balancing('sticky:').sticky, null);
  t.strictSame(balancing('outlier: {consecutive_failures: 0}').outlier, { ...DEFAULTS.outlier, consecutiveFailures: 0 }, '0 = off, kept as written');
  t.equal(balancing('queue: {max: 0}').queue.max, 0, 'no waiting room: 503 at once');
});

t.test('pool options: an entry overrides the top level, a mapping field by field', async (t) => {
  const c = parseConfig(
    yaml(
      'balance: least_conn',
      'hash_key: header:X-User',
      'sticky: {cookie: sid}',
      'queue: {max: 10}',
      'outlier: {ejection: 10s}',
      'retry_budget: 10%',
      'hosts:',
      '  - host: a',
      '    servers: [a:1]',
      '    balance: hash',
      '    sticky: {max_age: 1h}',
      '    queue: {timeout: 1s}',
      '    outlier: {count_5xx: true}',
      '    retry_budget: 0.5',
      '  - host: b',
      '    servers: [a:1]',
      'paths:',
      '  - path: /c',
      '    servers: [a:1]',
      '    hash_key: cookie:Session',
      '    sticky: {cookie: other, max_age: 60}',
      '    outlier: {consecutive_failures: 2, count_5xx: true, ejection: 1m, max_ejected: 1}',
      'servers: [a:1]',
    ),
    'lb.yaml',
  );
  const top = {
    balance: 'least_conn',
    hashKey: { from: 'header', name: 'x-user' },
    sticky: { cookie: 'sid', maxAge: 0 },
    queue: { max: 10, timeout: 5000 },
    outlier: { ...DEFAULTS.outlier, ejection: 10000 },
    retryBudget: 0.1,
    sendProxy: 0,
    backendTls: null,
  };
  t.strictSame(
    c.hosts[0]!.balancing,
    {
      balance: 'hash',
      hashKey: { from: 'header', name: 'x-user' },
      sticky: { cookie: 'sid', maxAge: 3600 },
      queue: { max: 10, timeout: 1000 },
      outlier: { ...DEFAULTS.outlier, ejection: 10000, count5xx: true },
      retryBudget: 0.5,
      sendProxy: 0,
      backendTls: null,
    },
    'scalars replace; mappings are merged over the top level',
  );
  t.strictSame(c.hosts[1]!.balancing, top, 'an entry without options: the top level');
  t.strictSame(
    c.paths[0]!.balancing,
    {
      ...top,
      hashKey: { from: 'cookie', name: 'Session' },
      sticky: { cookie: 'other', maxAge: 60 },
      outlier: { consecutiveFailures: 2, count5xx: true, ejection: 60000, maxEjected: 1 },
    },
    'every field of a mapping overridden',
  );
  t.strictSame(c.servers!.balancing, top, 'the default pool: the top level');
  t.not(c.hosts[1]!.balancing.sticky, c.servers!.balancing.sticky, 'no two pools share an object');

  const alone = parseConfig(
    yaml('hosts:', '  - host: a', '    servers: [a:1]', '    sticky: {max_age: 5m}', '    outlier: {max_ejected: 10%}', 'servers: [a:1]'),
    'lb.yaml',
  );
  t.strictSame(alone.hosts[0]!.balancing.sticky, { cookie: 'lb_server', maxAge: 300 }, 'over the built-in defaults when the top level has none');
  t.strictSame(alone.hosts[0]!.balancing.outlier, { ...DEFAULTS.outlier, maxEjected: 0.1 });
  t.strictSame(alone.servers!.balancing, BALANCING, 'an entry leaves the other pools alone');
});

t.test('pool options: the values each key takes', async (t) => {
  const balancing = (line: string) => parseConfig(yaml('servers: [a:1]', 'hash_key: path', line), 'lb.yaml').servers!.balancing;
  for (const policy of ['round_robin', 'least_conn', 'least_request', 'least_latency', 'random', 'hash']) {
    t.equal(balancing(`balance: ${policy}`).balance, policy);
  }
  const hashKeys: [string, unknown][] = [
    ['header:X-User', { from: 'header', name: 'x-user' }],
    ['"header:x_a.b~!#$%&\'*+^`|"', { from: 'header', name: "x_a.b~!#$%&'*+^`|" }],
    ['cookie:SessionID', { from: 'cookie', name: 'SessionID' }],
    ['query:User', { from: 'query', name: 'User' }],
    ['query:a[b]', { from: 'query', name: 'a[b]' }],
    ['path', { from: 'path', name: '' }],
    ['source', { from: 'source', name: '' }],
    ['" source "', { from: 'source', name: '' }],
  ];
  for (const [value, key] of hashKeys) {
    t.strictSame(parseConfig(yaml('servers: [a:1]', `hash_key: ${value}`), 'lb.yaml').servers!.balancing.hashKey, key, value);
  }
  const maxAges: [string, number][] = [
    ['0', 0],
    ['3600', 3600],
    ['"60"', 60],
    ['90s', 90],
    ['30m', 1800],
    ['1h', 3600],
    ['0.5m', 30],
    ['2000ms', 2],
  ];
  for (const [value, seconds] of maxAges) t.equal(balancing(`sticky: {max_age: ${value}}`).sticky!.maxAge, seconds, `max_age ${value}`);
  const shares: [string, number][] = [
    ['20%', 0.2],
    ['0%', 0],
    ['100%', 1],
    ['12.5%', 0.125],
    ['0', 0],
    ['1', 1],
    ['0.3', 0.3],
    ['"0.3"', 0.3],
    ['".5"', 0.5],
  ];
  for (const [value, share] of shares) {
    t.equal(balancing(`retry_budget: ${value}`).retryBudget, share, `retry_budget ${value}`);
    t.equal(balancing(`outlier: {max_ejected: ${value}}`).outlier!.maxEjected, share, `max_ejected ${value}`);
  }
  t.equal(balancing('outlier: {ejection: 5m}').outlier!.ejection, 300000, 'the longest ejection may be the first');
});

t.test('the long server form', async (t) => {
  const servers = parseConfig(
    yaml(
      'servers:',
      '  - localhost:8081',
      '  - address: localhost:8082',
      '    weight: 3',
      '    max_connections: 50',
      '    backup: true',
      '    slow_start: 30s',
      '  - {address: "[::1]:8083"}',
      '  - {address: localhost:8084, weight: 0, slow_start: 0, backup: false}',
      '  - {address: localhost:8085, weight: 256}',
    ),
    'lb.yaml',
  ).servers!.servers;
  t.strictSame(servers, [
    server('localhost:8081'),
    { host: 'localhost', port: 8082, name: 'localhost:8082', weight: 3, maxConnections: 50, backup: true, slowStart: 30000 },
    server('[::1]:8083'),
    { ...server('localhost:8084'), weight: 0 },
    { ...server('localhost:8085'), weight: 256 },
  ]);
  t.strictSame(
    parseConfig(yaml('servers:', '  - {address: a:1, weight: 0}', '  - {address: a:2, weight: 0}'), 'lb.yaml').servers!.servers.map((s) => s.weight),
    [0, 0],
    'every weight 0 is valid: the pool answers 503',
  );
  t.strictSame(
    parseConfig(yaml('hosts:', '  - host: a', '    servers: [{address: a:1, backup: true}, a:2]'), 'lb.yaml').hosts[0]!.servers.map((s) => s.backup),
    [true, false],
  );
});

t.test('pool option messages', async (t) => {
  const at = (line: string) => yaml('servers: [a:1]', line);
  const policies = 'expected one of round_robin, least_conn, least_request, least_latency, random, hash';
  fails(t, at('balance: fastest'), `lb.yaml:2:10: balance: unknown policy "fastest"; ${policies}`);
  fails(t, at('balance: least-conn'), `lb.yaml:2:10: balance: unknown policy "least-conn" (did you mean "least_conn"?); ${policies}`);
  fails(t, at('balance: Random'), `lb.yaml:2:10: balance: unknown policy "Random" (did you mean "random"?); ${policies}`);
  fails(t, at('balance: [hash]'), `lb.yaml:2:10: balance: ${policies}`);
  fails(t, at('balance: 1'), `lb.yaml:2:10: balance: unknown policy "1"; ${policies}`);

  const hashKey = 'expected header:NAME, cookie:NAME, query:NAME, path or source';
  fails(t, at('hash_key: url'), `lb.yaml:2:11: hash_key: ${hashKey}`);
  fails(t, at('hash_key: host:x'), `lb.yaml:2:11: hash_key: ${hashKey}`);
  fails(t, at('hash_key: {header: X-User}'), `lb.yaml:2:11: hash_key: ${hashKey}`, 'a space after the colon makes a mapping');
  fails(t, at('hash_key: "Header:X"'), `lb.yaml:2:11: hash_key: ${hashKey}`, 'the source is lower case');
  const header = 'expected a header name after "header:", e.g. "header:X-User"';
  fails(t, at('hash_key: "header:"'), `lb.yaml:2:11: hash_key: ${header}`);
  fails(t, at('hash_key: "header:X User"'), `lb.yaml:2:11: hash_key: ${header}`);
  fails(t, at('hash_key: "header:X:Y"'), `lb.yaml:2:11: hash_key: ${header}`);
  fails(t, at('hash_key: "header:é"'), `lb.yaml:2:11: hash_key: ${header}`, 'not ASCII');
  fails(t, at('hash_key: "header:ĀA"'), `lb.yaml:2:11: hash_key: ${header}`, 'beyond Latin-1');
  const cookie = 'expected a cookie name after "cookie:", e.g. "cookie:session"';
  fails(t, at('hash_key: "cookie:"'), `lb.yaml:2:11: hash_key: ${cookie}`);
  fails(t, at('hash_key: "cookie:a;b"'), `lb.yaml:2:11: hash_key: ${cookie}`);
  const query = 'expected a query parameter name after "query:", e.g. "query:user"';
  fails(t, at('hash_key: "query:"'), `lb.yaml:2:11: hash_key: ${query}`);
  fails(t, at('hash_key: "query:a=b"'), `lb.yaml:2:11: hash_key: ${query}`);
  fails(t, at('hash_key: "query:a b"'), `lb.yaml:2:11: hash_key: ${query}`);

  const hash = 'hash needs hash_key (header:NAME, cookie:NAME, query:NAME, path or source)';
  fails(t, at('balance: hash'), `lb.yaml:2:10: balance: ${hash}`);
  fails(
    t,
    yaml('hosts:', '  - host: a', '    servers: [a:1]', '    balance: hash'),
    `lb.yaml:4:14: hosts[0].balance: ${hash}`,
  );
  fails(
    t,
    yaml('balance: hash', 'paths:', '  - path: /a', '    servers: [a:1]', '    hash_key: path', '  - path: /b', '    servers: [a:1]'),
    `lb.yaml:1:10: balance: ${hash}`,
    'an entry that inherits hash without a key: at the top-level balance',
  );
  t.equal(
    parseConfig(yaml('balance: hash', 'hosts:', '  - host: a', '    servers: [a:1]', '    hash_key: source'), 'lb.yaml').hosts[0]!.balancing.balance,
    'hash',
    'every pool with a key of its own: valid',
  );

  fails(t, at('sticky: true'), 'lb.yaml:2:9: sticky: expected a mapping');
  fails(t, at('sticky: {name: x}'), 'lb.yaml:2:10: sticky: unknown key "name"; expected one of cookie, max_age');
  fails(t, at('sticky: {maxage: 1}'), 'lb.yaml:2:10: sticky: unknown key "maxage" (did you mean "max_age"?)');
  const cookieName = `expected a cookie name like "lb_server": letters, digits and !#$%&'*+-.^_\`|~`;
  fails(t, at('sticky: {cookie: "a b"}'), `lb.yaml:2:18: sticky.cookie: ${cookieName}`);
  fails(t, at('sticky: {cookie: "a=b"}'), `lb.yaml:2:18: sticky.cookie: ${cookieName}`);
  fails(t, at('sticky: {cookie: [x]}'), `lb.yaml:2:18: sticky.cookie: ${cookieName}`);
  const maxAge = 'expected whole seconds, e.g. 3600, or a duration in whole seconds like "1h"; 0 = a session cookie';
  for (const bad of ['-1', '1.5', '1500ms', '1.5s', 'forever', 'true', '[1]', '"1 h"', '99999999999999999999', '"99999999999999999999"']) {
    fails(t, at(`sticky: {max_age: ${bad}}`), `lb.yaml:2:19: sticky.max_age: ${maxAge}`, `max_age ${bad}`);
  }

  fails(t, at('queue: 10'), 'lb.yaml:2:8: queue: expected a mapping');
  fails(t, at('queue: {max: -1}'), 'lb.yaml:2:14: queue.max: expected a whole number of at least 0');
  fails(t, at('queue: {timeout: 0}'), 'lb.yaml:2:18: queue.timeout: expected a duration greater than 0');
  fails(t, at('queue: {size: 1}'), 'lb.yaml:2:9: queue: unknown key "size"; expected one of max, timeout');

  fails(t, at('outlier: true'), 'lb.yaml:2:10: outlier: expected a mapping');
  fails(t, at('outlier: {consecutive_failures: -1}'), 'lb.yaml:2:33: outlier.consecutive_failures: expected a whole number of at least 0');
  fails(t, at('outlier: {count_5xx: yes}'), 'lb.yaml:2:22: outlier.count_5xx: expected true or false');
  fails(t, at('outlier: {count_5xx: 1}'), 'lb.yaml:2:22: outlier.count_5xx: expected true or false');
  fails(t, at('outlier: {ejection: 0s}'), 'lb.yaml:2:21: outlier.ejection: expected a duration greater than 0');
  fails(t, at('outlier: {ejection: 6m}'), 'lb.yaml:2:21: outlier.ejection: expected at most 5m: each further ejection doubles it, up to 5m');
  const share = 'expected a percentage like "20%" or a number from 0 to 1';
  fails(t, at('outlier: {max_ejected: 50}'), `lb.yaml:2:24: outlier.max_ejected: ${share}`, 'not read as 50%');
  fails(t, at('outlier: {count-5xx: true}'), 'lb.yaml:2:11: outlier: unknown key "count-5xx" (did you mean "count_5xx"?)');
  for (const bad of ['101%', '-1%', '1.5', '-0.1', '"50 %"', 'half', 'true', '[1]', '.inf', '.nan']) {
    fails(t, at(`retry_budget: ${bad}`), `lb.yaml:2:15: retry_budget: ${share}`, `retry_budget ${bad}`);
  }

  fails(
    t,
    yaml('paths:', '  - path: /a', '    servers: [a:1]', '    sticky: {cookie: "a b"}'),
    `lb.yaml:4:22: paths[0].sticky.cookie: ${cookieName}`,
    'an entry\'s path names the entry',
  );
  fails(t, yaml('hosts:', '  - host: a', '    servers: [a:1]', '    balanse: hash'), 'lb.yaml:4:5: hosts[0]: unknown key "balanse" (did you mean "balance"?)');
  fails(t, yaml('hosts:', '  - host: a', '    servers: [a:1]', '    queue: {max: x}'), 'lb.yaml:4:18: hosts[0].queue.max: expected a whole number of at least 0');
});

t.test('long server form messages', async (t) => {
  const at = (...lines: string[]) => yaml('servers:', ...lines);
  fails(t, at('  - weight: 2'), 'lb.yaml:2:5: servers[0]: missing "address"');
  fails(t, at('  - {address: localhost:8081, discover: x:1}'), 'lb.yaml:2:31: servers[0]: "address" and "discover" cannot both be set: an item is a server, or a name to discover servers by');
  fails(t, at('  - {address: a:1, wieght: 2}'), 'lb.yaml:2:20: servers[0]: unknown key "wieght" (did you mean "weight"?)');
  fails(t, at('  - address: 8081'), 'lb.yaml:2:14: servers[0].address: expected "host:port", not only a port, e.g. "localhost:8081"');
  fails(t, at('  - address: localhost'), 'lb.yaml:2:14: servers[0].address: expected "host:port", e.g. "localhost:8081"');
  fails(t, at('  - a:1', '  - address: a:1'), 'lb.yaml:3:14: servers[1].address: duplicate server "a:1"');
  fails(t, at('  - address: a:1', '  - a:1'), 'lb.yaml:3:5: servers[1]: duplicate server "a:1"');
  fails(t, at('  - {address: a:1, weight: 257}'), 'lb.yaml:2:28: servers[0].weight: expected a whole number from 0 to 256');
  fails(t, at('  - {address: a:1, weight: -1}'), 'lb.yaml:2:28: servers[0].weight: expected a whole number from 0 to 256');
  fails(t, at('  - {address: a:1, weight: 1.5}'), 'lb.yaml:2:28: servers[0].weight: expected a whole number from 0 to 256');
  fails(t, at('  - {address: a:1, max_connections: -1}'), 'lb.yaml:2:37: servers[0].max_connections: expected a whole number of at least 0');
  fails(t, at('  - {address: a:1, backup: "yes"}'), 'lb.yaml:2:28: servers[0].backup: expected true or false');
  fails(
    t,
    at('  - {address: a:1, slow_start: soon}'),
    'lb.yaml:2:32: servers[0].slow_start: expected a duration like "250ms", "2s", "1m" or a number of milliseconds',
  );
  fails(t, at('  - {address: a:1, backup: true}'), 'lb.yaml:2:3: servers: every server is a backup: at least one must not be');
  fails(
    t,
    yaml('hosts:', '  - host: a', '    servers:', '      - {address: a:1, backup: true}', '      - {address: a:2, backup: true}'),
    'lb.yaml:4:7: hosts[0].servers: every server is a backup: at least one must not be',
  );
});

t.test('parseSeconds and parseShare', async (t) => {
  const seconds: [unknown, number | null][] = [
    [0, 0],
    [60, 60],
    ['60', 60],
    [' 1h ', 3600],
    ['1000ms', 1],
    [1.5, null],
    [-1, null],
    [NaN, null],
    ['1.5s', null],
    ['1e3', null],
    ['', null],
    [true, null],
    [null, null],
  ];
  for (const [input, expected] of seconds) t.equal(parseSeconds(input), expected, `seconds ${JSON.stringify(input)}`);
  const shares: [unknown, number | null][] = [
    [0, 0],
    [0.25, 0.25],
    [1, 1],
    ['25%', 0.25],
    [' 25% ', 0.25],
    ['.5%', 0.005],
    ['1', 1],
    [1.01, null],
    [-0, 0],
    [NaN, null],
    [Infinity, null],
    ['%', null],
    ['1e-1', null],
    [null, null],
    [{}, null],
  ];
  for (const [input, expected] of shares) t.equal(parseShare(input), expected, `share ${JSON.stringify(input)}`);
});

t.test('describeConfig: how each pool balances, and each server\'s long-form settings', async (t) => {
  const c = parseConfig(
    yaml(
      'balance: least_conn',
      'hosts:',
      '  - host: a',
      '    balance: hash',
      '    hash_key: header:X-User',
      '    sticky: {cookie: sid}',
      '    outlier: {}',
      '    servers:',
      '      - {address: a:1, weight: 3, max_connections: 50, backup: true, slow_start: 30s}',
      '      - a:2',
      '  - host: b',
      '    balance: hash',
      '    hash_key: source',
      '    outlier: {consecutive_failures: 0}',
      '    servers: [{address: b:1, weight: 0}]',
      'paths:',
      '  - path: /',
      '    balance: round_robin',
      '    servers: [c:1]',
      'servers: [d:1]',
    ),
    'lb.yaml',
  );
  t.equal(
    describeConfig(c).split('\n').slice(2, 11).join('\n'),
    [
      'host         a, balance hash on header:x-user, sticky cookie sid, outlier ejection after 5 failures',
      '  a:1  weight 3, max 50 in flight, backup, slow start 30s',
      '  a:2',
      'host         b, balance hash on source',
      '  b:1  weight 0',
      'path         /',
      '  c:1',
      'default      (requests not matched above), balance least_conn',
      '  d:1',
    ].join('\n'),
  );
  const tls = parseConfig(yaml('listen: {address: 8443, tls: {cert: c.pem, key: k.pem}}', 'servers: [a:1]'), '/etc/lb/lb.yaml');
  t.match(describeConfig(tls), /^listen {7}\*:8443 \(all interfaces\), TLS with \/etc\/lb\/c\.pem\n/, 'and the listener\'s TLS');
});

t.test('admin: the long form with token_file; the token is the first line of the file, 32 characters or more', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lb-token-'));
  const good = 'a'.repeat(40);
  writeFileSync(join(dir, 'token'), `  ${good}  \nsecond line\n`);
  writeFileSync(join(dir, 'short'), 'abc\n');
  const file = join(dir, 'lb.yaml');
  const admin = (v: string) => parseConfig(yaml('servers: [a:1]', `admin: ${v}`), file).admin;
  t.strictSame(admin('{ address: 9000, token_file: token }'), { host: '127.0.0.1', port: 9000, token: good }, 'relative to the config file');
  t.strictSame(admin('{ address: "127.0.0.1:9001" }'), { host: '127.0.0.1', port: 9001, token: null }, 'no token_file: read-only');
  t.throws(() => admin('{ token_file: token }'), { message: `${file}:2:8: admin: address is required, e.g. "127.0.0.1:9000"` });
  t.throws(() => admin('{ address: 9000, token_file: short }'), {
    message: `${file}:2:37: admin.token_file: the token in ${join(dir, 'short')} has 3 characters; at least 32 are needed (e.g. openssl rand -hex 32)`,
  });
  t.throws(() => admin('{ address: 9000, token_file: nosuch }'), { message: `${file}:2:37: admin.token_file: cannot read ${join(dir, 'nosuch')}: ENOENT` });
  t.throws(() => admin('{ address: 9000, token_file: [x] }'), { message: /admin\.token_file: expected the path of a file holding the token/ });
});

t.test('discover items and resolvers', async (t) => {
  const config = parseConfig(
    yaml(
      'resolvers: [127.0.0.1, "127.0.0.1:5353", "::1", "[::1]:5353", "[fd00::1]"]',
      'servers:',
      '  - localhost:8081',
      '  - discover: api.internal:8080',
      '  - discover: _http._tcp.api.internal',
      '    refresh: 5s',
      '    weight: 2',
      '    max_connections: 10',
      '    backup: true',
      '    slow_start: 1s',
    ),
    'lb.yaml',
  );
  t.strictSame(config.resolvers, ['127.0.0.1:53', '127.0.0.1:5353', '[::1]:53', '[::1]:5353', '[fd00::1]:53']);
  t.strictSame(config.servers!.servers.map((s) => s.name), ['localhost:8081']);
  t.strictSame(config.servers!.discover, [
    { name: 'api.internal:8080', kind: 'address', host: 'api.internal', port: 8080, refresh: 30_000, weight: null, maxConnections: 0, backup: false, slowStart: 0 },
    { name: '_http._tcp.api.internal', kind: 'srv', host: '_http._tcp.api.internal', port: 0, refresh: 5000, weight: 2, maxConnections: 10, backup: true, slowStart: 1000 },
  ]);
  t.strictSame(parseConfig(yaml('servers: [{discover: "_ldap._udp.x.y."}]'), 'lb.yaml').servers!.discover[0]!.kind, 'srv', 'a trailing dot, udp');
  t.match(
    describeConfig(config),
    /default {6}\(requests not matched above\)\n {2}localhost:8081\n {2}discover api\.internal:8080 \(A\/AAAA records, refresh 30s\)\n {2}discover _http\._tcp\.api\.internal \(SRV records, refresh 5s\) {2}weight 2, max 10 in flight, backup, slow start 1s\n/,
  );
  t.match(describeConfig(config), /\nresolvers {4}127\.0\.0\.1:53, 127\.0\.0\.1:5353, \[::1\]:53, \[::1\]:5353, \[fd00::1\]:53\n$/);
  t.notMatch(describeConfig(parseConfig('servers: [a:1]', 'lb.yaml')), /resolvers/, 'none set: the system\'s, not said');
  t.strictSame(parseConfig(yaml('servers: [{discover: "a.b:1", backup: true}, {address: "c:1"}]'), 'lb.yaml').servers!.discover[0]!.backup, true, 'a discovered backup beside a server');

  const hint = 'expected "name:port" (its A and AAAA records) or "_service._tcp.name" (its SRV records)';
  const at = (...lines: string[]) => yaml('servers:', ...lines);
  fails(t, at('  - {discover: api.internal}'), `lb.yaml:2:16: servers[0].discover: ${hint}`);
  fails(t, at('  - {discover: }'), `lb.yaml:2:5: servers[0].discover: ${hint}`);
  fails(t, at('  - {discover: [a]}'), `lb.yaml:2:16: servers[0].discover: ${hint}`);
  fails(t, at('  - {discover: "http://api.internal:80"}'), 'lb.yaml:2:16: servers[0].discover: no scheme: write "api.internal:80" without "http://"');
  fails(t, at('  - {discover: "api.internal:0"}'), `lb.yaml:2:16: servers[0].discover: port 0 is out of range (1-65535)`);
  fails(t, at('  - {discover: "10.0.0.1:80"}'), 'lb.yaml:2:16: servers[0].discover: 10.0.0.1 is an address, not a DNS name: list "10.0.0.1:80" as a server');
  fails(t, at('  - {discover: "a.b:1", refresh: 0}'), 'lb.yaml:2:34: servers[0].refresh: expected a duration greater than 0');
  fails(t, at('  - {discover: "a.b:1", weight: 300}'), 'lb.yaml:2:33: servers[0].weight: expected a whole number from 0 to 256');
  fails(t, at('  - {discover: "a.b:1", adress: x}'), 'lb.yaml:2:25: servers[0]: unknown key "adress"; expected one of discover, refresh, weight, max_connections, backup, slow_start');
  fails(t, at('  - {discover: "a.b:1"}', '  - {discover: "a.b:1"}'), 'lb.yaml:3:16: servers[1].discover: duplicate discover "a.b:1"');
  fails(t, at('  - {discover: "a.b:1", backup: true}'), 'lb.yaml:2:3: servers: every server is a backup: at least one must not be');
  const resolverHint = 'expected a DNS server\'s IP address, e.g. "127.0.0.1" or "127.0.0.1:5353"';
  fails(t, yaml('servers: [a:1]', 'resolvers: [dns.internal]'), `lb.yaml:2:13: resolvers[0]: ${resolverHint}`);
  fails(t, yaml('servers: [a:1]', 'resolvers: ["dns.internal:53"]'), `lb.yaml:2:13: resolvers[0]: ${resolverHint}`);
  fails(t, yaml('servers: [a:1]', 'resolvers: ["127.0.0.1:70000"]'), 'lb.yaml:2:13: resolvers[0]: port 70000 is out of range (1-65535)');
  fails(t, yaml('servers: [a:1]', 'resolvers: 127.0.0.1'), 'lb.yaml:2:12: resolvers: expected a list of DNS server addresses');
});

t.test('route rules: what an entry reads', async (t) => {
  const [api, old] = parseConfig(
    yaml(
      'timeouts: { server: 30s }',
      'paths:',
      '  - path: /api/',
      '    strip_prefix: true',
      '    request_headers:',
      '      set: { X-Env: prod, X-Empty: , X-Alone }',
      '      add: { X-Tag: 7 }',
      '      remove: [X-Debug]',
      '    response_headers: { set: { Strict-Transport-Security: "max-age=63072000" } }',
      '    timeouts: { connect: 1s, server: 2m }',
      '    servers: [a:1]',
      '  - path: /old',
      '    rewrite_prefix: /v2/',
      '    redirect: { location: "https://{host}{path}" }',
    ),
    'lb.yaml',
  ).paths;
  t.strictSame(api!.rules, {
    rewritePrefix: '',
    requestHeaders: { set: [['X-Env', 'prod'], ['X-Empty', ''], ['X-Alone', '']], add: [['X-Tag', '7']], remove: ['X-Debug'] },
    responseHeaders: { set: [['Strict-Transport-Security', 'max-age=63072000']], add: [], remove: [] },
    redirect: null,
    timeouts: { connect: 1000, server: 120000 },
  });
  t.strictSame(old!.rules, { ...DEFAULTS.rules, rewritePrefix: '/v2', redirect: { location: 'https://{host}{path}', code: 308 } }, 'a redirect needs no servers');
  t.same(old!.servers, []);
  const host = parseConfig(yaml('hosts:', '  - { host: a.test, redirect: { location: /x, code: 302 } }'), 'lb.yaml');
  t.same(poolsOf(host).map((p) => p.name), ['a.test'], 'a host that redirects has a pool of its own');
  t.equal(host.hosts[0]!.rules.redirect!.code, 302);
  t.equal(parseConfig(yaml('request_id: ""', 'servers: [a:1]'), 'lb.yaml').requestId, '', 'request_id "" is off');
  t.equal(parseConfig(yaml('limits: { max_body: 0 }', 'servers: [a:1]'), 'lb.yaml').limits.maxBody, 0, 'max_body 0: no limit');
  t.equal(parseConfig(yaml('limits: { max_body: 2MiB }', 'servers: [a:1]'), 'lb.yaml').limits.maxBody, 2 * 1024 * 1024);
  t.equal(
    parseConfig(yaml('request_id: ""', 'paths:', '  - { path: /, servers: [a:1], request_headers: { set: { X-Request-ID: a } } }'), 'lb.yaml').paths[0]!.rules.requestHeaders!.set[0]![0],
    'X-Request-ID',
    'with request ids off, a rule may name that field',
  );
});

t.test('route rules: messages', async (t) => {
  const entry = (...lines: string[]) => yaml('paths:', '  - path: /api', '    servers: [a:1]', ...lines);
  for (const name of ['Content-Length', 'transfer-encoding', 'HOST', 'Connection', 'Keep-Alive', 'Proxy-Connection', 'TE', 'Upgrade', 'Trailer']) {
    fails(t, entry('    request_headers:', `      set: { ${name}: x }`), `lb.yaml:5:14: paths[0].request_headers.set: "${name}" is a hop-by-hop or framing field: rules cannot set, add or remove it`);
  }
  fails(t, entry('    response_headers:', '      add: { X-A: 1, connection: x }'), 'lb.yaml:5:22: paths[0].response_headers.add: "connection" is a hop-by-hop or framing field: rules cannot set, add or remove it');
  fails(t, entry('    response_headers:', '      remove: [Server, Transfer-Encoding]'), 'lb.yaml:5:24: paths[0].response_headers.remove[1]: "Transfer-Encoding" is a hop-by-hop or framing field: rules cannot set, add or remove it');
  fails(t, entry('    request_headers: { set: { x-request-id: a } }'), 'lb.yaml:4:31: paths[0].request_headers.set: "x-request-id" is the request_id field, which the balancer writes (request_id: "" turns that off)');
  fails(t, entry('    request_headers: { set: { "X Env": a } }'), 'lb.yaml:4:31: paths[0].request_headers.set: expected a field name, e.g. X-Env');
  fails(t, entry('    request_headers: { set: { X-Env: "a\\r\\nX-Evil: 1" } }'), 'lb.yaml:4:38: paths[0].request_headers.set.X-Env: a field value may hold visible characters, spaces and tabs only (no CR, LF, NUL or other control characters)');
  fails(t, entry('    request_headers: { add: { X-Env: "a\\u0000" } }'), 'lb.yaml:4:38: paths[0].request_headers.add.X-Env: a field value may hold visible characters, spaces and tabs only (no CR, LF, NUL or other control characters)');
  fails(t, entry('    request_headers: { add: { X-Env: "\\u20ac" } }'), 'lb.yaml:4:38: paths[0].request_headers.add.X-Env: a field value may hold visible characters, spaces and tabs only (no CR, LF, NUL or other control characters)');
  fails(t, entry('    request_headers: { add: { X-Env: [a] } }'), 'lb.yaml:4:38: paths[0].request_headers.add.X-Env: expected a field value (text)');
  fails(t, entry('    request_headers: { add: [X-Env] }'), 'lb.yaml:4:29: paths[0].request_headers.add: expected a mapping of field names to values, e.g. { X-Env: prod }');
  fails(t, entry('    request_headers: { remove: X-Env }'), 'lb.yaml:4:32: paths[0].request_headers.remove: expected a list of field names');
  fails(t, entry('    request_headers: { replace: {} }'), 'lb.yaml:4:24: paths[0].request_headers: unknown key "replace"; expected one of set, add, remove');
  fails(t, entry('    strip_prefix: true', '    rewrite_prefix: /v2'), 'lb.yaml:5:21: paths[0].rewrite_prefix: strip_prefix and rewrite_prefix cannot both be set: strip_prefix is rewrite_prefix "/"');
  fails(t, entry('    rewrite_prefix: v2'), 'lb.yaml:4:21: paths[0].rewrite_prefix: expected a path starting with "/", e.g. "/v2"');
  fails(t, entry('    rewrite_prefix: /v2?x'), 'lb.yaml:4:21: paths[0].rewrite_prefix: expected a path starting with "/", e.g. "/v2"');
  fails(t, entry('    strip_prefix: yes'), 'lb.yaml:4:19: paths[0].strip_prefix: expected true or false');
  fails(t, yaml('hosts:', '  - { host: a, strip_prefix: true, servers: [a:1] }'), 'lb.yaml:2:30: hosts[0].strip_prefix: a hosts entry has no path prefix to strip (strip_prefix is for paths entries)');
  fails(t, entry('    redirect: { code: 301 }'), 'lb.yaml:4:15: paths[0].redirect: missing "location", e.g. "https://{host}{path}"');
  fails(t, entry('    redirect: { location: "" }'), 'lb.yaml:4:27: paths[0].redirect.location: a field value may hold visible characters, spaces and tabs only (no CR, LF, NUL or other control characters)');
  fails(t, entry('    redirect: { location: "https://{hots}/" }'), 'lb.yaml:4:27: paths[0].redirect.location: unknown placeholder "{hots}"; expected {host}, {path} or {scheme}');
  fails(t, entry('    redirect: { location: /x, code: 300 }'), 'lb.yaml:4:37: paths[0].redirect.code: expected 301, 302, 303, 307 or 308');
  fails(t, entry('    redirect: { location: /x, code: [301] }'), 'lb.yaml:4:37: paths[0].redirect.code: expected 301, 302, 303, 307 or 308');
  fails(t, entry('    timeouts: { idle: 1s }'), 'lb.yaml:4:17: paths[0].timeouts: unknown key "idle"; expected one of connect, server');
  fails(t, entry('    timeouts: { server: 0 }'), 'lb.yaml:4:25: paths[0].timeouts.server: expected a duration greater than 0');
  fails(t, yaml('servers: [a:1]', 'request_id: "X Id"'), 'lb.yaml:2:13: request_id: expected a field name like X-Request-ID, or "" for no request ids');
  fails(t, yaml('servers: [a:1]', 'request_id: X-Forwarded-For'), 'lb.yaml:2:13: request_id: "X-Forwarded-For" is a field the balancer reads or writes itself; expected a field name like X-Request-ID, or "" for no request ids');
  fails(t, yaml('servers: [a:1]', 'request_id: Trailer'), 'lb.yaml:2:13: request_id: "Trailer" is a field the balancer reads or writes itself; expected a field name like X-Request-ID, or "" for no request ids');
  fails(t, yaml('servers: [a:1]', 'limits: { max_body: -1 }'), 'lb.yaml:2:21: limits.max_body: expected a size like "8KiB", "1MiB" or a number of bytes');
});
