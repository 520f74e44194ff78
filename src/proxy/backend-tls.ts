// Connections to a backend over TLS (backend_tls): the options every connection to one server
// takes, made once per server; its last TLS session, offered on the next connect so that the
// handshake resumes; and the connect itself, a PROXY header (send_proxy) going first in clear.

import net from 'node:net';
import tls from 'node:tls';
import type { BackendTls } from '../config/schema.js';
import { backendTlsKey } from '../config/sections/backend-tls.js';

/**
 * Node's default roots (its bundled ones, NODE_EXTRA_CA_CERTS, the system's under
 * --use-system-ca), where this Node has the call; an older one lists only its bundled roots.
 */
const defaultRoots = (tls as { getCACertificates?: (type: 'default') => string[] }).getCACertificates;

/**
 * The roots a server's certificate may chain to: undefined (Node's defaults) without `ca`; else
 * the defaults and `ca`'s, since a `ca` option replaces the defaults rather than adding to them.
 * `roots`: Node's call that lists its defaults; undefined where it has none, or null (which a
 * test can pass on any Node, where undefined would take the default).
 */
export function trustedRoots(caCerts: readonly string[], roots: typeof defaultRoots | null = defaultRoots): string[] | undefined {
  if (caCerts.length === 0) return undefined;
  return [...(roots === undefined || roots === null ? tls.rootCertificates : roots('default')), ...caCerts];
}

/** How many contexts `rootsContext` keeps: more than a config has CA files, as a rule. */
export const CONTEXTS_KEPT = 16;
/** Contexts by the CA certificates they trust besides the defaults, the one used last at the end. */
const contexts = new Map<string, tls.SecureContext>();

/**
 * A context that trusts Node's default roots and `caCerts`, shared by every server that trusts
 * the same. A context with a `ca` of its own parses every default root again into a store of its
 * own, on the event loop: made per server, that was paid at each server's first connection and
 * again by the health checker's. A client context holds no per-server state: the SNI, the name
 * checked and the session to resume go with each connection. The last CONTEXTS_KEPT are kept, so
 * a CA file that changes from reload to reload does not pile up old ones.
 */
export function rootsContext(caCerts: readonly string[]): tls.SecureContext {
  const key = caCerts.join('\n');
  let context = contexts.get(key);
  if (context === undefined) {
    const ca = trustedRoots(caCerts);
    context = tls.createSecureContext(ca === undefined ? {} : { ca });
    if (contexts.size === CONTEXTS_KEPT) contexts.delete(contexts.keys().next().value!);
  } else {
    contexts.delete(key);
  }
  contexts.set(key, context);
  return context;
}

/**
 * What every connection to a server secured by `settings` takes, the server written as `host` in
 * the config (a name, or an IP address; connections go to the address it resolved to): the roots
 * in a context shared with the servers that trust the same (rootsContext), the SNI, and the name
 * the certificate must hold.
 */
export function backendTlsOptions(settings: BackendTls, host: string): tls.ConnectionOptions {
  // RFC 6066, section 3: "Literal IPv4 and IPv6 addresses are not permitted in HostName"; such
  // a server's certificate is checked against its address (an IP subjectAltName) instead.
  const servername = settings.serverName ?? (net.isIP(host) === 0 ? host : undefined);
  const identity = servername ?? host;
  return {
    secureContext: rootsContext(settings.caCerts),
    ...(servername === undefined ? {} : { servername }),
    rejectUnauthorized: settings.verify,
    checkServerIdentity: (_: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(identity, cert),
  };
}

/**
 * Opens a TLS connection to `address`:`port` with `options`. With a PROXY header, the TCP
 * connection opens first and carries the header in clear, then the handshake: the server reads
 * the header before TLS, as with HAProxy's `send-proxy` on an `ssl` server.
 */
export function connectTls(options: tls.ConnectionOptions, address: string, port: number, proxyHeader: Buffer | null): tls.TLSSocket {
  if (proxyHeader === null) return tls.connect({ ...options, host: address, port }).setNoDelay(true);
  const raw = net.connect({ host: address, port, noDelay: true });
  // Before tls.connect: this listener runs ahead of the one that starts the handshake.
  raw.once('connect', () => raw.write(proxyHeader));
  return tls.connect({ ...options, socket: raw });
}

/** One server's TLS: its settings, the options made from them, and its last session. */
export class BackendTlsClient {
  /** Which settings these are ("" would be none): a reload keeps a server only while it is unchanged. */
  readonly key: string;
  /** Made on the first connection: a process that routes nothing (the cluster's primary) never needs them. */
  private options: tls.ConnectionOptions | null = null;
  /** The last session the server gave; undefined before the first. */
  private session: Buffer | undefined = undefined;

  constructor(
    readonly settings: BackendTls,
    /** The server's host as the config writes it: the default SNI and name checked. */
    readonly host: string,
  ) {
    this.key = backendTlsKey(settings);
  }

  /** A new connection to the server at `address`:`port`, offering the last session to resume. */
  connect(address: string, port: number, proxyHeader: Buffer | null): tls.TLSSocket {
    const options = (this.options ??= backendTlsOptions(this.settings, this.host));
    const socket = connectTls(this.session === undefined ? options : { ...options, session: this.session }, address, port, proxyHeader);
    socket.on('session', (session: Buffer) => {
      // Only a session from a connection whose certificate passed is kept: Node does not check
      // the name again on a resumed session. (Node emits 'session' once the check is done, for
      // TLS 1.2 and 1.3 alike; one that came before would be dropped, costing a full handshake.)
      if (socket.authorized || !this.settings.verify) this.session = session;
    });
    return socket;
  }
}
