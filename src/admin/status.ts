// What the admin listener reports, as one plain snapshot: every pool and server with its state,
// last health check and counters, and the request durations. Served as /status and drawn by the
// status page. It only reads the counters the proxy keeps; nothing here runs per proxied request.

import { performance } from 'node:perf_hooks';
import type { Backend } from '../balancer/backend.js';
import type { AdminState, Pool } from '../balancer/pool.js';
import type { Snapshot } from '../balancer/snapshot.js';
import { DURATION_BUCKETS, type Counters, type DurationHistogram, type ResponseCounts } from '../balancer/stats.js';
import { ERRORS } from '../errors.js';

/** What a status report is made from. ProxyServer is one. */
export interface StatusSource {
  /** The servers and pools in force. */
  readonly snapshot: Snapshot;
  readonly durations: DurationHistogram;
  /** Client connections open now. */
  readonly connections: number;
  /** Responses made before routing (pool ""); none for a source that routes nothing (a cluster's primary). */
  readonly unrouted?: ResponseCounts;
}

/** One series of lb_responses_total: responses of a pool with one status, made by one side. */
export interface ResponseCount {
  /** The pool's name; "" for responses made before routing (a request refused unparsed, or no route matched). */
  pool: string;
  status: number;
  /** The error code (errors.ts) when the balancer made them; "" when a server did. */
  code: string;
  source: 'balancer' | 'server';
  count: number;
}

/** Finished requests by status class; `cut`: ended before any status (reset, timed out, aborted). */
export interface Responses {
  '1xx': number;
  '2xx': number;
  '3xx': number;
  '4xx': number;
  '5xx': number;
  cut: number;
}

export interface PoolStatus {
  /** "www.mango.com" (a host), "/mango" (a path prefix) or "default". */
  name: string;
  /** The `name`s of its servers, in the config's order. */
  servers: string[];
  /** `balance`: round_robin, least_conn, ... */
  balance: string;
  /** Requests routed to this pool (a retry counts once per server it went to). */
  requests: number;
  inFlight: number;
  responses: Responses;
  /** Requests waiting in its queue now, and those that waited at all so far. */
  waiting: number;
  queued: number;
  /** Requests answered 503 because the queue was full (QUEUE_FULL) or they waited too long (QUEUE_TIMEOUT). */
  queueFull: number;
  queueTimeouts: number;
  /** Retries the retry budget refused (502 RETRY_BUDGET). */
  retriesDenied: number;
  /** Each server as this pool has it, in the order of `servers`. */
  members: MemberStatus[];
}

/** A server in one pool: what the pool's options make of it. */
export interface MemberStatus {
  /** The server's `name`. */
  server: string;
  /** As the config writes it (its `label`): the name the admin API and `lb ctl` take. */
  label: string;
  /** The admin API's state: ready, drain or maint. */
  admin: AdminState;
  /** The weight a pick uses now (slow start ramps it), 0..256; two decimals. */
  weight: number;
  /** max_connections; 0 = none. */
  maxConnections: number;
  backup: boolean;
  /** Ejected by outlier detection now, and how many times so far. */
  ejected: boolean;
  ejections: number;
}

export interface ServerStatus {
  /** "127.0.0.1:8081": the resolved address, as logs and /metrics name it. */
  name: string;
  /** "localhost:8081": as the config wrote it. */
  label: string;
  /** Names of the pools that list it. */
  pools: string[];
  up: boolean;
  /** The last health check; null before the first one. `at` is an ISO 8601 time. */
  lastCheck: { ok: boolean; reason: string; at: string } | null;
  /** Requests sent to it, over all its pools. */
  requests: number;
  inFlight: number;
  /** Connections that failed before a response: refused, reset, timed out. */
  failures: number;
  responses: Responses;
}

/** The request duration histogram; `le` in seconds, counts cumulative, the last bucket "+Inf". */
export interface DurationsStatus {
  buckets: { le: number | '+Inf'; count: number }[];
  /** Seconds, over every request. */
  sum: number;
  count: number;
}

/** One worker process of a cluster (`lb --workers N`). */
export interface WorkerStatus {
  pid: number;
  /** Its client connections open now. */
  connections: number;
  /** Requests it routed, over its pools. */
  requests: number;
}

/** The body of GET /status. */
export interface Status {
  /** When this report was made (ISO 8601): the page measures "ago" and req/s against it. */
  time: string;
  /** Whole seconds since the balancer started. */
  uptimeSeconds: number;
  /** Client connections open now. */
  connections: number;
  pools: PoolStatus[];
  servers: ServerStatus[];
  durations: DurationsStatus;
  /** Every response by pool, status and who made it (lb_responses_total): pool "" first, then the pools in `pools`' order, each by status. */
  responses: ResponseCount[];
  /** With `--workers`: the processes whose counters this report adds up. Absent for one process. */
  workers?: WorkerStatus[];
}

/**
 * The report on `source` at `now` (ms since the epoch) for a balancer started at `startedAt`;
 * `clock`: the proxy's monotonic now(), for slow start's weights.
 */
export function statusOf(source: StatusSource, startedAt: number, now: number, clock: number = performance.now()): Status {
  const snapshot = source.snapshot;
  return {
    time: new Date(now).toISOString(),
    uptimeSeconds: Math.max(0, Math.floor((now - startedAt) / 1000)),
    connections: source.connections,
    pools: snapshot.pools.map((pool) => poolStatus(pool, clock)),
    servers: snapshot.servers.map((server) => ({
      name: server.name,
      label: server.label,
      pools: [...snapshot.poolsOf(server)],
      up: server.up,
      lastCheck: lastCheckOf(server),
      requests: server.stats.requests,
      inFlight: server.stats.inFlight,
      failures: server.stats.failures,
      responses: responsesOf(server.stats),
    })),
    durations: durationsOf(source.durations),
    responses: [
      ...(source.unrouted === undefined ? [] : responseCounts('', source.unrouted)),
      ...snapshot.pools.flatMap((pool) => responseCounts(pool.name, pool.responses)),
    ],
  };
}

/** The series of one pool's counts, by status (a server's before the balancer's of the same status), then code. */
function responseCounts(pool: string, counts: ResponseCounts): ResponseCount[] {
  const out: ResponseCount[] = [];
  counts.fromServer.forEach((count, status) => {
    if (count > 0) out.push({ pool, status, code: '', source: 'server', count });
  });
  for (const [code, count] of counts.fromBalancer) out.push({ pool, status: ERRORS[code].status, code, source: 'balancer', count });
  return out.sort(byStatusAndCode);
}

/** The order of one pool's series; no two of them have both status and code alike. */
function byStatusAndCode(a: ResponseCount, b: ResponseCount): number {
  return a.status - b.status || (a.code < b.code ? -1 : 1);
}

function poolStatus(pool: Pool, clock: number): PoolStatus {
  const outlier = pool.outlier;
  return {
    name: pool.name,
    servers: pool.servers.map((s) => s.name),
    balance: pool.balancing.balance,
    requests: pool.stats.requests,
    inFlight: pool.stats.inFlight,
    responses: responsesOf(pool.stats),
    waiting: pool.waitingCount,
    queued: pool.queued,
    queueFull: pool.queueFull,
    queueTimeouts: pool.queueTimeouts,
    retriesDenied: pool.retriesDenied,
    members: pool.servers.map((s, i) => ({
      server: s.name,
      label: pool.names[i]!,
      admin: pool.stateOf(i),
      weight: Math.round(pool.weightAt(i, clock) * 100) / 100,
      maxConnections: pool.limits?.[i] ?? 0,
      backup: pool.backups?.[i] === 1,
      ejected: outlier !== null && outlier.ejected[i] === 1,
      ejections: pool.ejections[i]!,
    })),
  };
}

/** The status classes in the order of Counters.byClass[1..5], then the requests cut short (byClass[0]). */
export const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'cut'] as const;

/** Counters.byClass as named classes. */
export function responsesOf(stats: Counters): Responses {
  const c = stats.byClass;
  return { '1xx': c[1]!, '2xx': c[2]!, '3xx': c[3]!, '4xx': c[4]!, '5xx': c[5]!, cut: c[0]! };
}

function lastCheckOf(server: Backend): ServerStatus['lastCheck'] {
  const check = server.lastCheck;
  return check === null ? null : { ok: check.ok, reason: check.reason, at: new Date(check.at).toISOString() };
}

/** The histogram made cumulative, as Prometheus reads it: bucket i counts every request <= its bound. */
export function cumulativeBuckets(durations: DurationHistogram): DurationsStatus['buckets'] {
  let count = 0;
  return durations.counts.map((n, i) => {
    count += n;
    return { le: DURATION_BUCKETS[i] ?? '+Inf', count };
  });
}

function durationsOf(durations: DurationHistogram): DurationsStatus {
  const buckets = cumulativeBuckets(durations);
  return { buckets, sum: durations.sum, count: buckets[buckets.length - 1]!.count };
}

/**
 * Adds the counters of `part`, one worker's report, into `total`, the cluster's report: pools by
 * name, servers by name, connections and durations. What is the cluster's own (up, last check,
 * uptime) stays as `total` has it. A pool or server the worker does not have (it is between two
 * configurations) adds nothing.
 */
export function addCounters(total: Status, part: Status): void {
  const add = (into: Responses, from: Responses): void => {
    for (const cls of CLASSES) into[cls] += from[cls];
  };
  const pools = new Map(part.pools.map((p) => [p.name, p]));
  for (const pool of total.pools) {
    const p = pools.get(pool.name);
    if (p === undefined) continue;
    pool.requests += p.requests;
    pool.inFlight += p.inFlight;
    add(pool.responses, p.responses);
    pool.waiting += p.waiting;
    pool.queued += p.queued;
    pool.queueFull += p.queueFull;
    pool.queueTimeouts += p.queueTimeouts;
    pool.retriesDenied += p.retriesDenied;
    // Each worker ejects on what it sees: ejected in any is shown as ejected.
    pool.members.forEach((m, i) => {
      const w = p.members[i];
      if (w === undefined || w.server !== m.server) return;
      m.ejected ||= w.ejected;
      m.ejections += w.ejections;
    });
  }
  const servers = new Map(part.servers.map((s) => [s.name, s]));
  for (const server of total.servers) {
    const s = servers.get(server.name);
    if (s === undefined) continue;
    server.requests += s.requests;
    server.inFlight += s.inFlight;
    server.failures += s.failures;
    add(server.responses, s.responses);
  }
  addResponses(total, part.responses);
  total.connections += part.connections;
  total.durations.buckets.forEach((b, i) => (b.count += part.durations.buckets[i]!.count));
  total.durations.sum += part.durations.sum;
  total.durations.count += part.durations.count;
}

/**
 * Adds a worker's lb_responses_total series into the cluster's: the same series summed, one the
 * cluster does not have yet added, in the order statusOf gives (pool "" first, then the pools'
 * order, then status and code). A pool the cluster does not have adds nothing, as above.
 */
function addResponses(total: Status, part: readonly ResponseCount[]): void {
  const order = new Map<string, number>([['', -1]]);
  total.pools.forEach((p, i) => order.set(p.name, i));
  const key = (r: ResponseCount): string => `${r.pool}\n${r.status}\n${r.code}`;
  const series = new Map(total.responses.map((r) => [key(r), r]));
  for (const r of part) {
    if (!order.has(r.pool)) continue;
    const mine = series.get(key(r));
    if (mine !== undefined) mine.count += r.count;
    else {
      const added = { ...r };
      series.set(key(r), added);
      total.responses.push(added);
    }
  }
  total.responses.sort((a, b) => order.get(a.pool)! - order.get(b.pool)! || byStatusAndCode(a, b));
}
