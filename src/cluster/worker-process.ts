// A worker process of a cluster (`lb --workers N`), started by the primary (primary.ts) with
// node:cluster. It runs one ProxyServer on the listeners (the primary's shared ones, or sockets
// of its own with SO_REUSEPORT, as the primary says: accept-mode.ts), with the primary's health
// checks instead of its own, and does what the primary asks: start, reload, report its counters,
// stop. Its access lines go to the stdout it shares with the other processes.

import { statusOf } from '../admin/status.js';
import type { Discovered } from '../balancer/discovery.js';
import type { Config } from '../config/schema.js';
import { Logger, ProcessWarnings } from '../log.js';
import { ProxyServer } from '../proxy/proxy-server.js';
import { reason } from '../reason.js';
import type { Controls, ToPrimary, ToWorker } from './messages.js';
import { SharedHealth } from './remote-health.js';

/** A pipe takes at most this many bytes in one write without mixing in another writer's. */
const PIPE_BUF = 4096;

const startedAt = Date.now();
let logger = new Logger('info');
/** Node's warnings in log.format too; those that come while this worker loads wait for its log. */
const warnings = new ProcessWarnings(process);
let server: ProxyServer | null = null;
const health = new SharedHealth((label) => send({ type: 'down', label }));

/** To the primary; nothing when it is gone (the process is about to exit anyway). */
function send(message: ToPrimary): void {
  if (process.connected) process.send!(message);
}

/**
 * The start and the reloads, one after the other: a reload that arrives while the listener is
 * still being set up (a replacement worker) must not race the start's routes.
 */
let configuring = Promise.resolve();

async function onMessage(message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'start':
      configuring = start(message.config, message.logLevel, message.up, message.controls, message.discovered, message.reusePort, Buffer.from(message.ticketSecret, 'base64'));
      return configuring;
    case 'discovered':
      // The primary looks the `discover` entries up, once for all workers.
      configuring = configuring.then(() => server!.follow(message.discovered));
      return configuring;
    case 'control':
      // The primary logged it; this worker follows, then says so (the API answers once all have).
      await configuring;
      server!.control(message.name, message.pool, message.change, null);
      return send({ type: 'controlled', id: message.id });
    case 'health':
      return health.set(message.label, message.up);
    case 'reload':
      // Merged now, before the reload waits for anything: a flip that follows it stays the latest.
      health.merge(message.up);
      configuring = configuring.then(() => reload(message.id, message.config, message.discovered, Buffer.from(message.ticketSecret, 'base64')));
      return configuring;
    case 'status':
      // Asked for only once this worker listens (the primary counts the listening ones).
      return send({ type: 'status', id: message.id, status: statusOf(server!, startedAt, Date.now()) });
    case 'stop':
      return stop();
  }
}

async function start(
  config: Config,
  logLevel: Logger['level'],
  up: Record<string, boolean>,
  controls: Controls,
  discovered: Discovered,
  reusePort: boolean,
  ticketSecret: Buffer,
): Promise<void> {
  logger = new Logger(logLevel);
  logger.maxBatch = PIPE_BUF;
  logger.worker = process.pid;
  logger.format = config.log.format;
  warnings.logTo(logger);
  health.merge(up);
  try {
    // The constructor reads the listeners' TLS files: they may have gone since the primary started.
    server = new ProxyServer(config, logger, (fleet) => health.checksFor(fleet), discovered, ticketSecret);
    const addresses = await server.listen(reusePort);
    // The admin API's changes made before this worker started (it replaces one that died).
    for (const [pool, name, change] of controls) server.control(name, pool, change, null);
    send({ type: 'listening', addresses });
  } catch (err) {
    send({ type: 'failed', reason: reason(err) });
    exit(1);
  }
}

async function reload(id: number, config: Config, discovered: Discovered, ticketSecret: Buffer): Promise<void> {
  try {
    await server!.reload(config, discovered, ticketSecret);
    logger.format = config.log.format;
    send({ type: 'reloaded', id, error: null });
    /* c8 ignore next 3 -- the primary resolved the same names just before; only a lookup that fails here alone gets here */
  } catch (err) {
    send({ type: 'reloaded', id, error: reason(err) });
  }
}

/**
 * Drains (timeouts.drain bounds it), then exits 0. From the primary's `stop`, or a signal, or
 * both (Ctrl-C): close() returns the same promise each time.
 */
async function stop(): Promise<void> {
  await server?.close();
  exit(0);
}

/** Exits once the log lines written so far are out, on both streams (writes to a pipe are asynchronous). */
function exit(code: number): void {
  logger.flush();
  let pending = 2;
  const done = (): void => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

process.on('message', (message: ToWorker) => void onMessage(message));
// Ctrl-C in a terminal signals every process of the group: drain as the primary would ask.
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
// The primary reloads its workers itself; a SIGHUP to the whole group must not end this one.
process.on('SIGHUP', () => {});
send({ type: 'ready' });
