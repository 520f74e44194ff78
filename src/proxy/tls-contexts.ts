// A TLS listener's certificates as Node's TLS server uses them: a secure context per certificate,
// picked by the name the client asks for (SNI): that exact name first, then a wildcard name
// ("*.example.com") covering its first label, else the first certificate (also for a client that
// names nothing, or connects by address). read() reads the files again (SIGHUP): connections that
// are open keep the context they began with; new ones get the new certificates.

import tls from 'node:tls';
import type { Place } from '../config/places.js';
import type { ListenerTls } from '../config/schema.js';
import { loadListenerTls, type LoadedCertificate } from '../config/tls-files.js';

/** The one application protocol spoken: a client offering h2 alone is told so in the handshake. */
const ALPN = ['http/1.1'];

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
  ) {
    const loaded = loadListenerTls(settings, places, path);
    this.first = loaded[0]!;
    this.fallback = this.contextOf(this.first);
    this.byName = this.index(loaded);
  }

  /** Reads the certificate files again; throws a ConfigError (and changes nothing) if one is wrong. */
  read(): void {
    const loaded = loadListenerTls(this.settings, undefined, this.path);
    const byName = this.index(loaded);
    this.first = loaded[0]!;
    this.fallback = this.contextOf(this.first);
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
    const options: tls.TlsOptions = { ...this.contextOptions(this.first), ALPNProtocols: ALPN };
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
    return this.contextOptions(this.first);
  }

  private index(loaded: LoadedCertificate[]): Map<string, tls.SecureContext> {
    const byName = new Map<string, tls.SecureContext>();
    for (const certificate of loaded) {
      const context = this.contextOf(certificate);
      for (const name of certificate.names) if (!byName.has(name)) byName.set(name, context);
    }
    return byName;
  }

  private contextOf(certificate: LoadedCertificate): tls.SecureContext {
    return tls.createSecureContext(this.contextOptions(certificate));
  }

  private contextOptions(certificate: LoadedCertificate): tls.SecureContextOptions {
    return { cert: certificate.cert, key: certificate.key, minVersion: this.settings.minVersion };
  }
}
