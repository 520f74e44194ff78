// Rewriting heads on their way through: the request head sent to a backend and the response head
// sent back to the client. Pure functions over the parsed heads; each builds one buffer.
//
// What changes (interface.md, "Headers the balancer adds"; RFC 9110 7.6.1):
//   - hop-by-hop fields are removed, in both directions (HOP_BY_HOP below);
//   - X-Forwarded-For / -Host / -Proto are set on requests;
//   - an absolute-form request line becomes origin-form, and Host takes its authority;
//   - Connection is set to say what this hop does: keep-alive for HTTP/1.0, close when we close;
//   - the request id field is kept when valid, else replaced, and goes back on the response;
//   - the route's rules (route-rules.ts) rewrite the target's prefix and drop and add fields,
//     in the same pass over the fields that drops the hop-by-hop ones.
// Everything else, and the body, passes through byte for byte.

import { F_LINE, F_NAME_END, F_VALUE, F_VALUE_END, FIELD_STRIDE, Field } from './fields.js';
import { isValidId, type RequestIdSlot, type RequestIds } from './request-id.js';
import { TargetForm, type RequestHead } from './request-parser.js';
import type { ResponseHead } from './response-parser.js';
import type { ConnectionField } from './responses.js';
import { OWN_FOR, OWN_HOST, OWN_PROTO, dropsField, rewriteTarget, type CompiledHeaderRules, type CompiledRoute } from './route-rules.js';

/**
 * Hop-by-hop fields: they describe one connection, not the message, so a proxy MUST remove them
 * before forwarding (RFC 9110 7.6.1). Indexed by field kind.
 */
const HOP_BY_HOP = (() => {
  const t = new Uint8Array(32);
  t[Field.CONNECTION] = 1; // lists this connection's options, and more hop-by-hop names
  t[Field.KEEP_ALIVE] = 1; // parameters of a persistent connection (RFC 7230 A.1.2)
  t[Field.PROXY_CONNECTION] = 1; // a non-standard Connection some clients still send
  t[Field.TE] = 1; // transfer codings the sender accepts on this connection (RFC 9110 10.1.4)
  t[Field.UPGRADE] = 1; // a protocol switch is asked of the next hop only (RFC 9110 7.8)
  t[Field.LISTED_IN_CONNECTION] = 1; // named by Connection: "this connection only"
  return t;
})();

const HOP_BY_HOP_BUT_UPGRADE = HOP_BY_HOP.map((v, kind) => (kind === Field.UPGRADE ? 0 : v));

/** Request fields we replace with our own values. */
const REPLACED = (() => {
  const t = new Uint8Array(32);
  t[Field.X_FORWARDED_FOR] = 1;
  t[Field.X_FORWARDED_HOST] = 1;
  t[Field.X_FORWARDED_PROTO] = 1;
  return t;
})();

/**
 * Copies src[start, end) to out[at..] and returns how many bytes that was. Runs as short as most
 * of a head's are (a request line, a field or two) go byte by byte: Buffer's copy() of part of a
 * buffer makes a new view of it first (a call into C++ for its ArrayBuffer, then a typed array),
 * which costs several times more than the loop below at these lengths.
 */
function copyRange(src: Buffer, start: number, end: number, out: Buffer, at: number): number {
  const n = end - start;
  if (n > SHORT_COPY) return src.copy(out, at, start, end);
  for (let i = 0; i < n; i++) out[at + i] = src[start + i]!;
  return n;
}

/** Up to this many bytes, copyRange copies in its own loop. */
const SHORT_COPY = 48;

/** Writes CRLF at out[at]; returns the offset after it. */
function crlf(out: Buffer, at: number): number {
  out[at] = 0x0d;
  out[at + 1] = 0x0a;
  return at + 2;
}

/** What the balancer knows about the client connection a request came on. */
export interface ClientInfo {
  /** The client's address ("192.0.2.7", "2001:db8::1"). */
  address: string;
  /** "http" or "https": the scheme the client used to reach us. */
  proto: string;
  /** Whether the client is a trusted proxy: its X-Forwarded-* values are kept and extended. */
  trusted: boolean;
  /** Set by buildUpstreamHead on first use: the bytes that are the same on every request of this client. */
  fixed?: FixedFields;
}

/** Field lines that depend on the client connection only, as bytes, built once per connection. */
interface FixedFields {
  /** "X-Forwarded-For: <address>" */
  forwardedFor: Buffer;
  /** "\r\nX-Forwarded-Proto: <proto>" */
  forwardedProto: Buffer;
}

const FORWARDED_HOST = Buffer.from('\r\nX-Forwarded-Host: ', 'latin1');

function fixedFields(client: ClientInfo): FixedFields {
  return {
    forwardedFor: Buffer.from(`X-Forwarded-For: ${client.address}`, 'latin1'),
    forwardedProto: Buffer.from(`\r\nX-Forwarded-Proto: ${client.proto}`, 'latin1'),
  };
}

/**
 * The head to send to a backend for `head`, as one buffer. With a trusted client, an incoming
 * X-Forwarded-For gets the client's address appended and incoming -Host / -Proto are kept.
 * `route`'s rules apply; with `ids`, `slot` is pointed at the request's id: its own when the
 * first field of that name holds a valid one (the others are dropped), else a new one, added.
 */
export function buildUpstreamHead(head: RequestHead, client: ClientInfo, route: CompiledRoute, ids: RequestIds | null, slot: RequestIdSlot): Buffer {
  const { buf, fields, kinds, fieldCount } = head;
  const absolute = head.targetForm === TargetForm.ABSOLUTE;
  const rules = route.request;
  let idSeen = false;
  let idStart = -1;
  let idEnd = -1;

  // Which fields go through; and what the kept X-Forwarded-* of a trusted client say.
  let forwardedFor = '';
  let keepHost = false;
  let keepProto = false;
  let hostStart = 0;
  let hostEnd = 0;
  let size = head.end - head.start + 128 + client.address.length + client.proto.length + head.authority.length;
  const drop = dropScratch(fieldCount);
  for (let k = 0; k < fieldCount; k++) {
    const kind = kinds[k]!;
    const at = FIELD_STRIDE * k;
    // Upgrade is hop-by-hop, but a protocol switch is asked of the backend on the client's behalf.
    let dropped = (HOP_BY_HOP[kind] === 1 && !(head.upgrade && kind === Field.UPGRADE)) || (absolute && kind === Field.HOST);
    if (kind === Field.OTHER && ids !== null && ids.names(buf, fields[at + F_LINE]!, fields[at + F_NAME_END]!)) {
      // The first id field decides: kept when valid; any other goes (the backend gets one id).
      if (!idSeen && isValidId(buf, fields[at + F_VALUE]!, fields[at + F_VALUE_END]!)) {
        idStart = fields[at + F_VALUE]!;
        idEnd = fields[at + F_VALUE_END]!;
      } else dropped = true;
      idSeen = true;
    }
    if (rules !== null && !dropped && dropsField(rules, buf, fields[at + F_LINE]!, fields[at + F_NAME_END]!)) dropped = true;
    if (REPLACED[kind] === 1) {
      dropped = true;
      if (client.trusted) {
        if (kind === Field.X_FORWARDED_FOR) {
          const value = buf.toString('latin1', fields[at + F_VALUE]!, fields[at + F_VALUE_END]!);
          forwardedFor = forwardedFor === '' ? value : `${forwardedFor}, ${value}`;
        } else if (kind === Field.X_FORWARDED_HOST) {
          keepHost = true;
          dropped = false;
        } else {
          keepProto = true;
          dropped = false;
        }
      }
    } else if (kind === Field.HOST) {
      hostStart = fields[at + F_VALUE]!;
      hostEnd = fields[at + F_VALUE_END]!;
    }
    drop[k] = dropped ? 1 : 0;
  }
  size += forwardedFor.length + route.replacement.length;
  if (rules !== null) size += rules.lines.length;
  // The id: the request's own, forwarded in place, or a new one, added as the last line.
  let idLine: Buffer | null = null;
  if (ids !== null) {
    if (idStart >= 0) ids.keep(buf, idStart, idEnd, slot);
    else {
      ids.fresh(slot);
      idLine = slot.idLine;
      size += idLine.length;
    }
  }

  const out = Buffer.allocUnsafe(size);
  let n = 0;
  // The request line: as sent, or rebuilt in origin form (RFC 9112 3.2.2), or with the route's
  // prefix rewritten.
  if (absolute || route.cut >= 0) {
    const target = route.cut >= 0 ? rewriteTarget(route, head.path) : head.path;
    n += out.write(`${head.method} ${target} HTTP/1.${head.minor}\r\n`, n, 'latin1');
    if (absolute) n += out.write(`Host: ${head.authority}\r\n`, n, 'latin1');
  } else {
    n += copyRange(buf, head.start, head.requestLineEnd + 2, out, n);
    // HTTP/1.2 and later 1.x are read as 1.1 (RFC 9110 2.5), and an intermediary sends its own
    // version: the minor digit, just before the CRLF, becomes 1.
    if (head.minor === 1) out[n - 3] = 0x31;
  }
  // Field lines are contiguous in the head: copy each run of kept lines in one go.
  const fieldsEnd = head.end - 2;
  let runStart = -1;
  for (let k = 0; k < fieldCount; k++) {
    const lineStart = fields[FIELD_STRIDE * k + F_LINE]!;
    if (drop[k] === 1) {
      if (runStart >= 0) n += copyRange(buf, runStart, lineStart, out, n);
      runStart = -1;
    } else if (runStart < 0) runStart = lineStart;
  }
  if (runStart >= 0) n += copyRange(buf, runStart, fieldsEnd, out, n);

  // X-Forwarded-*: the de-facto standard fields (interface.md). What depends only on the client
  // is copied from bytes made once per connection, instead of encoding strings per request.
  const fixed = (client.fixed ??= fixedFields(client));
  // Rules that set or remove an X-Forwarded-* field have the last word on it.
  const own = rules === null ? 0 : rules.own;
  // (set() of a whole buffer makes no view: the copies of the fixed parts below use it.)
  // What was copied so far ends in CRLF, and X-Forwarded-For starts a line; every line after it
  // starts with its CRLF. Without X-Forwarded-For, the next line's CRLF ends what was copied.
  if ((own & OWN_FOR) !== 0) n -= 2;
  else if (forwardedFor === '') {
    out.set(fixed.forwardedFor, n);
    n += fixed.forwardedFor.length;
  } else n += out.write(`X-Forwarded-For: ${forwardedFor}, ${client.address}`, n, 'latin1');
  if (!keepHost && (absolute || hostEnd > hostStart) && (own & OWN_HOST) === 0) {
    out.set(FORWARDED_HOST, n);
    n += FORWARDED_HOST.length;
    n += absolute ? out.write(head.authority, n, 'latin1') : copyRange(buf, hostStart, hostEnd, out, n);
  }
  if (!keepProto && (own & OWN_PROTO) === 0) {
    out.set(fixed.forwardedProto, n);
    n += fixed.forwardedProto.length;
  }
  if (rules !== null) {
    out.set(rules.lines, n);
    n += rules.lines.length;
  }
  // An HTTP/1.0 request is not persistent by default; ask the backend to keep the connection.
  if (head.minor === 0) n += out.write('\r\nConnection: keep-alive', n, 'latin1');
  else if (head.upgrade) n += out.write('\r\nConnection: upgrade', n, 'latin1');
  // The id line brings its CRLF before and after: the head's empty line follows.
  if (idLine !== null) {
    out.set(idLine, n);
    n = crlf(out, n + idLine.length);
  } else n = crlf(out, crlf(out, n));
  return out.subarray(0, n);
}

/**
 * The head to send to the client for a backend's response: hop-by-hop fields removed, and a
 * Connection field saying what we do with the client connection: `close` when it ends after this
 * response, `keep-alive` for an HTTP/1.0 client whose connection persists, nothing otherwise.
 * `rules` (the route's response_headers) drop and add fields; with `ids`, the backend's own id
 * fields are dropped and the request's id (`id`) added. The first body bytes,
 * body[bodyStart, bodyEnd), may be given: they are placed right behind the head, so that both
 * leave in one write. The result is always a new buffer: the backend's bytes sit in a read
 * buffer that the next read overwrites (backend-connection.ts).
 */
export function buildClientHead(
  head: ResponseHead,
  connection: ConnectionField,
  /** Field lines to add (each ending in CRLF): a sticky cookie; null for none. */
  extra: Buffer | null,
  rules: CompiledHeaderRules | null,
  ids: RequestIds | null,
  id: RequestIdSlot,
  body: Buffer = head.buf,
  bodyStart = head.end,
  bodyEnd = head.end,
): Buffer {
  const { buf, fields, kinds, fieldCount } = head;
  // A 101 keeps its Upgrade field: it names the protocol the client switches to.
  const hop = connection === 'upgrade' ? HOP_BY_HOP_BUT_UPGRADE : HOP_BY_HOP;
  const fieldsEnd = head.end - 2;
  // The exact size first (field lines are contiguous: each ends where the next begins), so that
  // the result needs no trimming view.
  let dropped = 0;
  const drop = dropScratch(fieldCount);
  for (let k = 0; k < fieldCount; k++) {
    const kind = kinds[k]!;
    const at = FIELD_STRIDE * k;
    const lineStart = fields[at + F_LINE]!;
    const out =
      hop[kind] === 1 ||
      (kind === Field.OTHER && ids !== null && ids.names(buf, lineStart, fields[at + F_NAME_END]!)) ||
      (rules !== null && dropsField(rules, buf, lineStart, fields[at + F_NAME_END]!));
    drop[k] = out ? 1 : 0;
    if (!out) continue;
    const next = k + 1 < fieldCount ? fields[at + FIELD_STRIDE + F_LINE]! : fieldsEnd;
    dropped += next - lineStart;
  }
  const line = connection === null ? null : CONNECTION_LINES[connection];
  let added = line === null ? 0 : line.length;
  if (extra !== null) added += extra.length;
  if (rules !== null) added += rules.lines.length;
  // The id line goes over the CRLF that ends the line before it (the same two bytes).
  if (ids !== null) added += id.idLine.length - 2;
  const out = Buffer.allocUnsafe(head.end - head.start - dropped + added + (bodyEnd - bodyStart));
  let n = copyRange(buf, head.start, head.statusLineEnd + 2, out, 0);
  let runStart = -1;
  for (let k = 0; k < fieldCount; k++) {
    const lineStart = fields[FIELD_STRIDE * k + F_LINE]!;
    if (drop[k] === 1) {
      if (runStart >= 0) n += copyRange(buf, runStart, lineStart, out, n);
      runStart = -1;
    } else if (runStart < 0) runStart = lineStart;
  }
  if (runStart >= 0) n += copyRange(buf, runStart, fieldsEnd, out, n);
  if (line !== null) {
    out.set(line, n);
    n += line.length;
  }
  if (extra !== null) {
    out.set(extra, n);
    n += extra.length;
  }
  if (rules !== null) {
    out.set(rules.lines, n);
    n += rules.lines.length;
  }
  if (ids !== null) {
    out.set(id.idLine, n - 2);
    n += id.idLine.length - 2;
  }
  n = crlf(out, n);
  copyRange(body, bodyStart, bodyEnd, out, n);
  return out;
}

/** The Connection field of a response to the client, by what it says. */
const CONNECTION_LINES = {
  close: Buffer.from('Connection: close\r\n', 'latin1'),
  'keep-alive': Buffer.from('Connection: keep-alive\r\n', 'latin1'),
  upgrade: Buffer.from('Connection: upgrade\r\n', 'latin1'),
};

let scratch = new Uint8Array(128);
function dropScratch(count: number): Uint8Array {
  if (scratch.length < count) scratch = new Uint8Array(count);
  return scratch;
}
