// The summary `lb --check` prints: each listener, admin, each pool (how it balances, when not
// round robin) and its servers (with their long-form settings) and discover entries, health,
// timeouts, limits and the DNS resolvers, with
// durations and sizes written in their largest whole unit.

import { formatListen } from './address.js';
import { formatDuration } from './values.js';
import { DEFAULTS, KIB, MIB, type BackendTls, type Balancing, type Config, type Healthcheck, type Listener, type Pool, type PoolServer } from './schema.js';
import { formatExpect } from './sections/healthcheck.js';

/** A multi-line, human summary of a config: listen, admin, each pool and its servers, health, timeouts, limits. */
export function describeConfig(c: Config): string {
  const t = c.timeouts;
  const h = c.healthcheck;
  const l = c.limits;
  const lines = c.listen.map((l) => `listen       ${describeListener(l)}`);
  lines.push(`admin        ${c.admin ? formatListen(c.admin) : 'off'}`);
  const pool = (kind: string, p: Pool) => {
    lines.push(`${kind.padEnd(12)} ${p.name}${describeBalancing(p.balancing)}`);
    const check = describeCheck(p.healthcheck);
    if (check !== describeCheck(h)) lines.push(`  checked by ${check}`);
    for (const s of p.servers) lines.push(`  ${s.name}${describeServer(s)}`);
    for (const d of p.discover) {
      const what = d.kind === 'srv' ? 'SRV records' : 'A/AAAA records';
      const server = describeServer({ ...d, weight: d.weight ?? DEFAULTS.server.weight });
      lines.push(`  discover ${d.name} (${what}, refresh ${formatDuration(d.refresh)})${server}`);
    }
  };
  for (const p of c.hosts) {
    pool('host', p);
    if (p.servers.length + p.discover.length === 0) lines.push('  no servers of its own: a request none of its paths match goes on');
    for (const nested of p.paths) pool('path', nested);
  }
  for (const p of c.paths) pool('path', p);
  if (c.servers) pool('default', { ...c.servers, name: '(requests not matched above)' });
  lines.push(
    `healthcheck  ${describeCheck(h)}`,
    `timeouts     connect ${formatDuration(t.connect)}, header ${formatDuration(t.header)}, ` +
      `idle ${formatDuration(t.idle)}, server ${formatDuration(t.server)}, drain ${formatDuration(t.drain)}`,
    `limits       request line ${formatSize(l.maxRequestLine)}, head ${formatSize(l.maxHead)}, ` +
      `${l.maxFields} fields, ${l.maxConnections === 0 ? 'unlimited' : l.maxConnections} connections`,
    `trusted      ${c.trustedProxies.length === 0 ? 'none' : c.trustedProxies.join(', ')}`,
  );
  if (c.resolvers.length > 0) lines.push(`resolvers    ${c.resolvers.join(', ')}`);
  return lines.join('\n') + '\n';
}

/** "127.0.0.1:8080", with what the listener does besides HTTP: ", TLS with cert.pem, PROXY protocol". */
export function describeListener(l: Listener): string {
  const parts = [formatListen(l)];
  if (l.tls !== null) {
    const min = l.tls.minVersion === 'TLSv1.2' ? '' : `, ${l.tls.minVersion} at least`;
    parts.push(`TLS with ${l.tls.certs.map((c) => c.cert).join(', ')}${min}`);
  }
  if (l.redirect) parts.push('redirects to https');
  if (l.proxyProtocol) parts.push('PROXY protocol');
  return parts.join(', ');
}

/** "GET /healthcheck every 5s, timeout 1s, rise 2, fall 2" (with expect and Host when set), "TCP connect every ...", or "none". */
function describeCheck(h: Healthcheck): string {
  if (h.type === 'none') return 'none (refused connections and outlier only)';
  let what = 'TCP connect';
  if (h.type === 'http') {
    const expect = formatExpect(h.expect);
    what = `GET ${h.path}${expect === '200-399' ? '' : ` expecting ${expect}`}${h.host === '' ? '' : ` with Host ${h.host}`}`;
  }
  return `${what} every ${formatDuration(h.interval)}, timeout ${formatDuration(h.timeout)}, rise ${h.rise}, fall ${h.fall}`;
}

/** ", balance least_conn, sticky cookie lb_server": what is not the default, "" when nothing. */
function describeBalancing(b: Balancing): string {
  const parts: string[] = [];
  if (b.balance === 'hash') {
    // The reader refuses `balance: hash` without a hash_key, so a hash pool always has one.
    const key = b.hashKey!;
    parts.push(`balance hash on ${key.name === '' ? key.from : `${key.from}:${key.name}`}`);
  } else if (b.balance !== 'round_robin') {
    parts.push(`balance ${b.balance}`);
  }
  if (b.sticky !== null) parts.push(`sticky cookie ${b.sticky.cookie}`);
  if (b.sendProxy !== 0) parts.push(`send_proxy v${b.sendProxy}`);
  if (b.backendTls !== null) parts.push(describeBackendTls(b.backendTls));
  // consecutive_failures 0 is outlier detection off, as if the key were absent.
  if (b.outlier !== null && b.outlier.consecutiveFailures > 0) {
    parts.push(`outlier ejection after ${b.outlier.consecutiveFailures} failures`);
  }
  return parts.map((part) => `, ${part}`).join('');
}

/** "HTTPS to servers (CA /etc/lb/ca.pem: 2 certificates; name api.internal)", "HTTPS to servers (certificates not verified)". */
function describeBackendTls(tls: BackendTls): string {
  const parts: string[] = [];
  if (tls.ca !== null) parts.push(`CA ${tls.ca}: ${tls.caCerts.length} certificate${tls.caCerts.length === 1 ? '' : 's'}`);
  if (tls.serverName !== null) parts.push(`name ${tls.serverName}`);
  if (!tls.verify) parts.push('certificates not verified');
  return parts.length === 0 ? 'HTTPS to servers' : `HTTPS to servers (${parts.join('; ')})`;
}

/** The long form's settings that are not the default (weight, max in flight, backup, slow start); "" when none. */
function describeServer(s: PoolServer): string {
  const parts: string[] = [];
  if (s.weight !== DEFAULTS.server.weight) parts.push(`weight ${s.weight}`);
  if (s.maxConnections !== 0) parts.push(`max ${s.maxConnections} in flight`);
  if (s.backup) parts.push('backup');
  if (s.slowStart !== 0) parts.push(`slow start ${formatDuration(s.slowStart)}`);
  return parts.length === 0 ? '' : `  ${parts.join(', ')}`;
}

function formatSize(bytes: number): string {
  if (bytes % MIB === 0) return `${bytes / MIB}MiB`;
  if (bytes % KIB === 0) return `${bytes / KIB}KiB`;
  return `${bytes}B`;
}
