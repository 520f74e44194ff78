// The primary process of a cluster (`lb --workers N`): it forks N worker processes that serve
// the listeners (each on sockets of its own with SO_REUSEPORT where Node.js and the platform
// offer it, else on the primary's, node:cluster handing them the connections in turn:
// accept-mode.ts, reserve-ports.ts), runs the one health checker and passes its flips on to
// every worker (as the servers' owner, fleet.ts, tells it), serves the status page with every
// worker's counters added up, reloads every worker on SIGHUP, looks up the `discover` entries
// once for all and tells every worker what it found, stops them all on SIGTERM, and replaces a
// worker that dies. The workers are in worker-process.ts; what they say to each other, in
// messages.ts.

import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { AdminServer } from '../admin/admin-server.js';
import { addCounters, statusOf, type Status } from '../admin/status.js';
import { Fleet, namesOf, type ControlChange } from '../balancer/fleet.js';
import { startDiscovery, type Discovered, type Discovery } from '../balancer/discovery.js';
import { buildSnapshot } from '../balancer/snapshot.js';
import { DurationHistogram } from '../balancer/stats.js';
import type { Config, Listener } from '../config/schema.js';
import { formatAddress } from '../config/address.js';
import { HealthMonitor } from '../health/monitor.js';
import type { Logger } from '../log.js';
import { keepListeners } from '../proxy/proxy-server.js';
import { acceptMode, type AcceptMode } from './accept-mode.js';
import type { ToPrimary, ToWorker, UpByLabel } from './messages.js';
import { reservePorts } from './reserve-ports.js';

/** The workers' program: worker-process.js once built, .ts when the sources run directly (tests). */
/* c8 ignore next -- coverage is measured on the sources, so always the .ts branch */
const WORKER_FILE = new URL(import.meta.url.endsWith('.ts') ? './worker-process.ts' : './worker-process.js', import.meta.url);

/** How long a worker may take to answer a status request; the page leaves out one that does not. */
const STATUS_TIMEOUT_MS = 1000;
/** How long a worker may take to reload (its server names are resolved again). */
const RELOAD_TIMEOUT_MS = 5000;
/** Beyond the drain timeout, how long stopping workers get before they are killed. */
const STOP_GRACE_MS = 2000;
/** A worker that dies is replaced after this delay, doubled for each death in the last minute. */
const RESTART_DELAY_MS = 100;
const RESTART_DELAY_MAX_MS = 10_000;

/** One worker process and what the primary knows of it. */
interface Member {
  worker: Worker;
  pid: number;
  /** It has been sent its configuration ('start'). */
  started: boolean;
  /** It has bound the listeners. */
  listening: boolean;
  /** Replies it owes, by request id; each resolves with null if it exits first. */
  pending: Map<number, (reply: ToPrimary | null) => void>;
}

export class ClusterPrimary {
  private readonly members = new Set<Member>();
  /** The servers' state, for health and status only: the primary routes no request. */
  private readonly fleet: Fleet;
  private health: HealthMonitor | null = null;
  private admin: AdminServer | null = null;
  private readonly startedAt = Date.now();
  private nextId = 1;
  /** Set while listen() waits for the first workers: how it learns that they listen, or not. */
  private starting: { resolve: (addresses: AddressInfo[]) => void; reject: (err: Error) => void } | null = null;
  private running = false;
  private closing: Promise<void> | null = null;
  /** When recent workers died, for the restart delay. */
  private deaths: number[] = [];
  /** The lookups of the `discover` entries; null without any. */
  private discovery: Discovery | null = null;
  /** Snapshot changes go one at a time: a reload and what DNS found must not race. */
  private changes: Promise<unknown> = Promise.resolve();
  /**
   * What every worker makes its TLS session ticket keys from (base64), so that a ticket one worker
   * sealed resumes on another; new at each reload, as a single process's keys are.
   */
  private ticketSecret = randomBytes(32).toString('base64');
  /**
   * The listeners as the workers bind them: on the SO_REUSEPORT way, each with the port the
   * primary settled (a port 0 listener's number); else the configuration's own.
   */
  private bound: Listener[];

  constructor(
    private config: Config,
    private readonly logger: Logger,
    /** How many workers run. */
    readonly size: number,
    /** How the workers get their connections: by default, the way this Node.js and platform allow. */
    private readonly accept: AcceptMode = acceptMode(process.versions.node, process.platform, process.env['LB_ACCEPT']),
  ) {
    this.bound = config.listen;
    this.fleet = new Fleet(logger);
    this.fleet.onHealth((server, change) => {
      // A worker's passive failure restarts the checks' count of passes, even for a server down already.
      if (change.source === 'worker') this.health?.markDown(server);
      if (change.changed) this.broadcast({ type: 'health', label: server.label, up: change.up });
    });
  }

  /**
   * Resolves the servers' names, settles the ports (on the SO_REUSEPORT way), starts the workers
   * and waits until every one of them listens (rejects with the first one's reason if one cannot),
   * then starts the health checker and the admin listener. Resolves with the addresses the
   * workers listen on, one per listener.
   */
  async listen(): Promise<AddressInfo[]> {
    this.discovery = await this.discover(this.config);
    this.fleet.use(await buildSnapshot(this.config, null, null, this.found()));
    const reserved = await reservePorts(this.config.listen, this.accept.reusePort);
    this.bound = reserved.listen;
    cluster.setupPrimary({ exec: fileURLToPath(WORKER_FILE), args: [], execArgv: process.execArgv });
    const listening = new Promise<AddressInfo[]>((resolve, reject) => (this.starting = { resolve, reject }));
    for (let i = 0; i < this.size; i++) this.fork();
    let address: AddressInfo[];
    try {
      address = await listening;
    } finally {
      // The workers hold the ports now (or failed): the primary's sockets would only take a share.
      await reserved.release();
    }
    this.starting = null;
    this.running = true;
    this.logger.info(`${this.size} worker processes: ${[...this.members].map((m) => m.pid).join(', ')}`);
    this.logger.info(this.accept.line);
    await this.startHealth();
    if (this.config.admin !== null) {
      this.admin = new AdminServer((startedAt, now) => this.report(startedAt, now), {
        ...this.config.admin,
        logger: this.logger,
        startedAt: this.startedAt,
        control: (name, pool, change, by) => this.control(name, pool, change, by),
      });
      this.logger.info(`status page on http://${formatAddress(await this.admin.listen())}/`);
    }
    return address;
  }

  /**
   * A new configuration: the primary resolves its names (a name that does not resolve rejects,
   * nothing changed), moves its checker to the new server list, then every worker reloads.
   */
  reload(config: Config): Promise<void> {
    return this.serially(() => this.reloadNow(config));
  }

  private async reloadNow(config: Config): Promise<void> {
    const discovery = await this.discover(config);
    try {
      this.fleet.use(await buildSnapshot(config, this.fleet.snapshot, null, discovery?.discovered ?? {}));
    } catch (err) {
      discovery?.stop();
      throw err;
    }
    this.discovery?.stop();
    this.discovery = discovery;
    keepListeners(this.config, config, this.logger);
    this.config = config;
    this.ticketSecret = randomBytes(32).toString('base64');
    const previous = this.health;
    await Promise.all([previous?.stop(), this.startHealth()]);
    // A worker that cannot follow is told about in the log; the others run the new configuration.
    await Promise.all(
      [...this.members].filter((m) => m.started).map(async (m) => {
        const reload = { type: 'reload', id: this.nextId++, config: this.workerConfig(), up: this.upByLabel(), discovered: this.found(), ticketSecret: this.ticketSecret } as const;
        const reply = await this.ask(m, reload, RELOAD_TIMEOUT_MS);
        if (reply === null) this.logger.error(`reload: worker ${m.pid} did not answer within ${RELOAD_TIMEOUT_MS} ms`);
        /* c8 ignore next 3 -- a worker fails a reload the primary passed only if its own DNS lookup fails */
        else if (reply.type === 'reloaded' && reply.error !== null) {
          this.logger.error(`reload: worker ${m.pid} keeps the previous configuration: ${reply.error}`);
        }
      }),
    );
  }

  /** `config`'s discover entries looked up once; null when it has none. */
  private discover(config: Config): Promise<Discovery | null> {
    return startDiscovery(config, this.logger, this.discovery, (found, from) => {
      // A reload may have replaced the discovery that saw it: then its news is old.
      void this.serially(async () => {
        if (from === this.discovery && this.running) await this.rediscovered(found);
      });
    });
  }

  /** What discovery found, by entry. */
  private found(): Discovered {
    return this.discovery?.discovered ?? {};
  }

  /**
   * The servers DNS names changed: the primary checks the new list, and every worker routes over
   * it (a server that went finishes its requests in flight there).
   */
  private async rediscovered(found: Discovered): Promise<void> {
    // Addresses and servers carried over: nothing to resolve, so this cannot reject.
    this.fleet.use(await buildSnapshot(this.config, this.fleet.snapshot, null, found));
    const previous = this.health;
    await Promise.all([previous?.stop(), this.startHealth()]);
    this.broadcast({ type: 'discovered', discovered: found });
  }

  /** Runs `change` once the changes before it are done, failed or not. */
  private serially<T>(change: () => Promise<T>): Promise<T> {
    const run = this.changes.then(change, change);
    this.changes = run.catch(() => {});
    return run;
  }

  /**
   * Every worker drains and exits (each bounded by timeouts.drain; killed if still there
   * STOP_GRACE_MS later), the checker and the admin listener stop. Calling it again returns the
   * same promise.
   */
  close(): Promise<void> {
    this.closing ??= this.stop();
    return this.closing;
  }

  private async stop(): Promise<void> {
    this.running = false;
    this.discovery?.stop();
    const exited = [...this.members].map((m) => new Promise<void>((resolve) => m.worker.once('exit', () => resolve())));
    // A worker that does not listen yet has nothing to drain.
    for (const m of this.members) {
      if (m.listening) this.send(m, { type: 'stop' });
      else m.worker.process.kill();
    }
    const kill = setTimeout(() => {
      this.logger.warn(`stop: ${this.members.size} worker(s) still running ${STOP_GRACE_MS} ms past the drain timeout, killing them`);
      for (const m of this.members) m.worker.process.kill('SIGKILL');
    }, this.config.timeouts.drain + STOP_GRACE_MS);
    await Promise.all([...exited, this.health?.stop(), this.admin?.close()]);
    clearTimeout(kill);
  }

  /**
   * An admin API change: applied (and logged) here, where /servers reads states and weights, then
   * in every worker; resolves once each has it (a worker that does not answer in time is logged).
   */
  private async control(name: string, pool: string | null, change: ControlChange, by: string): Promise<ReturnType<typeof namesOf>> {
    const result = namesOf(this.fleet.control(name, pool, change, by));
    if ('unknown' in result) return result;
    await Promise.all(
      [...this.members].filter((m) => m.started).map(async (m) => {
        const reply = await this.ask(m, { type: 'control', id: this.nextId++, name, pool, change }, STATUS_TIMEOUT_MS);
        if (reply === null) this.logger.error(`admin API: worker ${m.pid} did not confirm the change within ${STATUS_TIMEOUT_MS} ms`);
      }),
    );
    return result;
  }

  /** The report of the status page: the primary's servers (up, last check), every worker's counters. */
  private async report(startedAt: number, now: number): Promise<Status> {
    const total = statusOf({ snapshot: this.fleet.snapshot, durations: new DurationHistogram(), connections: 0 }, startedAt, now);
    const listening = [...this.members].filter((m) => m.listening);
    const replies = await Promise.all(listening.map((m) => this.ask(m, { type: 'status', id: this.nextId++ }, STATUS_TIMEOUT_MS)));
    total.workers = [];
    replies.forEach((reply, i) => {
      if (reply?.type !== 'status') return;
      addCounters(total, reply.status);
      const requests = reply.status.pools.reduce((n, p) => n + p.requests, 0);
      total.workers!.push({ pid: listening[i]!.pid, connections: reply.status.connections, requests });
    });
    return total;
  }

  private fork(): void {
    const worker = cluster.fork();
    const member: Member = { worker, pid: worker.process.pid!, started: false, listening: false, pending: new Map() };
    this.members.add(member);
    worker.on('message', (message: ToPrimary) => this.onMessage(member, message));
    worker.on('exit', (code, signal) => this.onExit(member, code, signal));
    // Its IPC channel failing (the worker died mid-write) is the exit's business.
    worker.on('error', (err) => this.logger.debug(`worker ${member.pid}: ${err.message}`));
  }

  private onMessage(m: Member, message: ToPrimary): void {
    switch (message.type) {
      case 'ready':
        m.started = true;
        this.send(m, {
          type: 'start',
          config: this.workerConfig(),
          logLevel: this.logger.level,
          up: this.upByLabel(),
          controls: this.fleet.controls(),
          discovered: this.found(),
          reusePort: this.accept.reusePort,
          ticketSecret: this.ticketSecret,
        });
        return;
      case 'listening':
        m.listening = true;
        if (this.starting !== null) {
          if ([...this.members].every((w) => w.listening)) this.starting.resolve(message.addresses);
        } else this.logger.info(`worker ${m.pid} started`);
        return;
      case 'failed':
        // At start: the address is taken, say; lb prints the reason and exits 1. Later, for a
        // worker that replaces one: logged, and it exits, to be replaced in turn.
        if (this.starting !== null) this.starting.reject(new Error(message.reason));
        else this.logger.error(`worker ${m.pid}: ${message.reason}`);
        return;
      case 'down':
        return this.markDown(message.label);
      default:
        m.pending.get(message.id)?.(message);
    }
  }

  private onExit(m: Member, code: number | null, signal: string | null): void {
    this.members.delete(m);
    for (const reply of m.pending.values()) reply(null);
    const how = signal === null ? `code ${code}` : signal;
    if (this.starting !== null) {
      this.starting.reject(new Error(`worker ${m.pid} exited (${how}) before it listened`));
      return;
    }
    if (!this.running) return;
    const now = Date.now();
    this.deaths = [...this.deaths.filter((at) => now - at < 60_000), now];
    const delay = Math.min(RESTART_DELAY_MS * 2 ** (this.deaths.length - 1), RESTART_DELAY_MAX_MS);
    this.logger.error(`worker ${m.pid} exited (${how}); starting another in ${delay} ms`);
    // Unreferenced: a stop meanwhile must not wait for it (and it forks nothing once stopping).
    setTimeout(() => {
      if (this.running) this.fork();
    }, delay).unref();
  }

  /**
   * A worker's connection to `label` was refused: out at once in every worker, until `rise`
   * passes. The worker that saw it logged it; the others follow the broadcast.
   */
  private markDown(label: string): void {
    const server = this.fleet.snapshot.byLabel.get(label);
    if (server !== undefined) this.fleet.setHealth(server, false, '', 'worker');
  }

  private async startHealth(): Promise<void> {
    const health = new HealthMonitor(this.fleet, this.config.healthcheck, this.logger, this.config.admin !== null);
    this.health = health;
    await health.start();
  }

  /**
   * The configuration a worker runs: the primary's, without the admin listener (the primary serves
   * it), with the ports the workers bind (a reload's config too, which must name the same).
   */
  private workerConfig(): Config {
    return { ...this.config, admin: null, listen: this.bound };
  }

  private upByLabel(): UpByLabel {
    return Object.fromEntries(this.fleet.servers.map((b) => [b.label, b.up]));
  }

  private broadcast(message: ToWorker): void {
    for (const m of this.members) if (m.started) this.send(m, message);
  }

  private send(m: Member, message: ToWorker): void {
    if (m.worker.isConnected()) m.worker.send(message);
  }

  /** Sends a request with an id; resolves with the reply, or null on timeout or if the worker exits. */
  private ask(m: Member, message: ToWorker & { id: number }, timeoutMs: number): Promise<ToPrimary | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(null), timeoutMs);
      const done = (reply: ToPrimary | null): void => {
        clearTimeout(timer);
        m.pending.delete(message.id);
        resolve(reply);
      };
      m.pending.set(message.id, done);
      this.send(m, message);
    });
  }
}
