// The summary `lb --check` prints: listen, admin, each pool and its servers, health, timeouts
// and limits, with durations and sizes written in their largest whole unit.

import { formatListen } from './address.js';
import { KIB, MIB, MINUTE, SECOND, type Config, type Pool } from './schema.js';

/** A multi-line, human summary of a config: listen, admin, each pool and its servers, health, timeouts, limits. */
export function describeConfig(c: Config): string {
  const t = c.timeouts;
  const h = c.healthcheck;
  const l = c.limits;
  const tls = c.listen.tls === null ? '' : `, TLS with ${c.listen.tls.cert}`;
  const lines = [`listen       ${formatListen(c.listen)}${tls}`, `admin        ${c.admin ? formatListen(c.admin) : 'off'}`];
  const pool = (kind: string, p: Pool) => {
    lines.push(`${kind.padEnd(12)} ${p.name}`);
    for (const s of p.servers) lines.push(`  ${s.name}`);
  };
  for (const p of c.hosts) pool('host', p);
  for (const p of c.paths) pool('path', p);
  if (c.servers) pool('default', { ...c.servers, name: '(requests not matched above)' });
  lines.push(
    `healthcheck  GET ${h.path} every ${formatDuration(h.interval)}, timeout ${formatDuration(h.timeout)}, ` +
      `rise ${h.rise}, fall ${h.fall}`,
    `timeouts     connect ${formatDuration(t.connect)}, header ${formatDuration(t.header)}, ` +
      `idle ${formatDuration(t.idle)}, server ${formatDuration(t.server)}, drain ${formatDuration(t.drain)}`,
    `limits       request line ${formatSize(l.maxRequestLine)}, head ${formatSize(l.maxHead)}, ` +
      `${l.maxFields} fields, ${l.maxConnections === 0 ? 'unlimited' : l.maxConnections} connections`,
    `trusted      ${c.trustedProxies.length === 0 ? 'none' : c.trustedProxies.join(', ')}`,
  );
  return lines.join('\n') + '\n';
}

function formatDuration(ms: number): string {
  if (ms % MINUTE === 0) return `${ms / MINUTE}m`;
  if (ms % SECOND === 0) return `${ms / SECOND}s`;
  return `${ms}ms`;
}

function formatSize(bytes: number): string {
  if (bytes % MIB === 0) return `${bytes / MIB}MiB`;
  if (bytes % KIB === 0) return `${bytes / KIB}KiB`;
  return `${bytes}B`;
}
