// The access log's two formats, with a fixed clock.

import t from 'tap';
import { AccessLog, type AccessEntry } from '../src/access-log.js';
import { Logger } from '../src/log.js';

const entry: AccessEntry = { client: '192.0.2.7', method: 'GET', host: 'www.mango.com', path: '/mango?x=1', minor: 1, status: 200, server: '127.0.0.1:8081', bytes: 89, ms: 2.4, code: null };

function capture(format: 'text' | 'json', level: 'info' | 'warn' = 'info') {
  const lines: string[] = [];
  const sink = { write: (s: string) => lines.push(...s.split('\n').filter((l) => l !== '')) };
  const logger = new Logger(level, sink, sink);
  let now = Date.UTC(2026, 10, 21, 16, 14, 26, 500);
  const log = new AccessLog(logger, format, () => now);
  return { lines, logger, log, tick: (ms: number) => (now += ms) };
}

t.test('text: a combined-style line, the time formatted once per second', async (t) => {
  const { lines, logger, log, tick } = capture('text');
  log.write(entry);
  log.write({ ...entry, host: '', minor: 0, status: 0, server: '-', bytes: 0, ms: 0 });
  tick(600);
  log.write(entry);
  logger.flush();
  t.same(lines, [
    '192.0.2.7 - - [21/Nov/2026:16:14:26 +0000] "GET /mango?x=1 HTTP/1.1" 200 89 "www.mango.com" 127.0.0.1:8081 2ms',
    '192.0.2.7 - - [21/Nov/2026:16:14:26 +0000] "GET /mango?x=1 HTTP/1.0" 0 0 "-" - 0ms',
    '192.0.2.7 - - [21/Nov/2026:16:14:27 +0000] "GET /mango?x=1 HTTP/1.1" 200 89 "www.mango.com" 127.0.0.1:8081 2ms',
  ]);
  t.equal(log.enabled, true);
});

t.test('json: one object per line', async (t) => {
  const { lines, logger, log } = capture('json');
  log.write(entry);
  logger.flush();
  t.same(JSON.parse(lines[0]!), { time: '2026-11-21T16:14:26.500Z', client: '192.0.2.7', method: 'GET', host: 'www.mango.com', path: '/mango?x=1', status: 200, server: '127.0.0.1:8081', bytes: 89, ms: 2, code: null });
});

t.test("json: the error code of a response the balancer made (errors.ts)", async (t) => {
  const { lines, logger, log } = capture('json');
  log.write({ ...entry, status: 503, server: '-', code: 'NO_SERVER' });
  logger.flush();
  t.match(JSON.parse(lines[0]!), { status: 503, server: '-', code: 'NO_SERVER' });
});

t.test('below info level nothing is built or written', async (t) => {
  const { lines, logger, log } = capture('text', 'warn');
  t.equal(log.enabled, false);
  log.write(entry);
  logger.flush();
  t.same(lines, []);
});

t.test('log.format in the config', async (t) => {
  const { parseConfig } = await import('../src/config/load.js');
  t.same(parseConfig('servers: ["a:1"]\n', 'lb.yaml').log, { format: 'text' });
  t.same(parseConfig('log: { format: json }\nservers: ["a:1"]\n', 'lb.yaml').log, { format: 'json' });
  t.same(parseConfig('log: {}\nservers: ["a:1"]\n', 'lb.yaml').log, { format: 'text' });
  t.throws(() => parseConfig('log: { format: xml }\nservers: ["a:1"]\n', 'lb.yaml'), { message: 'lb.yaml:1:16: log.format: expected "text" or "json"' });
});
