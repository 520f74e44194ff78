// The pool options `balance`, `hash_key`, `sticky`, `queue`, `outlier`, `retry_budget`,
// `send_proxy` and `backend_tls` (read in backend-tls.ts): at the top level they are every pool's
// default; on a `hosts` / `paths` entry they override it for that pool, a mapping's fields one by
// one over the top level's, a scalar whole.

import type { Node } from 'yaml';
import { DEFAULTS, MINUTE, type Balance, type Balancing, type HashKey, type Healthcheck, type Outlier, type Queue, type SendProxy, type Sticky } from '../schema.js';
import { readCount, readDuration, readFlag, readShare } from '../scalars.js';
import { isToken, parseSeconds } from '../values.js';
import { readMap, readText, suggest, type Source } from '../yaml.js';
import { readBackendTls, ServerTlsClaims } from './backend-tls.js';

/** The option keys, in the contract's order; the top level and every `hosts` / `paths` entry take them. */
export const BALANCING_KEYS = ['balance', 'hash_key', 'sticky', 'queue', 'outlier', 'retry_budget', 'send_proxy', 'backend_tls'] as const;

/** The option values of one mapping (the top level or one entry) by key; an absent key is undefined. */
export type BalancingNodes = Partial<Record<(typeof BALANCING_KEYS)[number], Node>>;

/** The top level's options: what a pool gets for every option its own entry leaves out. */
export interface PoolDefaults {
  balancing: Balancing;
  /** The top-level `healthcheck` (healthcheck.ts), whose fields an entry's own override. */
  healthcheck: Healthcheck;
  /** The top-level `balance` value: where a pool that inherits `balance: hash` without a hash_key is reported. */
  balanceNode: Node | undefined;
  /** The TLS settings each server got from the pools read so far: another pool must give it the same. */
  tlsClaims: ServerTlsClaims;
}

/** `balance`'s values, in the contract's order. */
const POLICIES: readonly Balance[] = ['round_robin', 'least_conn', 'least_request', 'least_latency', 'random', 'hash'];

const HASH_KEY_HINT = 'expected header:NAME, cookie:NAME, query:NAME, path or source';
const MAX_AGE_HINT = 'expected whole seconds, e.g. 3600, or a duration in whole seconds like "1h"; 0 = a session cookie';

/** The top-level options over the built-in defaults. No pool is checked here: see readPoolBalancing. */
export function readPoolDefaults(src: Source, nodes: BalancingNodes, healthcheck: Healthcheck): PoolDefaults {
  return { balancing: readOptions(src, nodes, '', DEFAULTS.balancing), healthcheck, balanceNode: nodes.balance, tlsClaims: new ServerTlsClaims() };
}

/**
 * One pool's options: its entry's (`nodes`, at `path`) over the top level's. `balance: hash` with
 * no hash_key on either is a mistake, reported where that `balance` is written.
 */
export function readPoolBalancing(src: Source, nodes: BalancingNodes, path: string, defaults: PoolDefaults): Balancing {
  const balancing = readOptions(src, nodes, path, defaults.balancing);
  if (balancing.balance === 'hash' && balancing.hashKey === null) {
    // The entry did not say hash itself, so the top level did (the built-in default is round_robin).
    const [node, at] = nodes.balance ? [nodes.balance, join(path, 'balance')] : [defaults.balanceNode!, 'balance'];
    src.fail(node, at, 'hash needs hash_key (header:NAME, cookie:NAME, query:NAME, path or source)');
  }
  return balancing;
}

/** Every option: the node's value where one is written, else `base`'s (copied, so no two pools share an object). */
function readOptions(src: Source, nodes: BalancingNodes, path: string, base: Balancing): Balancing {
  return {
    balance: nodes.balance ? readBalance(src, nodes.balance, join(path, 'balance')) : base.balance,
    hashKey: nodes.hash_key ? readHashKey(src, nodes.hash_key, join(path, 'hash_key')) : base.hashKey && { ...base.hashKey },
    sticky: nodes.sticky
      ? readSticky(src, nodes.sticky, join(path, 'sticky'), base.sticky ?? DEFAULTS.sticky)
      : base.sticky && { ...base.sticky },
    queue: nodes.queue ? readQueue(src, nodes.queue, join(path, 'queue'), base.queue) : { ...base.queue },
    outlier: nodes.outlier
      ? readOutlier(src, nodes.outlier, join(path, 'outlier'), base.outlier ?? DEFAULTS.outlier)
      : base.outlier && { ...base.outlier },
    retryBudget: readShare(src, nodes.retry_budget, join(path, 'retry_budget'), base.retryBudget),
    sendProxy: nodes.send_proxy ? readSendProxy(src, nodes.send_proxy, join(path, 'send_proxy')) : base.sendProxy,
    backendTls: nodes.backend_tls
      ? readBackendTls(src, nodes.backend_tls, join(path, 'backend_tls'), base.backendTls)
      : base.backendTls && { ...base.backendTls, caCerts: [...base.backendTls.caCerts] },
  };
}

/** `send_proxy`: v1 or v2, the PROXY protocol version the pool's backend connections open with. */
function readSendProxy(src: Source, node: Node, path: string): SendProxy {
  const hint = 'expected v1 or v2 (the PROXY protocol version to send)';
  const text = readText(src, node, path, hint);
  if (text === 'v1') return 1;
  if (text === 'v2') return 2;
  src.fail(node, path, hint);
}

/** `balance`: one of POLICIES, with a "did you mean" for a near miss. */
function readBalance(src: Source, node: Node, path: string): Balance {
  const known = `expected one of ${POLICIES.join(', ')}`;
  const name = readText(src, node, path, known);
  if ((POLICIES as readonly string[]).includes(name)) return name as Balance;
  const near = suggest(name, POLICIES);
  src.fail(node, path, `unknown policy "${name}"${near === undefined ? '' : ` (did you mean "${near}"?)`}; ${known}`);
}

/**
 * `hash_key`: `header:NAME` (a token; lower-cased, as header names compare without case),
 * `cookie:NAME` (a token, as written: cookie names are case-sensitive), `query:NAME` (as written:
 * visible ASCII other than "&", "=" and "#", which would end the name in a query), `path` or
 * `source`.
 */
function readHashKey(src: Source, node: Node, path: string): HashKey {
  const text = readText(src, node, path, HASH_KEY_HINT);
  if (text === 'path' || text === 'source') return { from: text, name: '' };
  const m = /^(header|cookie|query):(.*)$/.exec(text);
  if (m === null) src.fail(node, path, HASH_KEY_HINT);
  const name = m[2]!;
  if (m[1] === 'header') {
    if (!isToken(name)) src.fail(node, path, 'expected a header name after "header:", e.g. "header:X-User"');
    return { from: 'header', name: name.toLowerCase() };
  }
  if (m[1] === 'cookie') {
    if (!isToken(name)) src.fail(node, path, 'expected a cookie name after "cookie:", e.g. "cookie:session"');
    return { from: 'cookie', name };
  }
  if (!/^[\x21-\x7e]+$/.test(name) || /[&=#]/.test(name)) {
    src.fail(node, path, 'expected a query parameter name after "query:", e.g. "query:user"');
  }
  return { from: 'query', name };
}

/**
 * `sticky: {cookie, max_age}`, each field over `base`'s. max_age is whole seconds, because the
 * cookie's Max-Age is: a number of seconds (not of milliseconds, as a bare number is in other
 * durations), or a duration with a unit that comes to whole seconds ("30m", "1h").
 */
function readSticky(src: Source, node: Node, path: string, base: Sticky): Sticky {
  const fields = readMap(src, node, path, ['cookie', 'max_age'] as const);
  let cookie = base.cookie;
  if (fields.cookie) {
    const hint = `expected a cookie name like "${DEFAULTS.sticky.cookie}": letters, digits and !#$%&'*+-.^_\`|~`;
    cookie = readText(src, fields.cookie, `${path}.cookie`, hint);
    if (!isToken(cookie)) src.fail(fields.cookie, `${path}.cookie`, hint);
  }
  let maxAge = base.maxAge;
  if (fields.max_age) {
    const seconds = parseSeconds(readText(src, fields.max_age, `${path}.max_age`, MAX_AGE_HINT));
    if (seconds === null) src.fail(fields.max_age, `${path}.max_age`, MAX_AGE_HINT);
    maxAge = seconds;
  }
  return { cookie, maxAge };
}

/** `queue: {max, timeout}`, each field over `base`'s. */
function readQueue(src: Source, node: Node, path: string, base: Queue): Queue {
  const fields = readMap(src, node, path, ['max', 'timeout'] as const);
  return {
    max: readCount(src, fields.max, `${path}.max`, base.max, 0),
    timeout: readDuration(src, fields.timeout, `${path}.timeout`, base.timeout),
  };
}

/**
 * `outlier: {consecutive_failures, count_5xx, ejection, max_ejected}`, each field over `base`'s.
 * The first ejection may not exceed the longest one (DEFAULTS.maxEjection): doubling stops there,
 * so a longer first one could not be kept.
 */
function readOutlier(src: Source, node: Node, path: string, base: Outlier): Outlier {
  const fields = readMap(src, node, path, ['consecutive_failures', 'count_5xx', 'ejection', 'max_ejected'] as const);
  const failures = fields.consecutive_failures;
  const consecutiveFailures = readCount(src, failures, `${path}.consecutive_failures`, base.consecutiveFailures, 0);
  const count5xx = readFlag(src, fields.count_5xx, `${path}.count_5xx`, base.count5xx);
  const ejection = readDuration(src, fields.ejection, `${path}.ejection`, base.ejection);
  if (ejection > DEFAULTS.maxEjection) {
    const longest = `${DEFAULTS.maxEjection / MINUTE}m`;
    const why = `each further ejection doubles it, up to ${longest}`;
    src.fail(fields.ejection!, `${path}.ejection`, `expected at most ${longest}: ${why}`);
  }
  const maxEjected = readShare(src, fields.max_ejected, `${path}.max_ejected`, base.maxEjected);
  return { consecutiveFailures, count5xx, ejection, maxEjected };
}

/** The dotted path of `key` under `path` ('' is the top level). */
function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}
