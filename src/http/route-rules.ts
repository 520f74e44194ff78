// A route's rules as the head builders use them (interface.md, "Route rules"): made once per
// configuration from the entry's rules, with the field lines to add as bytes and the names to
// drop in lower case, so that a request pays only for the rules its route has; a route without
// any has NO_RULES, whose nulls the head builders test once per head.

import type { Redirect, RouteRules, Timeouts } from '../config/schema.js';
import { equalsIgnoreCase } from './chars.js';

/** The balancer's own X-Forwarded-* lines that request rules replace (set or remove): bits of CompiledHeaderRules.own. */
export const OWN_FOR = 1;
export const OWN_HOST = 2;
export const OWN_PROTO = 4;

/** `request_headers` or `response_headers`, ready to apply while a head is built. */
export interface CompiledHeaderRules {
  /** Lower-case names of the fields dropped from the message: those `set` replaces and those `remove` names. */
  readonly drop: readonly string[];
  /** The `set` then `add` lines: "\r\nName: value" each for a request head, "Name: value\r\n" for a response head. */
  readonly lines: Buffer;
  /** Request rules only: which X-Forwarded-* the balancer leaves to the rules (OWN_FOR, OWN_HOST, OWN_PROTO). */
  readonly own: number;
}

/** A route's rules, compiled. */
export interface CompiledRoute {
  /** How many characters of the target the rewrite cuts (the route's prefix); -1: the target is sent as it came. */
  readonly cut: number;
  /** What stands in place of what was cut: "" to strip, "/v2" to rewrite. */
  readonly replacement: string;
  readonly request: CompiledHeaderRules | null;
  readonly response: CompiledHeaderRules | null;
  /** `redirect`: its Location as literal text and placeholders, and its status; null when requests go to the servers. */
  readonly redirect: { readonly parts: readonly string[]; readonly code: Redirect['code'] } | null;
  /** timeouts.connect and timeouts.server for this route, ms: its own, else the top level's. */
  readonly connect: number;
  readonly server: number;
}

/** The rules of a route that has none, with the top level's timeouts. */
export function noRules(timeouts: Pick<Timeouts, 'connect' | 'server'>): CompiledRoute {
  return { cut: -1, replacement: '', request: null, response: null, redirect: null, connect: timeouts.connect, server: timeouts.server };
}

/** `rules` of a route whose path prefix is `prefix` ("/" for a host); `timeouts`: the top level's. */
export function compileRoute(rules: RouteRules, prefix: string, timeouts: Pick<Timeouts, 'connect' | 'server'>): CompiledRoute {
  const r = rules.redirect;
  return {
    // A root prefix cuts nothing: "/x" keeps its "/".
    cut: rules.rewritePrefix === null ? -1 : prefix === '/' ? 0 : prefix.length,
    replacement: rules.rewritePrefix ?? '',
    request: rules.requestHeaders === null ? null : compileHeaders(rules.requestHeaders, 'request'),
    response: rules.responseHeaders === null ? null : compileHeaders(rules.responseHeaders, 'response'),
    // "https://{host}{path}" -> ["https://", "{host}", "", "{path}", ""]: placeholders at odd places.
    redirect: r === null ? null : { parts: r.location.split(/(\{host\}|\{path\}|\{scheme\})/), code: r.code },
    connect: rules.timeouts.connect ?? timeouts.connect,
    server: rules.timeouts.server ?? timeouts.server,
  };
}

function compileHeaders(h: NonNullable<RouteRules['requestHeaders']>, side: 'request' | 'response'): CompiledHeaderRules {
  const drop = [...new Set([...h.set.map(([name]) => name), ...h.remove].map((name) => name.toLowerCase()))];
  const line = ([name, value]: [string, string]) => (side === 'request' ? `\r\n${name}: ${value}` : `${name}: ${value}\r\n`);
  let own = 0;
  if (side === 'request') {
    if (drop.includes('x-forwarded-for')) own |= OWN_FOR;
    if (drop.includes('x-forwarded-host')) own |= OWN_HOST;
    if (drop.includes('x-forwarded-proto')) own |= OWN_PROTO;
  }
  return { drop, lines: Buffer.from([...h.set, ...h.add].map(line).join(''), 'latin1'), own };
}

/** Whether the field named buf[start, end) is one `rules` drop. */
export function dropsField(rules: CompiledHeaderRules, buf: Buffer, start: number, end: number): boolean {
  for (const name of rules.drop) if (equalsIgnoreCase(buf, start, end, name)) return true;
  return false;
}

/**
 * The target the backend gets for `path` (origin form, which matched the route's prefix):
 * "/api/users?x" -> "/users?x" when stripping "/api", "/v2/users?x" when rewriting it to "/v2";
 * "/api" -> "/", "/api?x" -> "/?x": a target never loses its leading "/".
 */
export function rewriteTarget(route: CompiledRoute, path: string): string {
  const out = route.replacement + path.slice(route.cut);
  return out === '' || out.charCodeAt(0) === 0x3f /* ? */ ? `/${out}` : out;
}

/** The Location of a redirect: the literal parts, and {host}, {path}, {scheme} filled in. */
export function redirectLocation(parts: readonly string[], host: string, path: string, scheme: string): string {
  let out = '';
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    out += i % 2 === 0 ? part : part === '{host}' ? host : part === '{path}' ? path : scheme;
  }
  return out;
}
