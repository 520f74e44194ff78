// Parsers of the values lb.yaml writes as text: durations, sizes, shares, "host:port", listen
// addresses, the host names routed on and the tokens that name headers and cookies. Each returns
// null (or false) for a malformed value; the reader names it, in plain words where the slip is a
// common one (addressSlip). And formatDuration, the other way, for messages that quote a setting.

import { isIP } from 'node:net';
import { TCHAR } from '../http/chars.js';
import { MINUTE, SECOND, KIB, MIB, type ListenAddress } from './schema.js';

/**
 * A duration in milliseconds, rounded to a whole one: "250ms", "2s", "1.5s", "1m", "1h", or a
 * number (or numeric string) of milliseconds. null for anything else, including negative values.
 */
export function parseDuration(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.round(v) : null;
  if (typeof v !== 'string') return null;
  const m = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)?$/.exec(v.trim());
  if (m === null) return null;
  const unit = { ms: 1, s: SECOND, m: MINUTE, h: 60 * MINUTE }[(m[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * unit);
}

/** A duration in ms as a config would write it, in its largest whole unit: "1m", "60s", "250ms". */
export function formatDuration(ms: number): string {
  if (ms % MINUTE === 0) return `${ms / MINUTE}m`;
  if (ms % SECOND === 0) return `${ms / SECOND}s`;
  return `${ms}ms`;
}

/**
 * Whole seconds, for a cookie's Max-Age: a whole number (or numeric string) of seconds, or a
 * duration with its unit ("90s", "30m", "1h") that comes to whole seconds. A bare number is
 * seconds here, not milliseconds as in other durations, because Max-Age counts seconds. null for
 * anything else, "1500ms" and negative values included.
 */
export function parseSeconds(v: unknown): number | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : null;
  if (typeof v !== 'string') return null;
  const text = v.trim();
  if (/^\d+$/.test(text)) return Number.isSafeInteger(Number(text)) ? Number(text) : null;
  // Without a unit parseDuration would read milliseconds: a bare number was handled above.
  const ms = /[a-z]$/.test(text) ? parseDuration(text) : null;
  return ms !== null && ms % SECOND === 0 ? ms / SECOND : null;
}

/**
 * A share from 0 to 1: a percentage from "0%" to "100%" ("12.5%" too), or a number (or numeric
 * string) from 0 to 1. null for anything else, so "50" is not taken for 50%.
 */
export function parseShare(v: unknown): number | null {
  if (typeof v === 'string') {
    const m = /^(\d+(?:\.\d+)?|\.\d+)(%?)$/.exec(v.trim());
    if (m === null) return null;
    v = m[2] === '%' ? Number(m[1]) / 100 : Number(m[1]);
  }
  // NaN fails both comparisons.
  return typeof v === 'number' && v >= 0 && v <= 1 ? v : null;
}

/**
 * Whether `text` is a token (RFC 9110 5.6.2: token = 1*tchar), the grammar of a header name; a
 * cookie name is one too (RFC 6265 4.1.1: cookie-name = token). Checked with the parser's table.
 */
export function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff || TCHAR[c] !== 1) return false;
  }
  return true;
}

/** A size in bytes: a whole number, or one followed by "B", "KiB" or "MiB". null for anything else. */
export function parseSize(v: unknown): number | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : null;
  if (typeof v !== 'string') return null;
  const m = /^(\d+)(B|KiB|MiB)?$/.exec(v.trim());
  if (m === null) return null;
  return Number(m[1]) * { B: 1, KiB: KIB, MiB: MIB }[(m[2] ?? 'B') as 'B' | 'KiB' | 'MiB'];
}

/** A host name: letters, digits, "-" and "_" in dot-separated labels (IPv4 addresses are such names too). */
const HOST_NAME = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;

/** "host:port" (an IPv6 address in brackets: "[::1]:8081") with a port 0..65535; null if malformed. */
export function parseHostPort(text: string): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]*)\]|([^:]*)):(\d{1,5})$/.exec(text);
  if (m === null) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  if (m[1] !== undefined) return isIP(m[1]) === 6 ? { host: m[1], port } : null;
  return HOST_NAME.test(m[2]!) ? { host: m[2]!, port } : null;
}

/** A listen address: a bare port binds `bareHost`; "*:port" and ":port" bind all interfaces (""). */
export function parseListen(text: string, bareHost: string): ListenAddress | null {
  const m = /^(\*?:)?(\d{1,5})$/.exec(text);
  if (m === null) return parseHostPort(text);
  const port = Number(m[2]);
  if (port > 65535) return null;
  return { host: m[1] === undefined ? bareHost : '', port };
}

/**
 * Why `text` is not an address, for the slips that have plain words: a URL's scheme
 * ("http://localhost:8081/"), or a port outside `minPort`..65535 (0 means "any free port" where
 * the balancer listens, never for a server). null for any other mistake: the reader's hint says
 * what an address looks like.
 */
export function addressSlip(text: string, minPort: 0 | 1): string | null {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(text);
  if (scheme !== null) {
    const authority = text.slice(scheme[0].length).replace(/\/.*$/, '');
    return `no scheme: write "${authority}" without "${scheme[0]}"`;
  }
  const port = /(?:^|:)(\d+)$/.exec(text)?.[1];
  if (port !== undefined && (Number(port) > 65535 || Number(port) < minPort)) {
    return `port ${port} is out of range (${minPort}-65535)`;
  }
  return null;
}

/** A `hosts` entry's host as the router compares it: lower-cased, ":port" removed; null if malformed. */
export function parseHostName(text: string): string | null {
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9_-]+(?:\.[a-z0-9_-]+)*)(?::\d{1,5})?$/.exec(text.toLowerCase());
  if (m === null) return null;
  if (m[1]!.startsWith('[') && isIP(m[1]!.slice(1, -1)) !== 6) return null;
  return m[1]!;
}
