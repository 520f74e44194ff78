// DNS discovery: the servers each `discover` entry names, looked up on the configured resolvers
// and again when their records' TTL runs out (at least 1 s apart, at most the entry's `refresh`).
// It tells its owner whenever what it found changes. A lookup that fails keeps the last known
// servers, with a warning; an answer that the name or its records do not exist empties the entry.
// The DNS side is passed in (DnsLookups), so the schedule is testable without a DNS server.

import { Resolver } from 'node:dns/promises';
import { hostPort } from '../config/address.js';
import { DEFAULTS, poolsOf, SECOND, type Config, type Discover } from '../config/schema.js';
import type { Logger } from '../log.js';

/** An A or AAAA record: the address and how many seconds it may be kept. */
export interface AddressRecord {
  address: string;
  ttl: number;
}

/** An SRV record (RFC 2782), as node:dns gives it: without a TTL. */
export interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

/** The three questions discovery asks; each rejects with an error whose `code` says why. */
export interface DnsLookups {
  a(name: string): Promise<AddressRecord[]>;
  aaaa(name: string): Promise<AddressRecord[]>;
  srv(name: string): Promise<SrvRecord[]>;
}

/** A server an entry found. */
export interface Found {
  host: string;
  port: number;
  /** An SRV record's weight (1..256: 0 reads as 1, larger as 256); null for an A or AAAA record. */
  weight: number | null;
  /** An SRV record of a lower priority than the best one the name has (a larger number): a backup. */
  backup: boolean;
}

/** What every entry found, by its name as the config writes it. */
export type Discovered = Record<string, Found[]>;

/** The codes of an answer that the name, or its records of that type, do not exist. */
const NO_RECORDS = new Set(['ENOTFOUND', 'ENODATA']);

/** One lookup's outcome: the servers and when to ask again (ms), or why it failed. */
type Outcome = { found: Found[]; next: number } | { failed: string };

/** One entry, as every pool that lists it shares it. */
interface Entry {
  spec: Discover;
  /** The shortest `refresh` of the pools that list it. */
  refresh: number;
  timer: NodeJS.Timeout | null;
  /** The error of the last lookup, while lookups fail; null when the last one answered. */
  failing: string | null;
}

/** Every `discover` entry of `config`'s pools, once per name. */
export function discoverEntries(config: Config): Discover[] {
  const byName = new Map<string, Discover>();
  for (const e of poolsOf(config).flatMap((p) => p.discover)) {
    const seen = byName.get(e.name);
    if (seen === undefined || e.refresh < seen.refresh) byName.set(e.name, e);
  }
  return [...byName.values()];
}

export class Discovery {
  private readonly entries: Entry[];
  /** The last known servers of each entry. */
  private readonly known: Discovered = {};
  private stopped = false;

  constructor(
    entries: readonly Discover[],
    private readonly lookups: DnsLookups,
    private readonly logger: Logger,
    /** Called with everything found, each time an entry's servers change after start(). */
    private readonly onChange: (discovered: Discovered) => void,
    /** What a previous Discovery knew (a reload): kept for the entries that remain, until they answer. */
    previous: Discovered = {},
  ) {
    this.entries = entries.map((spec) => ({ spec, refresh: spec.refresh, timer: null, failing: null }));
    for (const { spec } of this.entries) this.known[spec.name] = previous[spec.name] ?? [];
  }

  /** The servers found so far, by entry. */
  get discovered(): Discovered {
    return { ...this.known };
  }

  /** Looks every entry up once (resolves when all have answered or failed), then keeps each up to date. */
  async start(): Promise<void> {
    await Promise.all(this.entries.map((e) => this.refresh(e, false)));
  }

  /** No more lookups; one in flight is ignored when it answers. */
  stop(): void {
    this.stopped = true;
    for (const e of this.entries) if (e.timer !== null) clearTimeout(e.timer);
  }

  private async refresh(e: Entry, tell: boolean): Promise<void> {
    const outcome = await lookUp(this.lookups, e.spec);
    if (this.stopped) return;
    const name = e.spec.name;
    const before = this.known[name]!;
    let next: number;
    if ('failed' in outcome) {
      // Logged once per cause: a DNS server that is down would otherwise fill the log.
      if (e.failing !== outcome.failed) {
        this.logger.warn(`discover ${name}: lookup failed (${outcome.failed}); keeping ${count(before.length)}`);
      }
      e.failing = outcome.failed;
      next = Math.min(e.refresh, DEFAULTS.retry);
    } else {
      if (e.failing !== null) this.logger.info(`discover ${name}: lookups answer again`);
      e.failing = null;
      next = Math.min(Math.max(outcome.next, DEFAULTS.discoverMinInterval), e.refresh);
      const found = outcome.found;
      const what = found.length === 0 ? (e.spec.kind === 'srv' ? 'no SRV records' : 'no A or AAAA records') : count(found.length);
      this.known[name] = found;
      if (!tell) {
        // The first answer: what the pool starts with.
        this.logger.info(`discover ${name}: ${what}${found.length === 0 ? '' : ` (${found.map(label).join(', ')})`}`);
      } else {
        const changed = describeChange(before, found);
        if (changed !== null) {
          this.logger.info(`discover ${name}: ${what}${changed}`);
          this.onChange(this.discovered);
        }
      }
    }
    e.timer = setTimeout(() => void this.refresh(e, true), next);
    e.timer.unref();
  }
}

/** "1 server", "3 servers". */
function count(n: number): string {
  return n === 1 ? '1 server' : `${n} servers`;
}

/** "127.0.0.2:8080", "[::1]:8080": the server's name, as the pool shows it. */
export function label(f: Found): string {
  return hostPort(f.host, f.port);
}

/** What changed from `before` to `after`, for the log ("; new A, B; gone (drained, then removed) C"); null: nothing. */
function describeChange(before: Found[], after: Found[]): string | null {
  const key = (f: Found): string => `${label(f)} ${f.weight} ${f.backup}`;
  const was = new Map(before.map((f) => [label(f), key(f)]));
  const is = new Map(after.map((f) => [label(f), key(f)]));
  const added = [...is.keys()].filter((k) => !was.has(k));
  const gone = [...was.keys()].filter((k) => !is.has(k));
  const changed = [...is].filter(([k, v]) => was.has(k) && was.get(k) !== v).map(([k]) => k);
  if (added.length + gone.length + changed.length === 0) return null;
  let out = '';
  if (added.length > 0) out += `; new ${added.join(', ')}`;
  if (changed.length > 0) out += `; new weight or priority ${changed.join(', ')}`;
  if (gone.length > 0) out += `; gone (drained, then removed) ${gone.join(', ')}`;
  return out;
}

/** The records of one question; [] when the name or such records do not exist; the error code when the lookup failed. */
async function ask<T>(question: Promise<T[]>): Promise<T[] | string> {
  try {
    return await question;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    /* c8 ignore next -- node:dns rejects with a code; the fallback is for one that would not */
    const why = typeof code === 'string' ? code : String(err);
    return NO_RECORDS.has(why) ? [] : why;
  }
}

/** The A and AAAA records of `host`, or why they could not be had. */
async function addressesOf(lookups: DnsLookups, host: string): Promise<AddressRecord[] | string> {
  const [v4, v6] = await Promise.all([ask(lookups.a(host)), ask(lookups.aaaa(host))]);
  if (typeof v4 === 'string') return v4;
  if (typeof v6 === 'string') return v6;
  return [...v4, ...v6];
}

/** Looks `spec` up once: the servers it names now, sorted, each once; when to look again. */
export async function lookUp(lookups: DnsLookups, spec: Discover): Promise<Outcome> {
  const found: Found[] = [];
  let ttl = Infinity;
  if (spec.kind === 'address') {
    const records = await addressesOf(lookups, spec.host);
    if (typeof records === 'string') return { failed: records };
    for (const r of records) {
      found.push({ host: r.address, port: spec.port, weight: null, backup: false });
      ttl = Math.min(ttl, r.ttl);
    }
  } else {
    const records = await ask(lookups.srv(spec.host));
    if (typeof records === 'string') return { failed: records };
    // node:dns gives no TTL for SRV records: the targets' addresses' TTL, and `refresh`, bound the next lookup.
    const best = Math.min(...records.map((r) => r.priority));
    const targets = await Promise.all(records.map((r) => addressesOf(lookups, r.name)));
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      const addresses = targets[i]!;
      if (typeof addresses === 'string') return { failed: addresses };
      const weight = Math.min(Math.max(r.weight, 1), DEFAULTS.maxWeight);
      for (const a of addresses) {
        found.push({ host: a.address, port: r.port, weight, backup: r.priority > best });
        ttl = Math.min(ttl, a.ttl);
      }
    }
  }
  // Sorted, so that a change of record order alone is no change; each server once (its most preferred record).
  found.sort((x, y) => Number(x.backup) - Number(y.backup) || compare(label(x), label(y)));
  const seen = new Set<string>();
  const unique = found.filter((f) => !seen.has(label(f)) && seen.add(label(f)) !== null);
  return { found: unique, next: ttl * SECOND };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The real questions, asked of `resolvers` ("host:port"), or of the system's DNS servers when
 * none are set. Each question is tried twice, 2 s apart at most: a DNS server that does not answer
 * makes a lookup fail within seconds, and the last known servers stay.
 */
export function dnsLookups(resolvers: readonly string[]): DnsLookups {
  const resolver = new Resolver({ timeout: 2 * SECOND, tries: 2 });
  if (resolvers.length > 0) resolver.setServers(resolvers);
  return {
    a: (name) => resolver.resolve4(name, { ttl: true }),
    aaaa: (name) => resolver.resolve6(name, { ttl: true }),
    srv: (name) => resolver.resolveSrv(name),
  };
}

/**
 * Starts looking up `config`'s `discover` entries (on its `resolvers`) and waits for the first
 * answers; null when it has none. `previous` (a reload's running discovery) lends what it knew,
 * for an entry whose first lookup fails. `onChange` hears of each later change, with the
 * discovery that saw it (a reload may have replaced it meanwhile).
 */
export async function startDiscovery(
  config: Config,
  logger: Logger,
  previous: Discovery | null,
  onChange: (discovered: Discovered, from: Discovery) => void,
  lookups: (resolvers: readonly string[]) => DnsLookups = dnsLookups,
): Promise<Discovery | null> {
  const entries = discoverEntries(config);
  if (entries.length === 0) return null;
  const discovery: Discovery = new Discovery(entries, lookups(config.resolvers), logger, (d) => onChange(d, discovery), previous?.discovered);
  await discovery.start();
  return discovery;
}
