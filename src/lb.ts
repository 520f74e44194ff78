#!/usr/bin/env node
// The command line: `lb [CONFIG] [options]`. Reads options and the config, checks what the config
// names outside itself (TLS files, server names), then prints help, the version or a --check
// summary, or starts the balancer and stops it on SIGINT/SIGTERM.

import { readFileSync, realpathSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import mri from 'mri';
import { formatAddress } from './config/address.js';
import { describeConfig } from './config/check.js';
import { loadConfig, type LoadedConfig } from './config/load.js';
import { discoverWarnings, preflight } from './config/preflight.js';
import { DEFAULTS, SECOND, type Config } from './config/schema.js';
import { unverifiedWarnings } from './config/sections/backend-tls.js';
import { LOG_LEVELS, Logger, ProcessWarnings, type LogFormat, type LogLevel, type LogOutput } from './log.js';
import { removePidFile, writePidFile } from './pid-file.js';
import { reason, UsageError } from './reason.js';

const USAGE = `Usage: lb [CONFIG] [options]
       lb ctl COMMAND [ARGS]   (lb ctl --help: drain, maint, ready, weight, servers)

An HTTP/1.1 load balancer. CONFIG is the YAML configuration (default ./lb.yaml).

Options:
  -p, --port N           override the port of \`listen\` (its first listener)
  -H, --host ADDR        override the address of \`listen\` (its first listener)
  -c, --check            load and validate CONFIG, print a summary or the errors, exit 0 / 1
  -w, --workers N        processes sharing the listener; 0 = one per core (default 1)
  -l, --log-level LEVEL  ${LOG_LEVELS.join(', ')} (default info)
      --pid-file FILE    write the process id there at start, remove it at exit
  -h, --help             print this help
  -v, --version          print the version
`;

/** Every option, short name to long name; mri rejects anything else (hence a long name alone with no short ones). */
const ALIASES = { p: 'port', H: 'host', c: 'check', w: 'workers', l: 'log-level', h: 'help', v: 'version', 'pid-file': [] };

/** The streams the command line prints to: process.stdout/stderr, or a test's collectors. */
export interface CliIo {
  stdout: LogOutput;
  stderr: LogOutput;
}

/** What runCli needs of the balancer (src/proxy/proxy-server.ts's ProxyServer). */
export interface Balancer {
  /** Resolves server host names, binds the listeners; resolves with their bound addresses, in `listen`'s order. */
  listen(): Promise<AddressInfo[]>;
  /** Stops accepting, closes idle connections, ends the health checker. */
  close(): Promise<void>;
  /** Takes a new configuration for new requests; rejects, changing nothing, if it cannot. */
  reload(config: Config): Promise<void>;
}

/** Makes the balancer: `workers` processes sharing the listener (1: this process alone). */
export type CreateBalancer = (config: Config, logger: Logger, workers: number) => Balancer | Promise<Balancer>;

/** A balancer that is listening, its logger, and how to read its configuration again. */
export interface Running {
  server: Balancer;
  logger: Logger;
  /** Reads CONFIG again, with the command line's overrides; throws ConfigError. */
  readConfig: () => LoadedConfig;
  /** The CONFIG file, for log lines. */
  file: string;
  /** --pid-file, written once listening; removed at exit. */
  pidFile?: string | undefined;
}

/** Either the exit code (help, version, check, any error) or a running balancer. */
export type CliResult = { code: number } | Running;

/**
 * The real balancer, loaded only when one is started (help, version and --check never need it):
 * the proxy in this process, or a cluster's primary (src/cluster/primary.ts) whose workers run it.
 */
const createProxyServer: CreateBalancer = async (config, logger, workers) => {
  if (workers !== 1) {
    const { ClusterPrimary } = await import('./cluster/primary.js');
    return new ClusterPrimary(config, logger, workers);
  }
  const { ProxyServer } = await import('./proxy/proxy-server.js');
  return new ProxyServer(config, logger);
};

/**
 * Runs the command line `argv` (without "node lb.js"). Resolves with `{code}` when there is nothing
 * left to run, having printed help, the version, the --check summary (after an `lb: warning: ...`
 * line for each server name that does not resolve) or one `lb: <reason>` line to stderr; or with
 * the running balancer, having logged `listening on http://host:port` for each listener (https://
 * for a TLS one) and written --pid-file. `warnings`: Node's own warnings, logged once there is a log.
 * `onRunning` is called once the balancer listens, before the file and the lines that say so: the
 * program's signal handlers go there, so that whoever acts on the lines finds them in place.
 */
export async function runCli(
  argv: string[],
  io: CliIo,
  createBalancer: CreateBalancer = createProxyServer,
  warnings?: ProcessWarnings,
  onRunning?: (running: Running) => void,
): Promise<CliResult> {
  let server: Balancer | undefined;
  let logger: Logger | undefined;
  // `lb ctl ...` talks to a running balancer's admin API (ctl.ts), loaded only then.
  if (argv[0] === 'ctl') return { code: await (await import('./ctl.js')).runCtl(argv.slice(1), io) };
  try {
    const options = parseOptions(argv);
    if (options.help) {
      io.stdout.write(USAGE);
      return { code: 0 };
    }
    if (options.version) {
      io.stdout.write(`${readVersion()}\n`);
      return { code: 0 };
    }
    const load = (): LoadedConfig => {
      const loaded = loadConfig(options.file);
      // The first listener's address: the one a config with a single `listen` has.
      if (options.host !== undefined) loaded.config.listen[0]!.host = options.host;
      if (options.port !== undefined) loaded.config.listen[0]!.port = options.port;
      return loaded;
    };
    const { config, places } = load();
    // --check does what a start does short of listening: the same checks, the same messages.
    const unresolved = await preflight(config, places);
    if (options.check) {
      for (const warning of [...unresolved, ...(await discoverWarnings(config, places)), ...unverifiedWarnings(config)]) {
        io.stderr.write(stderrLine(config.log.format, 'warn', `lb: warning: ${warning}`));
      }
      io.stdout.write(describeConfig(config));
      return { code: 0 };
    }
    logger = new Logger(options.logLevel, io.stdout, io.stderr);
    logger.format = config.log.format;
    warnings?.logTo(logger);
    // The I/O fast paths hold on the Node.js lines they were proven on (io/internals.ts): on any
    // other the plain path is taken, and said once, here.
    const { IO_FALLBACK } = await import('./io/internals.js');
    if (IO_FALLBACK !== null) logger.warn(IO_FALLBACK);
    // A name that does not resolve does not stop a start: its server stays down while the health
    // checker looks it up again (the DNS record may not exist yet, or a resolver be down).
    for (const warning of unresolved) logger.warn(`${warning}; retrying every ${DEFAULTS.retry / SECOND} s`);
    for (const warning of unverifiedWarnings(config)) logger.warn(warning);
    server = await createBalancer(config, logger, options.workers === 0 ? availableParallelism() : options.workers);
    const addresses = await server.listen();
    const running: Running = { server, logger, readConfig: load, file: options.file, pidFile: options.pidFile };
    onRunning?.(running);
    // Before the lines that say it listens: whoever waits for them finds the file.
    if (options.pidFile !== undefined) writePidFile(options.pidFile, process.pid);
    // The scheme clients use: a TLS listener speaks HTTPS (interface.md, "Logs an operator relies on").
    addresses.forEach((address, i) => logger!.info(`listening on ${config.listen[i]!.tls === null ? 'http' : 'https'}://${formatAddress(address)}`));
    return running;
  } catch (err) {
    // Once the config is read, stderr speaks its log.format, whatever the log level.
    io.stderr.write(stderrLine(logger?.format, 'error', `lb: ${reason(err)}`));
    await server?.close().catch(() => {});
    return { code: 1 };
  }
}

/** A line for stderr where there is no log to write it: as it is, or with log.format json one JSON object. */
function stderrLine(format: LogFormat | undefined, level: 'warn' | 'error', line: string): string {
  return format === 'json' ? `${JSON.stringify({ time: new Date().toISOString(), level, msg: line })}\n` : `${line}\n`;
}

/**
 * Stops the balancer on the first SIGINT or SIGTERM: close() (which drains requests in flight),
 * flush the log, exit 0 (1 if closing failed). A second signal while closing exits 1 at once.
 * Reloads the configuration on SIGHUP, checked as a start checks it (preflight). Removes --pid-file
 * at exit, whichever way it comes.
 */
export function stopOnSignals({ server, logger, readConfig, file, pidFile }: Running, proc: SignalSource = process): void {
  // On 'exit': also after an uncaught exception, and after either exit below.
  if (pidFile !== undefined) proc.on('exit', () => removePidFile(pidFile, process.pid));
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn(`${signal} again: exiting without waiting`);
      logger.flush();
      proc.exit(1);
      return;
    }
    stopping = true;
    logger.info(`${signal}: closing`);
    server.close().then(
      () => {
        logger.info('closed');
        exitWhenWritten(logger, proc, 0);
      },
      (err: unknown) => {
        logger.error(`closing: ${reason(err)}`);
        exitWhenWritten(logger, proc, 1);
      },
    );
  };
  proc.on('SIGINT', onSignal);
  proc.on('SIGTERM', onSignal);
  // SIGHUP: read the configuration again and check it as a start does (TLS files read and matched,
  // names looked up); a config that does not load or pass leaves the running one.
  proc.on('SIGHUP', () => {
    if (stopping) return;
    let loaded: LoadedConfig;
    try {
      loaded = readConfig();
    } catch (err) {
      logger.error(`SIGHUP: ${reason(err)}; keeping the running configuration`);
      return;
    }
    const { config, places } = loaded;
    preflight(config, places)
      .then((unresolved) => {
        // The reload decides what to do about such a server (a new one is refused, as at start).
        for (const warning of unresolved) logger.warn(`SIGHUP: ${warning}`);
        for (const warning of unverifiedWarnings(config)) logger.warn(`SIGHUP: ${warning}`);
        return server.reload(config);
      })
      .then(
        () => {
          logger.format = config.log.format;
          logger.info(`SIGHUP: reloaded ${file}`);
        },
        (err: unknown) => logger.error(`SIGHUP: ${reason(err)}; keeping the running configuration`),
      );
  });
}

/**
 * Exits once the log's lines are written: writes to a pipe are asynchronous, and process.exit()
 * would drop the last ones (the drain warning, "closed").
 */
function exitWhenWritten(logger: Logger, proc: SignalSource, code: number): void {
  logger.flush();
  let pending = 1;
  const done = (): void => {
    if (--pending === 0) proc.exit(code);
  };
  for (const stream of [logger.out, logger.err]) {
    // A real stream calls back once what was written before is out; a test's collector does not.
    if (typeof (stream as Partial<NodeJS.WriteStream>).writableLength === 'number') {
      pending++;
      (stream as NodeJS.WriteStream).write('', done);
    }
  }
  done();
}

/** What stopOnSignals needs of `process`. */
export interface SignalSource {
  on(event: 'SIGINT' | 'SIGTERM' | 'SIGHUP', listener: (signal: NodeJS.Signals) => void): unknown;
  on(event: 'exit', listener: () => void): unknown;
  on(event: 'warning', listener: (warning: Error) => void): unknown;
  exit(code: number): void;
}

interface Options {
  file: string;
  port: number | undefined;
  host: string | undefined;
  check: boolean;
  workers: number;
  logLevel: LogLevel;
  pidFile: string | undefined;
  help: boolean;
  version: boolean;
}

/** Reads and validates argv; throws UsageError. */
function parseOptions(argv: string[]): Options {
  let unknown: string | undefined;
  const args = mri(argv, {
    alias: ALIASES,
    boolean: ['check', 'help', 'version'],
    string: ['port', 'host', 'workers', 'log-level', 'pid-file'],
    unknown: (flag) => {
      unknown = flag;
    },
  });
  // mri returns the unknown callback's result (undefined) instead of the parsed options.
  if (unknown !== undefined) throw new UsageError(`unknown option ${unknown} (see lb --help)`);

  if (args._.length > 1) throw new UsageError(`expected one CONFIG file, got ${args._.length}: ${args._.join(' ')}`);
  const logLevel = optionValue(args, 'log-level') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new UsageError(`--log-level: expected one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  const port = optionValue(args, 'port');
  if (port !== undefined && !(/^\d{1,5}$/.test(port) && Number(port) <= 65535)) {
    throw new UsageError(`--port: expected a port number 0..65535, got "${port}"`);
  }
  const workers = optionValue(args, 'workers') ?? '1';
  if (!/^\d+$/.test(workers)) throw new UsageError(`--workers: expected a whole number >= 0, got "${workers}"`);
  const host = optionValue(args, 'host');

  return {
    file: String(args._[0] ?? './lb.yaml'),
    port: port === undefined ? undefined : Number(port),
    // "*" and "" are all interfaces, as in the config; brackets around an IPv6 address are optional.
    host: host === undefined ? undefined : host.replace(/^\[(.*)\]$/, '$1').replace(/^\*$/, ''),
    check: args.check === true,
    workers: Number(workers),
    logLevel: logLevel as LogLevel,
    pidFile: optionValue(args, 'pid-file'),
    help: args.help === true,
    version: args.version === true,
  };
}

/** A string option's value: the last one when repeated; an option given without a value is an error. */
function optionValue(args: Record<string, unknown>, name: string): string | undefined {
  const raw = args[name];
  if (raw === undefined) return undefined;
  const value = Array.isArray(raw) ? String(raw[raw.length - 1]) : String(raw);
  if (value === '') throw new UsageError(`--${name} needs a value`);
  return value;
}

/** "mango-lb 0.1.0", from the package.json next to src/ and dist/. */
function readVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    name: string;
    version: string;
  };
  return `${pkg.name} ${pkg.version}`;
}

/** What main() needs of `process`. */
export interface Program extends CliIo, SignalSource {
  removeAllListeners(event: 'warning'): unknown;
  argv: string[];
  exitCode?: number | string | undefined;
}

/**
 * The program: runs the command line of `proc`; sets its exit code when there is nothing left to
 * run, or stops the running balancer on SIGINT/SIGTERM.
 */
export async function main(proc: Program = process, createBalancer?: CreateBalancer): Promise<void> {
  // Taken over before anything is loaded that may warn (process.binding, under --pending-deprecation).
  const warnings = new ProcessWarnings(proc);
  // A SIGTERM sent as soon as "listening" is read must find the handler: Node installs none for
  // a signal before a listener is added, and the default action ends the process on the spot.
  const result = await runCli(proc.argv.slice(2), proc, createBalancer, warnings, (running) => stopOnSignals(running, proc));
  if ('code' in result) {
    // No balancer, so no log: what Node warned of is written as a log line all the same.
    warnings.logTo(new Logger('warn', proc.stdout, proc.stderr));
    proc.exitCode = result.code;
  }
}

// Run when this file is the program: `node dist/lb.js`, or the `lb` bin, a symlink to it (hence the
// realpath: argv[1] keeps the symlink's path, import.meta.url is the file's real one).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  await main();
}
