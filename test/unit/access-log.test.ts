// The access log's two formats, with a fixed clock.

import t from 'tap';
import { AccessLog, quotable, type AccessEntry } from '../../src/access-log.js';
import { Logger } from '../../src/log.js';

const entry: AccessEntry = {
  client: '192.0.2.7',
  method: 'GET',
  path: '/mango?x=1',
  protocol: 'HTTP/1.1',
  host: 'www.mango.com',
  status: 200,
  server: '127.0.0.1:8081',
  bytes: 89,
  ms: 2.4,
  code: null,
  referer: 'https://www.mango.com/',
  userAgent: 'curl/8.5.0',
  requestId: null,
};

function capture(format: 'text' | 'json', level: 'info' | 'warn' = 'info') {
  const lines: string[] = [];
  const sink = { write: (s: string) => lines.push(...s.split('\n').filter((l) => l !== '')) };
  const logger = new Logger(level, sink, sink);
  let now = Date.UTC(2026, 10, 21, 16, 14, 26, 500);
  const log = new AccessLog(logger, format, () => now);
  return { lines, logger, log, tick: (ms: number) => (now += ms) };
}

t.test('text: nginx combined plus host, server, request id, duration and code; the time formatted once per second', async (t) => {
  const { lines, logger, log, tick } = capture('text');
  log.write(entry);
  log.write({ ...entry, host: '', protocol: 'HTTP/1.0', status: 0, server: '-', bytes: 0, ms: 0, referer: null, userAgent: null });
  tick(600);
  log.write({ ...entry, status: 504, server: '-', ms: 60000.2, code: 'UPSTREAM_TIMEOUT' });
  logger.flush();
  t.same(lines, [
    '192.0.2.7 - - [21/Nov/2026:16:14:26 +0000] "GET /mango?x=1 HTTP/1.1" 200 89 "https://www.mango.com/" "curl/8.5.0" www.mango.com 127.0.0.1:8081 - 2ms -',
    '192.0.2.7 - - [21/Nov/2026:16:14:26 +0000] "GET /mango?x=1 HTTP/1.0" 0 0 "-" "-" - - - 0ms -',
    '192.0.2.7 - - [21/Nov/2026:16:14:27 +0000] "GET /mango?x=1 HTTP/1.1" 504 89 "https://www.mango.com/" "curl/8.5.0" www.mango.com - - 60000ms UPSTREAM_TIMEOUT',
  ]);
  t.equal(log.enabled, true);
});

t.test('text: the line split on spaces outside quotes gives every field in its place', async (t) => {
  const { lines, logger, log } = capture('text');
  log.write(entry);
  logger.flush();
  const fields = lines[0]!.match(/"[^"]*"|\[[^\]]*\]|\S+/g)!;
  t.same(fields, [
    '192.0.2.7', // client
    '-', // ident
    '-', // user
    '[21/Nov/2026:16:14:26 +0000]', // time
    '"GET /mango?x=1 HTTP/1.1"', // request line
    '200', // status
    '89', // bytes
    '"https://www.mango.com/"', // referer
    '"curl/8.5.0"', // user agent
    'www.mango.com', // host
    '127.0.0.1:8081', // server
    '-', // request id
    '2ms', // duration
    '-', // code
  ]);
});

t.test('text: a refused request without a request line to show, the balancer\'s code', async (t) => {
  const { lines, logger, log } = capture('text');
  log.write({ ...entry, method: '', path: '', protocol: '', host: '', status: 414, server: '-', bytes: 120, ms: 0, code: 'REQUEST_LINE_TOO_LONG', referer: null, userAgent: null });
  logger.flush();
  t.same(lines, ['192.0.2.7 - - [21/Nov/2026:16:14:26 +0000] "-" 414 120 "-" "-" - - - 0ms REQUEST_LINE_TOO_LONG']);
});

t.test('text: quotes, backslashes, controls and bytes past ASCII are escaped as \\xHH inside quotes', async (t) => {
  const { lines, logger, log } = capture('text');
  log.write({ ...entry, path: '/a"b\\c', referer: 'say "hi"\tthere', userAgent: 'caf\xe9 \x7f' });
  logger.flush();
  t.equal(lines[0], '192.0.2.7 - - [21/Nov/2026:16:14:26 +0000] "GET /a\\x22b\\x5Cc HTTP/1.1" 200 89 "say \\x22hi\\x22\\x09there" "caf\\xE9 \\x7F" www.mango.com 127.0.0.1:8081 - 2ms -');
  t.equal(quotable('plain /path?q=1'), 'plain /path?q=1', 'nothing to escape: the same string');
});

t.test('json: one object per line', async (t) => {
  const { lines, logger, log } = capture('json');
  log.write(entry);
  logger.flush();
  t.strictSame(JSON.parse(lines[0]!), {
    time: '2026-11-21T16:14:26.500Z',
    client: '192.0.2.7',
    method: 'GET',
    host: 'www.mango.com',
    path: '/mango?x=1',
    status: 200,
    server: '127.0.0.1:8081',
    bytes: 89,
    ms: 2,
    code: null,
    referer: 'https://www.mango.com/',
    user_agent: 'curl/8.5.0',
    request_id: null,
  });
});

t.test("json: the error code of a response the balancer made (errors.ts); null for what is missing", async (t) => {
  const { lines, logger, log } = capture('json');
  log.write({ ...entry, status: 503, server: '-', code: 'NO_SERVER', referer: null, userAgent: null });
  log.write({ ...entry, method: '', path: '', protocol: '', host: '', status: 431, server: '-', code: 'HEAD_TOO_LARGE', referer: null, userAgent: null });
  logger.flush();
  t.match(JSON.parse(lines[0]!), { status: 503, server: '-', code: 'NO_SERVER', referer: null, user_agent: null });
  t.match(JSON.parse(lines[1]!), { method: null, path: null, host: '', status: 431, code: 'HEAD_TOO_LARGE' });
});

t.test('below info level nothing is built or written', async (t) => {
  const { lines, logger, log } = capture('text', 'warn');
  t.equal(log.enabled, false);
  log.write(entry);
  logger.flush();
  t.same(lines, []);
});

t.test('log.format in the config', async (t) => {
  const { parseConfig } = await import('../../src/config/load.js');
  t.same(parseConfig('servers: ["a:1"]\n', 'lb.yaml').log, { format: 'text' });
  t.same(parseConfig('log: { format: json }\nservers: ["a:1"]\n', 'lb.yaml').log, { format: 'json' });
  t.same(parseConfig('log: {}\nservers: ["a:1"]\n', 'lb.yaml').log, { format: 'text' });
  t.throws(() => parseConfig('log: { format: xml }\nservers: ["a:1"]\n', 'lb.yaml'), { message: 'lb.yaml:1:16: log.format: expected "text" or "json"' });
});
