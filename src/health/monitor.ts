// The main thread's side of health checking: it starts the checker's worker thread, hands the
// flips it posts to the servers' owner (Fleet.setHealth), tells it of passive failures, and
// restarts it if it crashes (the servers keep their last known state meanwhile).

import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Backend } from '../balancer/backend.js';
import type { HealthOwner } from '../balancer/fleet.js';
import type { Logger } from '../log.js';
import { DEFAULTS, type Healthcheck } from '../config/schema.js';
import type { FromMain, HealthWorkerData, ToMain } from './worker.js';

/** What the proxy needs of its health checks, whoever runs them. */
export interface HealthChecks {
  /** Starts checking; resolves once checks run. */
  start(): Promise<void>;
  /** Stops checking; resolves once stopped. */
  stop(): Promise<void>;
  /** A passive failure (a refused connection): `rise` passes must bring the server back. */
  markDown(server: Backend): void;
}

/**
 * Makes the checks of the servers in force in `fleet`, which they report to;
 * `reportChecks`: every result is wanted, not only the flips.
 */
export type CreateHealthChecks = (fleet: HealthOwner, options: Healthcheck, reportChecks: boolean) => HealthChecks;

/** The worker's file: worker.js once built, worker.ts when the sources run directly (tests). */
/* c8 ignore next -- coverage is measured on the sources, so always the .ts branch */
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);

/**
 * How the worker starts: from its own file; or, when LB_HEALTH_WORKER names one, from that build
 * of it (the test suite compiles the sources once, instead of once in every worker). A build is
 * JavaScript, so it starts without the process's loaders (--import, and those NODE_OPTIONS
 * names, which a worker reads from its environment), there only for TypeScript and coverage.
 */
function workerStart(): { file: URL; execArgv?: string[]; env?: NodeJS.ProcessEnv } {
  const build = process.env['LB_HEALTH_WORKER'];
  if (build === undefined || build === '') return { file: WORKER_URL };
  const { NODE_OPTIONS: _loaders, ...env } = process.env;
  return { file: pathToFileURL(build), execArgv: [], env };
}

/** How long to wait before starting a crashed worker again. */
const RESTART_DELAY_MS = 100;

export class HealthMonitor implements HealthChecks {
  /** The running worker, or null while stopped or restarting. */
  worker: Worker | null = null;
  /** Thread id of the current worker, as it reported it. */
  threadId = 0;
  /** Every check result, when `onCheck` is set (tests, debug logs). */
  onCheck: ((server: Backend, ok: boolean, reason: string, at: number) => void) | null = null;
  /**
   * How long stop() lets the worker end by itself before it terminates it. A terminated thread
   * runs no exit handlers: the tests that measure a worker's coverage give it longer.
   */
  stopGraceMs = 200;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | null = null;

  /** The servers checked: those in force when the checks were made (a reload makes new checks). */
  private readonly servers: readonly Backend[];
  /** How each is checked: as its snapshot says, else as `options` does. */
  private readonly checks: readonly Healthcheck[];

  constructor(
    private readonly fleet: HealthOwner,
    /** The top-level healthcheck: for a server no pool of the snapshot gives settings for. */
    options: Healthcheck,
    private readonly logger: Logger,
    /** Whether every check's result is wanted (Backend.lastCheck), not only the flips. */
    private readonly reportChecks = false,
    /** How often a name that does not resolve is looked up again (ms). */
    private readonly retry: number = DEFAULTS.retry,
  ) {
    const snapshot = fleet.snapshot;
    this.servers = snapshot.servers;
    this.checks = this.servers.map((s) => snapshot.checkOf(s) ?? options);
  }

  /** Starts the worker; resolves once it runs. */
  start(): Promise<void> {
    const data: HealthWorkerData = {
      targets: this.servers.map((s, i) => ({
        host: s.host,
        port: s.port,
        resolved: s.resolved,
        check: this.checks[i]!,
        sendProxy: this.checks[i]!.sendProxy ?? 0,
        // Checked over TLS as its requests go: the same settings, the same name.
        tls: s.tls === null ? null : { settings: s.tls.settings, host: s.tls.host },
      })),
      retry: this.retry,
      up: this.servers.map((s) => s.up),
      reportChecks: this.reportChecks || this.onCheck !== null || this.logger.enabled('debug'),
    };
    const { file, ...options } = workerStart();
    const worker = new Worker(file, { workerData: data, ...options });
    this.worker = worker;
    worker.unref();
    worker.on('message', (message: ToMain) => this.onMessage(message));
    worker.on('error', (err) => this.logger.error(`health checker crashed: ${err.message}`));
    worker.on('exit', (code) => this.onExit(code));
    // The worker's first message is 'ready'; a worker that dies before it is restarted (onExit).
    return new Promise((resolve) => {
      worker.once('message', () => resolve());
      worker.once('exit', () => resolve());
    });
  }

  /** A passive failure: the worker must see `rise` passes before the server comes back. */
  markDown(server: Backend): void {
    const index = this.servers.indexOf(server);
    if (index >= 0) this.post({ type: 'down', index });
  }

  /** Stops the worker and waits for it to end. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer !== null) clearTimeout(this.restartTimer);
    const worker = this.worker;
    if (worker === null) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    this.post({ type: 'stop' });
    // A probe in flight may hold the thread until its timeout; don't wait for that.
    const bound = setTimeout(() => void worker.terminate(), this.stopGraceMs);
    await exited;
    clearTimeout(bound);
  }

  private post(message: FromMain): void {
    this.worker?.postMessage(message);
  }

  private onMessage(message: ToMain): void {
    if (message.type === 'ready') {
      this.threadId = message.threadId;
      this.logger.info(`health checker running in worker thread ${message.threadId}`);
      return;
    }
    const server = this.servers[message.index]!;
    if (message.type === 'check') {
      server.lastCheck = { ok: message.ok, reason: message.reason, at: message.at };
      this.logger.debug(`check ${server.name}: ${message.reason}`);
      this.onCheck?.(server, message.ok, message.reason, message.at);
      return;
    }
    if (message.type === 'no-page') {
      this.logger.info(`server ${server.name} has no ${this.checks[message.index]!.path} (404): checking that it accepts connections; set healthcheck.path to check a page`);
      return;
    }
    if (message.type === 'resolved') {
      server.resolvedTo(message.address);
      this.logger.info(`${server.label} resolves now, to ${message.address}: checking it`);
      return;
    }
    // A passive failure may have taken the server out already: the owner then does nothing.
    this.fleet.setHealth(server, message.up, message.reason, 'check');
  }

  private onExit(code: number): void {
    this.worker = null;
    if (this.stopping) return;
    this.logger.error(`health checker exited (code ${code}); restarting it, servers keep their last known state`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      void this.start();
    }, RESTART_DELAY_MS);
  }
}
