// GET /metrics: the counters in the Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/). Built per scrape from the
// numbers the proxy keeps; every series is named `lb_...`.

import { CLASSES, type Responses, type Status } from './status.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * A label value as the format writes it between double quotes: "label_value can be any sequence
 * of UTF-8 characters, but the backslash (\), double-quote ("), and line feed (\n) characters have
 * to be escaped as \\, \", and \n, respectively."
 */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** Collects the lines of one exposition, a family (HELP, TYPE, samples) at a time. */
class Exposition {
  private text = '';

  /** Starts a metric family; its samples follow. */
  family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): this {
    this.text += `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
    return this;
  }

  /** One sample: `name{k="v",...} value`. Values are finite, so JavaScript's number syntax is Go's. */
  sample(name: string, labels: Record<string, string>, value: number): this {
    const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
    this.text += `${name}${pairs.length === 0 ? '' : `{${pairs.join(',')}}`} ${value}\n`;
    return this;
  }

  /** The requests of one server or pool, one sample per status class. */
  byClass(name: string, labels: Record<string, string>, responses: Responses): this {
    for (const cls of CLASSES) this.sample(name, { ...labels, class: cls }, responses[cls]);
    return this;
  }

  toString(): string {
    return this.text;
  }
}

/** The whole exposition of a report. */
export function metricsOf(status: Status): string {
  const out = new Exposition();
  const { servers, pools } = status;

  out.family('lb_server_requests_total', 'counter', 'Requests a server finished, by status class (class "cut": ended before a status).');
  for (const s of servers) out.byClass('lb_server_requests_total', { server: s.name }, s.responses);
  out.family('lb_server_in_flight', 'gauge', 'Requests sent to a server and not finished yet.');
  for (const s of servers) out.sample('lb_server_in_flight', { server: s.name }, s.inFlight);
  out.family('lb_server_failures_total', 'counter', 'Connections to a server that failed before a response: refused, reset, timed out.');
  for (const s of servers) out.sample('lb_server_failures_total', { server: s.name }, s.failures);
  out.family('lb_server_up', 'gauge', 'Whether a server takes requests (1) or is out of rotation (0).');
  for (const s of servers) out.sample('lb_server_up', { server: s.name }, s.up ? 1 : 0);

  // Absent for a server not checked yet: no sample is better than a made-up one.
  const checked = servers.filter((s) => s.lastCheck !== null);
  out.family('lb_health_check_ok', 'gauge', 'Whether the last health check of a server passed (1) or failed (0).');
  for (const s of checked) out.sample('lb_health_check_ok', { server: s.name }, s.lastCheck!.ok ? 1 : 0);
  out.family('lb_health_check_timestamp_seconds', 'gauge', 'When the last health check of a server ended, in seconds since the epoch.');
  for (const s of checked) out.sample('lb_health_check_timestamp_seconds', { server: s.name }, Date.parse(s.lastCheck!.at) / 1000);

  out.family('lb_pool_requests_total', 'counter', 'Requests a pool finished, by status class (class "cut": ended before a status).');
  for (const p of pools) out.byClass('lb_pool_requests_total', { pool: p.name }, p.responses);
  out.family('lb_pool_in_flight', 'gauge', 'Requests routed to a pool and not finished yet.');
  for (const p of pools) out.sample('lb_pool_in_flight', { pool: p.name }, p.inFlight);
  out.family(
    'lb_responses_total',
    'counter',
    'Responses by pool ("" before routing), status and who made them: the balancer (code: its error code) or a server (code "").',
  );
  for (const r of status.responses) {
    out.sample('lb_responses_total', { pool: r.pool, status: String(r.status), code: r.code, source: r.source }, r.count);
  }

  out.family('lb_pool_queue_length', 'gauge', 'Requests waiting in a pool\'s queue for a server below its max_connections.');
  for (const p of pools) out.sample('lb_pool_queue_length', { pool: p.name }, p.waiting);
  out.family('lb_pool_queue_rejected_total', 'counter', 'Requests answered 503 by a pool\'s queue: full (QUEUE_FULL) or waited too long (QUEUE_TIMEOUT).');
  for (const p of pools) {
    out.sample('lb_pool_queue_rejected_total', { pool: p.name, reason: 'full' }, p.queueFull);
    out.sample('lb_pool_queue_rejected_total', { pool: p.name, reason: 'timeout' }, p.queueTimeouts);
  }
  out.family('lb_pool_retries_denied_total', 'counter', 'Retries a pool\'s retry_budget refused (502 RETRY_BUDGET).');
  for (const p of pools) out.sample('lb_pool_retries_denied_total', { pool: p.name }, p.retriesDenied);
  out.family('lb_pool_server_weight', 'gauge', 'The weight a pool gives a server now (slow start ramps it).');
  for (const p of pools) for (const m of p.members) out.sample('lb_pool_server_weight', { pool: p.name, server: m.server }, m.weight);
  out.family('lb_pool_server_ejected', 'gauge', 'Whether outlier detection has ejected a server from a pool now (1) or not (0).');
  for (const p of pools) for (const m of p.members) out.sample('lb_pool_server_ejected', { pool: p.name, server: m.server }, m.ejected ? 1 : 0);
  out.family('lb_pool_server_ejections_total', 'counter', 'Times outlier detection ejected a server from a pool.');
  for (const p of pools) for (const m of p.members) out.sample('lb_pool_server_ejections_total', { pool: p.name, server: m.server }, m.ejections);

  out.family('lb_client_connections', 'gauge', 'Client connections open now.');
  out.sample('lb_client_connections', {}, status.connections);

  if (status.workers !== undefined) {
    out.family('lb_workers', 'gauge', 'Worker processes that reported to this scrape (lb --workers).');
    out.sample('lb_workers', {}, status.workers.length);
  }

  out.family('lb_request_duration_seconds', 'histogram', 'Time from a request head to the end of its response.');
  const { buckets, sum, count } = status.durations;
  for (const b of buckets) out.sample('lb_request_duration_seconds_bucket', { le: String(b.le) }, b.count);
  out.sample('lb_request_duration_seconds_sum', {}, sum);
  out.sample('lb_request_duration_seconds_count', {}, count);
  return out.toString();
}
