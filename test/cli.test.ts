// The command line: help, version, --check and every usage error in-process with collected output;
// starting and stopping with a stand-in balancer and fake signals; and a few real `lb` processes.

import t from 'tap';
import { EventEmitter } from 'node:events';
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { bindError } from '../src/bind-error.js';
import { main, runCli, stopOnSignals, type Balancer, type CreateBalancer, type Running } from '../src/lb.js';
import { parseConfigWithPlaces } from '../src/config/load.js';
import { Logger } from '../src/log.js';
import { removePidFile } from '../src/pid-file.js';
import { selfSigned } from './helpers/certificate.js';
import { LB, LB_BUILT, lb, withWarnings } from './helpers/lb-process.js';
import { refusedPort } from './helpers/net.js';

const PKG = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  name: string;
  version: string;
};

/** An output that keeps what was written. */
class Collector {
  text = '';
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

function io() {
  return { stdout: new Collector(), stderr: new Collector() };
}

/** Runs the command line in-process; for commands that finish (help, version, check, errors). */
async function cli(argv: string[]) {
  const out = io();
  const result = await runCli(argv, out, () => {
    throw new Error('this command should not start a balancer');
  });
  return { code: 'code' in result ? result.code : NaN, stdout: out.stdout.text, stderr: out.stderr.text };
}

/** A stand-in for ProxyServer that records what it was asked. */
class FakeBalancer implements Balancer {
  config: unknown;
  logger: Logger | undefined;
  closed = 0;
  constructor(
    private readonly address: AddressInfo | Error,
    private readonly closeError?: Error,
  ) {}
  async listen(): Promise<AddressInfo[]> {
    if (this.address instanceof Error) throw this.address;
    return [this.address];
  }
  async close(): Promise<void> {
    this.closed++;
    if (this.closeError) throw this.closeError;
  }
  reloaded = 0;
  async reload(): Promise<void> {
    this.reloaded++;
  }
}

function factory(balancer: FakeBalancer): CreateBalancer {
  return (config, logger) => {
    balancer.config = config;
    balancer.logger = logger;
    return balancer;
  };
}

const LOOPBACK: AddressInfo = { address: '127.0.0.1', family: 'IPv4', port: 8080 };

/** A system error as Node makes them. */
function systemError(props: Record<string, unknown>): Error {
  return Object.assign(new Error(`${props.syscall} ${props.code}: details`), props);
}

t.test('--help and --version', async (t) => {
  for (const flag of ['-h', '--help']) {
    const { code, stdout, stderr } = await cli([flag, 'whatever.yaml']);
    t.equal(code, 0, flag);
    t.match(stdout, /^Usage: lb \[CONFIG\] \[options\]\n/);
    for (const option of ['--port', '--host', '--check', '--workers', '--log-level', '--pid-file', '--help', '--version']) {
      t.match(stdout, option);
    }
    t.equal(stderr, '');
  }
  for (const flag of ['-v', '--version']) {
    t.strictSame(await cli([flag]), { code: 0, stdout: `${PKG.name} ${PKG.version}\n`, stderr: '' }, flag);
  }
});

t.test('--check prints the summary, with -p and -H applied', async (t) => {
  const dir = t.testdir({ 'lb.yaml': 'listen: 127.0.0.1:8080\nservers: [localhost:8081]\n' });
  const file = join(dir, 'lb.yaml');
  const check = async (...args: string[]) => {
    const r = await cli([file, ...args]);
    t.equal(r.code, 0);
    t.equal(r.stderr, '');
    return r.stdout.split('\n')[0];
  };
  t.equal(await check('--check'), 'listen       127.0.0.1:8080');
  t.equal(await check('-c', '-p', '9090'), 'listen       127.0.0.1:9090');
  t.equal(await check('-c', '--port=0', '--host', 'localhost'), 'listen       localhost:0');
  t.equal(await check('-c', '-H', '*'), 'listen       *:8080 (all interfaces)');
  t.equal(await check('-c', '-H', '[::1]'), 'listen       [::1]:8080');
  t.equal(await check('-c', '-H', '::1'), 'listen       [::1]:8080');
  t.equal(await check('-c', '-p', '1', '-p', '2'), 'listen       127.0.0.1:2', 'a repeated option: the last one counts');
  t.equal(await check('-c', '-w', '8', '-l', 'debug'), 'listen       127.0.0.1:8080', '--workers and --log-level are accepted');
  const { stdout } = await cli([file, '--check']);
  t.match(stdout, /\ndefault {6}\(requests not matched above\)\n {2}localhost:8081\n/);
});

t.test('CONFIG defaults to ./lb.yaml', async (t) => {
  t.chdir(t.testdir({ 'lb.yaml': 'servers: [localhost:8081]\n' }));
  const { code, stdout } = await cli(['--check']);
  t.equal(code, 0);
  t.match(stdout, /^listen {7}127\.0\.0\.1:8080\n/);
});

t.test('usage and config errors: one line on stderr, exit 1', async (t) => {
  const dir = t.testdir({
    'good.yaml': 'servers: [localhost:8081]\n',
    'bad.yaml': 'servers: [localhost:8081]\ntimeout: {}\n',
  });
  const good = join(dir, 'good.yaml');
  const cases: [string[], string][] = [
    [[good, '--frobnicate'], 'unknown option --frobnicate (see lb --help)'],
    [[good, '-x'], 'unknown option -x (see lb --help)'],
    [[good, 'other.yaml'], `expected one CONFIG file, got 2: ${good} other.yaml`],
    [[good, '-l', 'verbose'], '--log-level: expected one of debug, info, warn, error, silent, got "verbose"'],
    [[good, '-p', 'http'], '--port: expected a port number 0..65535, got "http"'],
    [[good, '-p', '65536'], '--port: expected a port number 0..65535, got "65536"'],
    [[good, '-p', '-1'], 'unknown option -1 (see lb --help)'],
    [[good, '--port'], '--port needs a value'],
    [[good, '-H'], '--host needs a value'],
    [[good, '-w', '--check'], '--workers needs a value'],
    [[good, '-w', 'many'], '--workers: expected a whole number >= 0, got "many"'],
    [[good, '-w', '1.5'], '--workers: expected a whole number >= 0, got "1.5"'],
    [[join(dir, 'missing.yaml')], `cannot read ${join(dir, 'missing.yaml')}: ENOENT: no such file or directory`],
    [[join(dir, 'bad.yaml'), '--check'], `${join(dir, 'bad.yaml')}:2:1: unknown key "timeout" (did you mean "timeouts"?)`],
  ];
  for (const [argv, message] of cases) {
    t.strictSame(await cli(argv), { code: 1, stdout: '', stderr: `lb: ${message}\n` }, argv.slice(1).join(' '));
  }
});

t.test('run: starts the balancer and logs where it listens', async (t) => {
  const dir = t.testdir({ 'lb.yaml': 'servers: [localhost:8081]\n' });
  const file = join(dir, 'lb.yaml');

  const balancer = new FakeBalancer(LOOPBACK);
  const out = io();
  const result = await runCli([file, '-p', '0'], out, factory(balancer));
  t.ok('server' in result);
  const running = result as Running;
  t.equal(running.server, balancer);
  t.equal(running.logger, balancer.logger);
  t.equal(running.logger.level, 'info');
  t.match(balancer.config, { listen: [{ host: '127.0.0.1', port: 0 }], servers: { name: 'default' } });
  t.match(out.stderr.text, /^\S+Z INFO listening on http:\/\/127\.0\.0\.1:8080\n$/);
  t.equal(out.stdout.text, '', 'stdout holds access lines only');

  const v6 = io();
  await runCli([file], v6, factory(new FakeBalancer({ address: '::', family: 'IPv6', port: 8080 })));
  t.match(v6.stderr.text, /INFO listening on http:\/\/\[::\]:8080\n$/);

  // A TLS listener says https.
  selfSigned(dir);
  const tlsFile = join(dir, 'tls.yaml');
  writeFileSync(tlsFile, 'listen: { address: 127.0.0.1:0, tls: { cert: cert.pem, key: key.pem } }\nservers: [localhost:8081]\n');
  const secure = io();
  await runCli([tlsFile], secure, factory(new FakeBalancer(LOOPBACK)));
  t.match(secure.stderr.text, /INFO listening on https:\/\/127\.0\.0\.1:8080\n$/);

  const quiet = io();
  const q = (await runCli([file, '--log-level', 'warn'], quiet, factory(new FakeBalancer(LOOPBACK)))) as Running;
  t.equal(q.logger.level, 'warn');
  t.equal(quiet.stderr.text, '', 'no info line at warn');
});

t.test('run: with log.format json every stderr line is a JSON object, the startup error too', async (t) => {
  const dir = t.testdir({ 'lb.yaml': 'log: { format: json }\nservers: [localhost:8081]\n' });
  const file = join(dir, 'lb.yaml');
  const out = io();
  const running = (await runCli([file], out, factory(new FakeBalancer(LOOPBACK)))) as Running;
  t.equal(running.logger.format, 'json');
  t.equal(out.stdout.text, '');
  t.match(JSON.parse(out.stderr.text), { time: /^\d{4}-\d\d-\d\dT/, level: 'info', msg: 'listening on http://127.0.0.1:8080' });

  const failed = io();
  t.strictSame(await runCli([file], failed, factory(new FakeBalancer(systemError({ code: 'EADDRINUSE', syscall: 'listen', address: '127.0.0.1', port: 8080 })))), { code: 1 });
  t.match(JSON.parse(failed.stderr.text), { level: 'error', msg: 'lb: listen EADDRINUSE 127.0.0.1:8080' });
  t.equal(failed.stderr.text.split('\n').length, 2, 'one line');
});

t.test('stopOnSignals: a reload puts the new log.format in force for the messages that follow', async (t) => {
  const proc = new FakeProcess();
  const logger = new Logger('info', proc.stdout, proc.stderr);
  const server = new FakeBalancer(LOOPBACK);
  stopOnSignals({ server, logger, readConfig: () => parseConfigWithPlaces('log: { format: json }\nservers: [127.0.0.1:1]\n', 'lb.yaml'), file: 'lb.yaml' }, proc);
  proc.emit('SIGHUP', 'SIGHUP');
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(logger.format, 'json');
  t.match(JSON.parse(proc.stderr.text), { level: 'info', msg: 'SIGHUP: reloaded lb.yaml' });
});

t.test('stopOnSignals: SIGHUP checks the new config as a start does; one that fails keeps the running one, with its line', async (t) => {
  const dir = t.testdir({});
  const a = selfSigned(dir, { name: 'a' });
  const file = join(dir, 'lb.yaml');
  const proc = new FakeProcess();
  const logger = new Logger('info', proc.stdout, proc.stderr);
  const server = new FakeBalancer(LOOPBACK);
  const readConfig = () => parseConfigWithPlaces(readFileSync(file, 'utf8'), file);
  stopOnSignals({ server, logger, readConfig, file }, proc);
  const lines = () => proc.stderr.text.split('\n').filter((l) => l !== '').map((l) => l.replace(/^\S+Z /, ''));
  const reload = async (yaml: string, settled: RegExp) => {
    proc.stderr.text = '';
    writeFileSync(file, yaml);
    proc.emit('SIGHUP', 'SIGHUP');
    for (let i = 0; i < 1000 && !settled.test(proc.stderr.text); i++) await new Promise((resolve) => setTimeout(resolve, 2));
    return lines();
  };

  const missing = await reload(`listen:\n  address: 127.0.0.1:0\n  tls:\n    cert: a-cert.pem\n    key: nope.pem\nservers: [127.0.0.1:9]\n`, /keeping/);
  t.equal(missing.length, 1);
  t.match(missing[0], new RegExp(`^ERROR SIGHUP: ${file.replace(/[.\/]/g, '\\$&')}:5:10: listen\\.tls\\.key: .*nope\\.pem.*; keeping the running configuration$`));
  t.equal(server.reloaded, 0, 'a key file that cannot be read: not reloaded, as a start would not start');

  const unresolved = await reload(`listen:\n  address: 127.0.0.1:0\n  tls:\n    cert: a-cert.pem\n    key: a-key.pem\nservers: [nosuch.invalid:8081]\n`, /reloaded/);
  t.match(unresolved, [new RegExp(`^WARN SIGHUP: ${file.replace(/[.\/]/g, '\\$&')}:6: nosuch\\.invalid:8081 does not resolve \\((ENOTFOUND|EAI_AGAIN)\\)$`), `INFO SIGHUP: reloaded ${file}`]);
  t.equal(server.reloaded, 1, 'a name that does not resolve is a warning: reloaded, as a start would start');
  t.ok(a.cert, 'the certificate the config names');
});

t.test('--check with log.format json: its warnings are JSON objects too', async (t) => {
  const file = join(t.testdir({ 'lb.yaml': 'log: { format: json }\nservers: [nosuch.invalid:8081]\n' }), 'lb.yaml');
  const check = await cli([file, '--check']);
  t.equal(check.code, 0);
  const lines = check.stderr.trimEnd().split('\n');
  t.equal(lines.length, 1);
  t.match(JSON.parse(lines[0]!), { time: /^\d{4}-/, level: 'warn', msg: /^lb: warning: .*:2: nosuch\.invalid:8081 does not resolve/ });
});

t.test('main: Node\'s own warnings are log lines, held until there is a log', async (t) => {
  // Node's own options silence warnings for the balancer as for Node (tap sets --no-warnings on some lines).
  const options = process.env['NODE_OPTIONS'];
  process.env['NODE_OPTIONS'] = withWarnings()['NODE_OPTIONS'];
  t.teardown(() => {
    if (options === undefined) delete process.env['NODE_OPTIONS'];
    else process.env['NODE_OPTIONS'] = options;
  });
  const file = join(t.testdir({ 'lb.yaml': 'log: { format: json }\nservers: [localhost:8081]\n' }), 'lb.yaml');
  const run = new FakeProcess(['node', 'lb.js', file]);
  run.on('warning', () => t.fail('Node\'s own handler stays'));
  const started = main(run, factory(new FakeBalancer(LOOPBACK)));
  run.emit('warning', Object.assign(new Error('early'), { name: 'DeprecationWarning', code: 'DEP0000' }));
  await started;
  run.emit('warning', Object.assign(new Error('later'), { name: 'ExperimentalWarning' }));
  const lines = run.stderr.text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.same(lines.filter((l) => l.level === 'warn').map((l) => l.msg), ['DeprecationWarning DEP0000: early', 'ExperimentalWarning: later']);

  const help = new FakeProcess(['node', 'lb.js', '--help']);
  const helped = main(help);
  help.emit('warning', new Error('while printing help'));
  await helped;
  t.match(help.stderr.text, / WARN Error: while printing help\n$/, 'no balancer: logged all the same');
});

t.test('run: --workers is the number of processes asked of the factory; 0 is one per core', async (t) => {
  const file = join(t.testdir({ 'lb.yaml': 'servers: [localhost:8081]\n' }), 'lb.yaml');
  for (const [argv, workers] of [
    [[], 1],
    [['-w', '1'], 1],
    [['--workers', '3'], 3],
    [['-w', '0'], availableParallelism()],
  ] as const) {
    let asked = NaN;
    const out = io();
    const result = await runCli([file, ...argv], out, (_config, _logger, n) => {
      asked = n;
      return new FakeBalancer(LOOPBACK);
    });
    t.ok('server' in result, `${argv.join(' ')} runs`);
    t.equal(asked, workers, `${argv.join(' ') || 'no option'}: ${workers}`);
    t.notMatch(out.stderr.text, / (WARN|ERROR) /, 'without a warning');
  }
});

t.test('run: startup errors are one line, exit 1, and the balancer is closed', async (t) => {
  const file = join(t.testdir({ 'lb.yaml': 'servers: [localhost:8081]\n' }), 'lb.yaml');
  const cases: [FakeBalancer, string][] = [
    [
      new FakeBalancer(systemError({ code: 'EADDRINUSE', syscall: 'listen', address: '127.0.0.1', port: 8080 })),
      'listen EADDRINUSE 127.0.0.1:8080',
    ],
    [
      new FakeBalancer(systemError({ code: 'EACCES', syscall: 'listen', address: '/run/lb.sock' })),
      'listen EACCES /run/lb.sock',
    ],
    [
      new FakeBalancer(systemError({ code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname: 'nosuch.host' })),
      'getaddrinfo ENOTFOUND nosuch.host',
    ],
    [new FakeBalancer(systemError({ code: 'EMFILE', syscall: 'accept' })), 'accept EMFILE'],
    [new FakeBalancer(new Error('first line\n    at stack (x.js:1:1)')), 'first line'],
    [new FakeBalancer(Object.assign(new Error('coded'), { code: 'ERR_X' })), 'coded'],
    [new FakeBalancer(new Error('and close fails too'), new Error('close failed')), 'and close fails too'],
  ];
  for (const [balancer, message] of cases) {
    const out = io();
    t.strictSame(await runCli([file], out, factory(balancer)), { code: 1 }, message);
    t.equal(out.stderr.text, `lb: ${message}\n`);
    t.equal(balancer.closed, 1, 'closed');
  }

  const thrower = io();
  const result = await runCli([file], thrower, () => {
    throw 'not an Error';
  });
  t.strictSame(result, { code: 1 });
  t.equal(thrower.stderr.text, 'lb: not an Error\n', 'a thrown non-Error, before any balancer exists');
});

/** A stand-in for `process`: signals are emitted by the test, exit() resolves `exited`. */
class FakeProcess extends EventEmitter {
  exitCode: number | string | undefined;
  stdout = new Collector();
  stderr = new Collector();
  codes: number[] = [];
  exited: Promise<number>;
  #resolve!: (code: number) => void;
  constructor(public argv: string[] = ['node', 'lb.js']) {
    super();
    this.exited = new Promise((resolve) => (this.#resolve = resolve));
  }
  /** As process.exit(): 'exit' listeners run, then the process is gone. */
  exit(code: number): void {
    this.codes.push(code);
    this.emit('exit', code);
    this.#resolve(code);
  }
}

/** What stopOnSignals is given, for a test that sends no SIGHUP: the config is never read again. */
function runningFor(server: Balancer, logger: Logger): Running {
  return { server, logger, readConfig: () => { throw new Error('unused'); }, file: 'lb.yaml' };
}

t.test('stopOnSignals: close, flush, exit 0', async (t) => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const proc = new FakeProcess();
    const logger = new Logger('info', proc.stdout, proc.stderr);
    const server = new FakeBalancer(LOOPBACK);
    stopOnSignals(runningFor(server, logger), proc);
    logger.accessLine('ACCESS GET / 200');
    proc.emit(signal, signal);
    t.equal(await proc.exited, 0, signal);
    t.equal(server.closed, 1);
    t.equal(proc.stdout.text, 'ACCESS GET / 200\n', 'pending access lines are written before exit');
    t.strictSame(
      proc.stderr.text.split('\n').map((line) => line.replace(/^\S+Z /, '')),
      [`INFO ${signal}: closing`, 'INFO closed', ''],
    );
  }
});

t.test('stopOnSignals: a failing close exits 1', async (t) => {
  const proc = new FakeProcess();
  const logger = new Logger('info', proc.stdout, proc.stderr);
  stopOnSignals(runningFor(new FakeBalancer(LOOPBACK, new Error('stuck')), logger), proc);
  proc.emit('SIGTERM', 'SIGTERM');
  t.equal(await proc.exited, 1);
  t.match(proc.stderr.text, / ERROR closing: stuck\n$/);
});

t.test('stopOnSignals: a second signal while closing exits 1 at once', async (t) => {
  const proc = new FakeProcess();
  const logger = new Logger('info', proc.stdout, proc.stderr);
  const server = new FakeBalancer(LOOPBACK);
  server.close = () => new Promise(() => {}); // never closes
  stopOnSignals(runningFor(server, logger), proc);
  proc.emit('SIGTERM', 'SIGTERM');
  proc.emit('SIGINT', 'SIGINT');
  t.equal(await proc.exited, 1);
  t.match(proc.stderr.text, / WARN SIGINT again: exiting without waiting\n$/);
});

t.test('main: sets the exit code, or runs until a signal', async (t) => {
  const help = new FakeProcess(['node', 'lb.js', '--help']);
  await main(help);
  t.equal(help.exitCode, 0);
  t.match(help.stdout.text, /^Usage/);

  const bad = new FakeProcess(['node', 'lb.js', '--nope']);
  await main(bad);
  t.equal(bad.exitCode, 1);

  const file = join(t.testdir({ 'lb.yaml': 'servers: [localhost:8081]\n' }), 'lb.yaml');
  const run = new FakeProcess(['node', 'lb.js', file]);
  const balancer = new FakeBalancer(LOOPBACK);
  await main(run, factory(balancer));
  t.equal(run.exitCode, undefined, 'still running');
  run.emit('SIGINT', 'SIGINT');
  t.equal(await run.exited, 0);
  t.equal(balancer.closed, 1);

  // Whoever reads "listening" and at once sends SIGTERM finds the handler in place (Node's default
  // action would end the process there, the pid file left behind).
  const watched = new FakeProcess(['node', 'lb.js', file, '--pid-file', join(dirname(file), 'lb.pid')]);
  const handlers: number[] = [];
  const write = watched.stderr.write.bind(watched.stderr);
  watched.stderr.write = (chunk: string) => {
    if (chunk.includes('listening on')) handlers.push(watched.listenerCount('SIGTERM'), watched.listenerCount('SIGINT'), watched.listenerCount('exit'));
    return write(chunk);
  };
  await main(watched, factory(new FakeBalancer(LOOPBACK)));
  t.strictSame(handlers, [1, 1, 1], 'SIGTERM, SIGINT and the pid file\'s exit handler, before the line');
  watched.emit('SIGTERM', 'SIGTERM');
  t.equal(await watched.exited, 0);
});

// ---------------------------------------------------------------------------------------------
// Real processes: the build's lb.js (helpers/compiled.mjs), run by helpers/lb-process.ts.

t.test('process: an invalid config exits 1 with one line on stderr', async (t) => {
  const dir = t.testdir({ 'lb.yaml': 'servers:\n  - 8081\n' });
  const { code, stdout, stderr } = await lb([LB, 'lb.yaml'], dir).exit;
  t.equal(code, 1);
  t.equal(stdout, '');
  t.equal(stderr, 'lb: lb.yaml:2:5: servers[0]: expected "host:port", not only a port, e.g. "localhost:8081"\n');
});

t.test('process: a TLS file that cannot be read stops a start with the line --check prints, not a bare ENOENT', async (t) => {
  const dir = t.testdir({ 'lb.yaml': 'listen:\n  address: 127.0.0.1:0\n  tls:\n    cert: nope.pem\n    key: nope.key\nservers: [127.0.0.1:9]\n' });
  const line = `lb: lb.yaml:4:11: listen.tls.cert: cannot read ${join(dir, 'nope.pem')}: ENOENT: no such file or directory\n`;
  const check = await lb([LB, 'lb.yaml', '--check'], dir).exit;
  t.strictSame(check, { code: 1, stdout: '', stderr: line }, '--check');
  const start = await lb([LB, 'lb.yaml'], dir).exit;
  t.strictSame(start, { code: 1, stdout: '', stderr: line }, 'a start');
});

t.test('process: runs through a symlink, as the npm bin does', async (t) => {
  const dir = t.testdir({});
  symlinkSync(LB_BUILT, join(dir, 'lb'));
  const { code, stdout, stderr } = await lb([join(dir, 'lb'), '--version']).exit;
  t.strictSame({ code, stdout, stderr }, { code: 0, stdout: `${PKG.name} ${PKG.version}\n`, stderr: '' });
});

t.test('process: listens, then stops on SIGTERM with exit code 0', async (t) => {
  const dir = t.testdir({ 'lb.yaml': 'listen: 127.0.0.1:0\nservers: [127.0.0.1:9]\n' });
  const proc = lb([LB, '--log-level', 'info'], dir);
  const [, port] = await proc.until(/INFO listening on http:\/\/127\.0\.0\.1:(\d+)\n/);
  t.ok(Number(port) > 0, `bound port ${port}`);
  proc.child.kill('SIGTERM');
  const { code, stdout, stderr } = await proc.exit;
  t.equal(code, 0);
  // A health check's line may come between the two (the checker reports until it is stopped).
  t.match(stderr, /INFO SIGTERM: closing\n(.*\n)*.*INFO closed\n$/);
  t.equal(stdout, '', 'no request: nothing on stdout');
});

t.test('process: a port in use is one line and exit 1', async (t) => {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => taken.close(() => resolve())));
  const { port } = taken.address() as AddressInfo;
  const dir = t.testdir({ 'lb.yaml': 'servers: [127.0.0.1:9]\n' });
  const { code, stderr } = await lb([LB, '-p', String(port)], dir).exit;
  t.equal(code, 1);
  // The balancer's own log lines (health checks started before the bind) may come too.
  t.strictSame(
    stderr.split('\n').filter((line) => line.startsWith('lb:')),
    [`lb: listen address 127.0.0.1:${port} is in use (EADDRINUSE)`],
  );
  t.notMatch(stderr, /^\s+at /m, 'no stack trace');
});

t.test('process: an admin address in use is named as the admin address', async (t) => {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => taken.close(() => resolve())));
  const { port } = taken.address() as AddressInfo;
  const dir = t.testdir({ 'lb.yaml': `listen: 127.0.0.1:0\nadmin: 127.0.0.1:${port}\nhealthcheck: { interval: 1m }\nservers: [127.0.0.1:9]\n` });
  const { code, stderr } = await lb([LB, 'lb.yaml'], dir).exit;
  t.equal(code, 1);
  t.strictSame(stderr.split('\n').filter((line) => line.startsWith('lb:')), [`lb: admin address 127.0.0.1:${port} is in use (EADDRINUSE)`]);
});

t.test('process: --pid-file holds the pid while the balancer listens, and is gone once it has stopped', async (t) => {
  const dir = t.testdir({ 'lb.yaml': 'listen: 127.0.0.1:0\nhealthcheck: { interval: 1m }\nservers: [127.0.0.1:9]\n' });
  const pidFile = join(dir, 'lb.pid');
  const proc = lb([LB, 'lb.yaml', '--pid-file', pidFile], dir);
  t.teardown(() => proc.child.kill('SIGKILL'));
  await proc.until(/INFO listening on /);
  t.equal(readFileSync(pidFile, 'utf8'), `${proc.child.pid}\n`);
  proc.child.kill('SIGTERM');
  t.equal((await proc.exit).code, 0);
  t.notOk(existsSync(pidFile), 'removed at exit');
});

t.test('--pid-file: written once listening; one that cannot be written is an error, and the balancer is closed', async (t) => {
  const dir = t.testdir({ 'lb.yaml': 'servers: [localhost:8081]\n' });
  const file = join(dir, 'lb.yaml');
  const pidFile = join(dir, 'lb.pid');
  const running = (await runCli([file, '--pid-file', pidFile], io(), factory(new FakeBalancer(LOOPBACK)))) as Running;
  t.equal(running.pidFile, pidFile);
  t.equal(readFileSync(pidFile, 'utf8'), `${process.pid}\n`);

  const balancer = new FakeBalancer(LOOPBACK);
  const out = io();
  const missing = join(dir, 'no-such-dir', 'lb.pid');
  t.strictSame(await runCli([file, '--pid-file', missing], out, factory(balancer)), { code: 1 });
  t.equal(out.stderr.text, `lb: --pid-file: cannot write ${missing}: ENOENT: no such file or directory\n`);
  t.equal(balancer.closed, 1);
  t.strictSame(await cli([file, '--pid-file']), { code: 1, stdout: '', stderr: 'lb: --pid-file needs a value\n' });
  t.strictSame(await cli([file, '--pid-file', missing, '--check']).then((r) => r.code), 0, '--check starts nothing and writes nothing');
});

t.test('stopOnSignals: --pid-file is removed at exit, also an exit 1 after a failed close', async (t) => {
  const pidFile = join(t.testdir({}), 'lb.pid');
  for (const closeError of [undefined, new Error('stuck')]) {
    writeFileSync(pidFile, `${process.pid}\n`);
    const proc = new FakeProcess();
    const logger = new Logger('info', proc.stdout, proc.stderr);
    stopOnSignals({ ...runningFor(new FakeBalancer(LOOPBACK, closeError), logger), pidFile }, proc);
    proc.emit('SIGTERM', 'SIGTERM');
    t.equal(await proc.exited, closeError === undefined ? 0 : 1);
    t.notOk(existsSync(pidFile), `removed (${closeError === undefined ? 'exit 0' : 'exit 1'})`);
  }
  // One that another balancer has written since is theirs.
  writeFileSync(pidFile, '12345678\n');
  const proc = new FakeProcess();
  stopOnSignals({ ...runningFor(new FakeBalancer(LOOPBACK), new Logger('silent', proc.stdout, proc.stderr)), pidFile }, proc);
  proc.emit('SIGINT', 'SIGINT');
  await proc.exited;
  t.equal(readFileSync(pidFile, 'utf8'), '12345678\n', 'another process\'s pid stays');
  t.doesNotThrow(() => removePidFile(join(t.testdir({}), 'gone.pid'), process.pid), 'a file already gone is no error');
});

t.test('--check reads the TLS files as a start does: the first problem at its line; a start fails with the same line', async (t) => {
  const dir = t.testdir({});
  const a = selfSigned(dir, { name: 'a' });
  const b = selfSigned(dir, { name: 'b' });
  const file = join(dir, 'lb.yaml');
  writeFileSync(file, `listen:\n  address: 127.0.0.1:0\n  tls:\n    cert: a-cert.pem\n    key: b-key.pem\nservers: [localhost:8081]\n`);
  const line = `lb: ${file}:5:10: listen.tls.key: ${b.key} is not the key of the certificate in ${a.cert}\n`;
  t.strictSame(await cli([file, '--check']), { code: 1, stdout: '', stderr: line });
  const balancer = new FakeBalancer(LOOPBACK);
  const out = io();
  t.strictSame(await runCli([file], out, factory(balancer)), { code: 1 });
  t.equal(out.stderr.text, line);
  t.equal(balancer.config, undefined, 'no balancer was made');
});

t.test('--check: a server name that does not resolve is a warning with its line, exit 0; a start logs it and runs', async (t) => {
  const file = join(t.testdir({ 'lb.yaml': 'listen: 127.0.0.1:0\nservers:\n  - localhost:8081\n  - nosuch.invalid:8081\n' }), 'lb.yaml');
  // ENOTFOUND where a DNS server answers; EAI_AGAIN where none can be asked.
  const warning = new RegExp(`^${file.replace(/[.\/]/g, '\\$&')}:4: nosuch\\.invalid:8081 does not resolve \\((ENOTFOUND|EAI_AGAIN)\\)$`);
  const check = await cli([file, '--check']);
  t.equal(check.code, 0);
  t.match(check.stdout, /^listen /);
  const [first, ...rest] = check.stderr.split('\n');
  t.match(first, /^lb: warning: /);
  t.match(first!.slice('lb: warning: '.length), warning);
  t.strictSame(rest, [''], 'one line');

  const out = io();
  const running = await runCli([file], out, factory(new FakeBalancer(LOOPBACK)));
  t.notOk('code' in running, 'the balancer runs');
  const logged = out.stderr.text.split('\n').find((line) => line.includes(' WARN '));
  t.match(logged!.replace(/^\S+ WARN /, '').replace(/; retrying every 5 s$/, ''), warning, 'the same line, logged with its retry');
  t.match(logged, /; retrying every 5 s$/);
});

t.test('--check asks the discover names on the configured resolvers: one that does not answer is a warning with its line', async (t) => {
  const port = await refusedPort();
  const file = join(t.testdir({ 'lb.yaml': `resolvers: ["127.0.0.1:${port}"]\nservers:\n  - discover: api.internal:8080\n` }), 'lb.yaml');
  const check = await cli([file, '--check']);
  t.equal(check.code, 0);
  t.equal(check.stderr, `lb: warning: ${file}:3: discover api.internal:8080: lookup failed (ECONNREFUSED)\n`);
  t.match(check.stdout, /\n {2}discover api\.internal:8080 \(A\/AAAA records, refresh 30s\)\n/);
});

t.test('bindError: which listener, its address, and what the code means', async (t) => {
  const address = { host: '127.0.0.1', port: 80 };
  const sys = (code: string) => Object.assign(new Error(`listen ${code} 127.0.0.1:80`), { code, syscall: 'listen' });
  const cases: [unknown, string][] = [
    [bindError('listen', address, sys('EADDRINUSE')), 'listen address 127.0.0.1:80 is in use (EADDRINUSE)'],
    [bindError('admin', address, sys('EACCES')), 'admin address 127.0.0.1:80 needs privileges this user does not have (a port below 1024?) (EACCES)'],
    [bindError('listen', { host: '10.9.9.9', port: 80 }, sys('EADDRNOTAVAIL')), 'listen address 10.9.9.9:80 is not an address of this machine (EADDRNOTAVAIL)'],
    [bindError('listen', { host: 'nosuch.invalid', port: 80 }, sys('ENOTFOUND')), 'listen address nosuch.invalid:80 does not resolve (ENOTFOUND)'],
    [bindError('listen', { host: '', port: 80 }, sys('EMFILE')), 'listen address *:80 (all interfaces) cannot be bound (EMFILE)'],
  ];
  for (const [err, message] of cases) t.equal((err as Error).message, message);
  t.equal((cases[0]![0] as NodeJS.ErrnoException).code, 'EADDRINUSE', 'the code is kept');
  const plain = new Error('no code');
  t.equal(bindError('listen', address, plain), plain, 'an error without a code is passed on');
});

t.test('stopOnSignals: SIGHUP while closing is ignored', async (t) => {
  const proc = new FakeProcess();
  const logger = new Logger('info', proc.stdout, proc.stderr);
  const server = new FakeBalancer(LOOPBACK);
  let reads = 0;
  stopOnSignals({ server, logger, readConfig: () => (reads++, parseConfigWithPlaces('servers: [127.0.0.1:1]\n', 'lb.yaml')), file: 'lb.yaml' }, proc);
  proc.emit('SIGHUP', 'SIGHUP');
  await new Promise((resolve) => setImmediate(resolve));
  t.same([reads, server.reloaded], [1, 1], 'a SIGHUP reloads');
  proc.emit('SIGTERM', 'SIGTERM');
  proc.emit('SIGHUP', 'SIGHUP');
  t.equal(await proc.exited, 0);
  t.same([reads, server.reloaded], [1, 1], 'not once closing has begun');
});
