// The logger: levels, line format, batching of access lines and flush.

import t from 'tap';
import { LOG_LEVELS, Logger, nodeOptions, ProcessWarnings, silencedBy, type LogLevel } from '../../src/log.js';

/** An output that records each write() separately. */
class Collector {
  writes: string[] = [];
  write(chunk: string): boolean {
    this.writes.push(chunk);
    return true;
  }
  get text(): string {
    return this.writes.join('');
  }
}

const T0 = Date.parse('2026-11-21T14:00:00.000Z');

/** A logger on a clock the test moves, writing to two collectors. */
function setup(level: LogLevel) {
  const out = new Collector();
  const err = new Collector();
  const clock = { now: T0 };
  const logger = new Logger(level, out, err, () => clock.now);
  return { out, err, clock, logger };
}

/** Resolves after the current event-loop turn's immediates have run. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

t.test('line format and streams: every message to err, out left to access lines', async (t) => {
  const { out, err, logger } = setup('debug');
  logger.debug('d');
  logger.info('listening on http://127.0.0.1:8080');
  logger.warn('w');
  logger.error('e');
  t.strictSame(out.writes, []);
  t.strictSame(err.writes, [
    '2026-11-21T14:00:00.000Z DEBUG d\n',
    '2026-11-21T14:00:00.000Z INFO listening on http://127.0.0.1:8080\n',
    '2026-11-21T14:00:00.000Z WARN w\n',
    '2026-11-21T14:00:00.000Z ERROR e\n',
  ]);
});

t.test('json: every message is one JSON object on a line of its own', async (t) => {
  const { out, err, logger } = setup('debug');
  logger.format = 'json';
  logger.debug('d');
  logger.info('listening on http://127.0.0.1:8080');
  logger.warn('a "quoted"\nmessage');
  logger.error('e');
  logger.accessLine('{"status":200}');
  logger.flush();
  t.strictSame(out.writes, ['{"status":200}\n'], 'access lines as access-log.ts made them');
  t.equal(err.writes.length, 4);
  t.ok(err.writes.every((w) => w.endsWith('\n') && w.indexOf('\n') === w.length - 1), 'one line each');
  t.strictSame(
    err.writes.map((w) => JSON.parse(w)),
    [
      { time: '2026-11-21T14:00:00.000Z', level: 'debug', msg: 'd' },
      { time: '2026-11-21T14:00:00.000Z', level: 'info', msg: 'listening on http://127.0.0.1:8080' },
      { time: '2026-11-21T14:00:00.000Z', level: 'warn', msg: 'a "quoted"\nmessage' },
      { time: '2026-11-21T14:00:00.000Z', level: 'error', msg: 'e' },
    ],
  );
});

t.test("a cluster worker's messages name it, in either format", async (t) => {
  const { err, logger } = setup('info');
  logger.worker = 4242;
  logger.info('listening');
  logger.format = 'json';
  logger.warn('slow');
  t.strictSame(err.writes[0], '2026-11-21T14:00:00.000Z INFO worker 4242: listening\n');
  t.strictSame(JSON.parse(err.writes[1]!), { time: '2026-11-21T14:00:00.000Z', level: 'warn', worker: 4242, msg: 'slow' });
});

t.test('each level writes itself and the more severe ones', async (t) => {
  const written: Record<string, string> = {};
  for (const level of LOG_LEVELS) {
    const { out, err, logger } = setup(level);
    logger.debug('debug');
    logger.info('info');
    logger.warn('warn');
    logger.error('error');
    logger.accessLine('GET / 200');
    logger.flush();
    written[level] = (out.text + err.text).replace(/^\S+Z \S+ /gm, '').trim().split('\n').join(' ');
  }
  t.strictSame(written, {
    debug: 'GET / 200 debug info warn error',
    info: 'GET / 200 info warn error',
    warn: 'warn error',
    error: 'error',
    silent: '',
  });
  const { logger } = setup('warn');
  t.strictSame(
    LOG_LEVELS.map((level) => logger.enabled(level)),
    [false, false, true, true, false],
    'enabled(): nothing is ever written at "silent"',
  );
  t.equal(logger.level, 'warn');
});

t.test('access lines are batched: one write per event-loop turn, in order', async (t) => {
  const { out, clock, logger } = setup('info');
  logger.accessLine('GET /a 200');
  logger.accessLine('GET /b 200');
  clock.now += 1;
  logger.accessLine('GET /c 404');
  t.strictSame(out.writes, [], 'nothing written during the turn');
  await nextTurn();
  t.strictSame(out.writes, [
    'GET /a 200\nGET /b 200\nGET /c 404\n',
  ]);
  logger.accessLine('GET /d 200');
  await nextTurn();
  t.equal(out.writes.length, 2, 'a later turn is a new batch');
  t.equal(out.writes[1], 'GET /d 200\n');
  await nextTurn();
  t.equal(out.writes.length, 2, 'no empty writes once the batch is out');
});

t.test('maxBatch: a batch is written before it would reach the bound (cluster workers: under PIPE_BUF)', async (t) => {
  const { out, logger } = setup('info');
  logger.maxBatch = 24;
  for (const line of ['GET /aaaaa 200', 'GET /bbbbb 200', 'GET /ccccc 200']) logger.accessLine(line);
  // Two of these 15-character lines would make 30: each one goes out before the next is added.
  t.strictSame(out.writes, ['GET /aaaaa 200\n', 'GET /bbbbb 200\n']);
  await nextTurn();
  t.strictSame(out.writes, ['GET /aaaaa 200\n', 'GET /bbbbb 200\n', 'GET /ccccc 200\n']);
  logger.maxBatch = 32;
  for (const line of ['GET /aaaaa 200', 'GET /bbbbb 200', 'GET /ccccc 200']) logger.accessLine(line);
  await nextTurn();
  t.strictSame(out.writes.slice(3), ['GET /aaaaa 200\nGET /bbbbb 200\n', 'GET /ccccc 200\n'], 'two fit in 32');
});

t.test('flush writes the pending batch at once, and only once', async (t) => {
  const { out, logger } = setup('info');
  logger.flush();
  t.strictSame(out.writes, [], 'nothing pending: no write');
  logger.accessLine('one');
  logger.accessLine('two');
  logger.flush();
  t.strictSame(out.writes, ['one\ntwo\n']);
  await nextTurn();
  t.equal(out.writes.length, 1, 'the scheduled write was cancelled');
});

t.test('messages do not wait for the pending access lines, nor flush them', async (t) => {
  const { out, err, logger } = setup('debug');
  logger.accessLine('ACCESS first');
  logger.info('second');
  t.strictSame(out.writes, []);
  t.equal(err.writes.length, 1);
  await nextTurn();
  t.strictSame(out.writes, ['ACCESS first\n']);
});

t.test('the timestamp is formatted once per millisecond', async (t) => {
  const { err, clock, logger } = setup('info');
  let formatted = 0;
  const toISOString = Date.prototype.toISOString;
  Date.prototype.toISOString = function (this: Date) {
    formatted++;
    return toISOString.call(this);
  };
  t.teardown(() => {
    Date.prototype.toISOString = toISOString;
  });
  for (let i = 0; i < 100; i++) logger.info(`request ${i}`);
  clock.now += 1;
  logger.info('request 100');
  logger.flush();
  t.equal(formatted, 2);
  t.equal(err.text.split('\n').length, 102);
});

t.test('defaults to process.stdout, process.stderr, Date.now and text', async (t) => {
  const logger = new Logger('info');
  t.equal(logger.out, process.stdout);
  t.equal(logger.err, process.stderr);
  t.equal(logger.now, Date.now);
  t.equal(logger.format, 'text');
  t.equal(logger.worker, 0);
});

t.test("Node's own warnings: what its options silence stays silent (--no-warnings, --no-deprecation, --disable-warning CODE or TYPE)", async (t) => {
  const warning = (name: string, code?: string) => Object.assign(new Error('w'), { name, ...(code === undefined ? {} : { code }) });
  const deprecation = warning('DeprecationWarning', 'DEP0205');
  const experimental = warning('ExperimentalWarning');
  const cases: [string[], boolean, boolean][] = [
    [[], false, false],
    [['--no-warnings'], true, true],
    [['--no-deprecation'], true, false],
    [['--disable-warning=DEP0205'], true, false],
    [['--disable-warning', 'ExperimentalWarning'], false, true],
    [['--disable-warning'], false, false],
    [['--import=x', '--enable-source-maps'], false, false],
  ];
  for (const [options, dep, exp] of cases) {
    const silenced = silencedBy(options);
    t.equal(silenced(deprecation), dep, `${options.join(' ') || '(none)'}: the deprecation ${dep ? 'silenced' : 'logged'}`);
    t.equal(silenced(experimental), exp, `${options.join(' ') || '(none)'}: the experimental warning ${exp ? 'silenced' : 'logged'}`);
  }
  // Wired in: a silenced warning is not logged, another is.
  const listeners: ((w: Error) => void)[] = [];
  const source = { on: (_e: 'warning', l: (w: Error) => void) => listeners.push(l), removeAllListeners: () => {} };
  const lines: string[] = [];
  const sink = { write: (text: string) => lines.push(text) };
  const warnings = new ProcessWarnings(source, silencedBy(['--disable-warning=DEP0205']));
  warnings.logTo(new Logger('warn', sink, sink));
  listeners[0]!(deprecation);
  listeners[0]!(experimental);
  t.equal(lines.length, 1);
  t.match(lines[0], /WARN ExperimentalWarning: w/);
  t.ok(typeof new ProcessWarnings(source) === 'object', 'by default, the process\'s own options');
  t.strictSame(nodeOptions(['--a'], ' --no-deprecation  --disable-warning=X '), ['--a', '--no-deprecation', '--disable-warning=X'], 'NODE_OPTIONS after the command line');
  t.strictSame(nodeOptions(['--a'], undefined), ['--a']);
});
