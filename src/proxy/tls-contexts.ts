// A TLS listener's certificates as Node's TLS server uses them: a secure context per certificate,
// picked by the name the client asks for (SNI): that exact name first, then a wildcard name
// ("*.example.com") covering its first label, else the first certificate (also for a client that
// names nothing, or connects by address). read() reads the files again (SIGHUP): connections that
// are open keep the context they began with; new ones get the new certificates.
//
// Session tickets: all of a listener's contexts, and its tls.Server's own, share one set of ticket
// keys (made anew by read()), and a resumed TLS 1.3 handshake hands the client a new ticket
// (renewTickets below). The keys are random; a cluster's workers make theirs from the secret the
// primary gives them all (listenerTicketKeys).

import { createHmac, randomBytes } from 'node:crypto';
import tls from 'node:tls';
import type { Place } from '../config/places.js';
import type { ListenerTls } from '../config/schema.js';
import { loadListenerTls, type LoadedCertificate } from '../config/tls-files.js';
import { serverSecureContext, setTicketKeyCallback } from '../io/internals.js';

/** The one application protocol spoken: a client offering h2 alone is told so in the handshake. */
const ALPN = ['http/1.1'];

/**
 * Has `context` seal session tickets with `keys` (48 bytes, as Node's `ticketKeys`: name, HMAC key,
 * AES key) and tell OpenSSL to renew every ticket it takes, so that a resumed TLS 1.3 handshake
 * sends the client a new ticket, as OpenSSL's own ticket code, nginx and HAProxy do. Node's ticket
 * code answers "valid, do not renew", so a resumed connection gets none; a client that uses a TLS
 * 1.3 ticket once (OpenSSL's clients do, as RFC 8446 appendix C.4 asks) is then left with none,
 * and its next connection is a full handshake. Node has no option for it: the callback is reached
 * through the I/O seam (src/io/internals.ts), and where that does not offer it the context keeps
 * Node's ticket code, with the same keys. Returns whether the callback is in place.
 */
export function renewTickets(context: tls.SecureContext | null, keys: Buffer): boolean {
  if (context === null) return false;
  const name = keys.subarray(0, 16);
  const hmac = keys.subarray(16, 32);
  const aes = keys.subarray(32, 48);
  // Sealing: 1 (go on) with the key name and a fresh IV. Opening: 2 (take it, and send a new
  // one) if the ticket names our key, else 0 (not ours, or from before a reload: a full handshake).
  return setTicketKeyCallback(context, (ticketName, _iv, encrypt) =>
    encrypt ? [1, hmac, aes, name, randomBytes(16)] : [name.equals(ticketName) ? 2 : 0, hmac, aes],
  );
}

/**
 * The ticket keys of the listener at `index` (48 bytes, as renewTickets takes them), made from a
 * cluster's `secret`: each worker that holds the secret seals and opens its tickets with the same
 * keys, so a client resumes on whichever worker its next connection reaches, as all of nginx's
 * workers share one key. Each listener's keys are its own.
 */
export function listenerTicketKeys(secret: Buffer, index: number): Buffer {
  return createHmac('sha384', secret).update(`session ticket keys of listen[${index}]`).digest();
}

export class TlsContexts {
  /** Each certificate by each of its names, the first certificate that has a name winning. */
  private byName = new Map<string, tls.SecureContext>();
  /** The first certificate's context: for a name no certificate has, or no name. */
  private fallback: tls.SecureContext;
  /** The first certificate's bytes, for a tls.Server's own default context. */
  private first: LoadedCertificate;
  constructor(
    private readonly settings: ListenerTls,
    /** "listen.tls", "listen[1].tls": names the setting in a message about its files. */
    private readonly path: string,
    places?: { cert: Place; key: Place }[],
    /** The session ticket keys of every context here (renewTickets): random, unless a cluster's. */
    private ticketKeys: Buffer = randomBytes(48),
  ) {
    const loaded = loadListenerTls(settings, places, path);
    this.first = loaded[0]!;
    this.fallback = this.contextOf(this.first, this.ticketKeys);
    this.byName = this.index(loaded, this.ticketKeys);
  }

  /**
   * Reads the certificate files again, the contexts sealing tickets with new `keys`; throws a
   * ConfigError (and changes nothing) if one is wrong.
   */
  read(keys: Buffer = randomBytes(48)): void {
    const loaded = loadListenerTls(this.settings, undefined, this.path);
    // Everything is made before anything is replaced: a context that fails leaves the old set.
    const byName = this.index(loaded, keys);
    const fallback = this.contextOf(loaded[0]!, keys);
    this.ticketKeys = keys;
    this.first = loaded[0]!;
    this.fallback = fallback;
    this.byName = byName;
  }

  /** The context for a client that asked for `servername` ("" when it asked for none). */
  pick(servername: string): tls.SecureContext {
    const name = servername.toLowerCase();
    const exact = this.byName.get(name);
    if (exact !== undefined) return exact;
    const dot = name.indexOf('.');
    return (dot > 0 ? this.byName.get(`*${name.slice(dot)}`) : undefined) ?? this.fallback;
  }

  /**
   * What a TLS server takes: the first certificate, SNI, the version floor, ALPN. With one
   * certificate there is nothing to pick: no SNICallback, whose call into JavaScript every
   * handshake with a server name would pay (the files are the listener's until a restart, so
   * their number never changes; a reload replaces the one context, setSecureContext).
   */
  serverOptions(): tls.TlsOptions {
    const options: tls.TlsOptions = { ...this.defaultOptions(), ALPNProtocols: ALPN };
    if (this.settings.certs.length > 1) options.SNICallback = this.sni;
    return options;
  }

  /** What a server-side TLSSocket takes (after a PROXY header): the contexts in force now. */
  socketOptions(): tls.TLSSocketOptions {
    const options: tls.TLSSocketOptions = { isServer: true, secureContext: this.fallback, ALPNProtocols: ALPN };
    if (this.settings.certs.length > 1) options.SNICallback = this.sni;
    return options;
  }

  private readonly sni = (servername: string, done: (err: Error | null, context: tls.SecureContext) => void): void => done(null, this.pick(servername));

  /** What tls.Server.setSecureContext takes after read(): the first certificate now. */
  defaultOptions(): tls.SecureContextOptions {
    return this.contextOptions(this.first, this.ticketKeys);
  }

  /**
   * Makes the server's own context renew tickets as ours do: once it is made, and again after
   * each setSecureContext (which makes a new one).
   */
  renewTicketsOf(server: tls.Server): void {
    renewTickets(serverSecureContext(server), this.ticketKeys);
  }

  private index(loaded: LoadedCertificate[], keys: Buffer): Map<string, tls.SecureContext> {
    const byName = new Map<string, tls.SecureContext>();
    for (const certificate of loaded) {
      const context = this.contextOf(certificate, keys);
      for (const name of certificate.names) if (!byName.has(name)) byName.set(name, context);
    }
    return byName;
  }

  private contextOf(certificate: LoadedCertificate, keys: Buffer): tls.SecureContext {
    const context = tls.createSecureContext(this.contextOptions(certificate, keys));
    renewTickets(context, keys);
    return context;
  }

  private contextOptions(certificate: LoadedCertificate, keys: Buffer): tls.SecureContextOptions {
    return { cert: certificate.cert, key: certificate.key, minVersion: this.settings.minVersion, ticketKeys: keys };
  }
}
