// A listener's TLS certificate and key, read and checked as the TLS listener needs them, with a
// message that says which file is wrong and why, at its place in lb.yaml: the start's check
// (preflight.ts) and the listener's own loading (a cluster worker reads them again, later).

import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { ConfigError, systemReason } from './error.js';
import { errorAt, type Place } from './places.js';
import type { ListenerTls, TlsFiles } from './schema.js';

/**
 * A listener's TLS certificate and key, checked as the TLS listener needs them: readable, a PEM
 * certificate, an unencrypted PEM private key, the key of that certificate, and accepted by
 * OpenSSL as a pair. A problem throws a ConfigError at the cert's or the key's place in lb.yaml;
 * without `places` (a cluster worker, given the configuration alone) it names the setting only,
 * at `path` ("listen.tls", "listen[1].tls").
 */
export function loadTlsFiles(files: TlsFiles, places: { cert: Place; key: Place } | undefined, path = 'listen.tls'): { cert: Buffer; key: Buffer } {
  const fail = (which: 'cert' | 'key', message: string): never => {
    throw places === undefined ? new ConfigError(`${path}.${which}: ${message}`) : errorAt(places[which], message);
  };
  const read = (which: 'cert' | 'key'): Buffer => {
    try {
      return readFileSync(files[which]);
    } catch (err) {
      return fail(which, `cannot read ${files[which]}: ${systemReason(err)}`);
    }
  };
  const cert = read('cert');
  const key = read('key');

  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch (err) {
    return fail('cert', `${files.cert} is not a PEM certificate (${opensslReason(err)})`);
  }
  // Further down, OpenSSL refuses an encrypted key with words that do not say so ("bad decrypt").
  if (/^-----BEGIN ENCRYPTED PRIVATE KEY-----|^Proc-Type: 4,ENCRYPTED/m.test(key.toString('latin1'))) {
    fail('key', `${files.key} is encrypted: the balancer needs the key without a passphrase`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    return fail('key', `${files.key} is not a PEM private key (${opensslReason(err)})`);
  }
  if (!certificate.checkPrivateKey(privateKey)) fail('key', `${files.key} is not the key of the certificate in ${files.cert}`);
  // What the listener does with them: this also refuses what the checks above let through, such
  // as a key too small for OpenSSL's security level or a broken certificate further down the chain.
  try {
    tls.createSecureContext({ cert, key });
  } catch (err) {
    fail('cert', `${files.cert} cannot be used with its key (${opensslReason(err)})`);
  }
  return { cert, key };
}

/** A certificate ready for a listener: its PEM bytes, and the names it is picked for by SNI. */
export interface LoadedCertificate {
  cert: Buffer;
  key: Buffer;
  /** Its DNS names (subjectAltName, else the subject's CN), lower case; "*.example.com" as written. */
  names: string[];
}

/**
 * Every certificate of a listener's `tls`, each checked as loadTlsFiles does (`places`: theirs in
 * lb.yaml, by position in `certs`; `path`: "listen.tls", "listen[1].tls").
 */
export function loadListenerTls(settings: ListenerTls, places: { cert: Place; key: Place }[] | undefined, path = 'listen.tls'): LoadedCertificate[] {
  return settings.certs.map((files, i) => {
    const pair = loadTlsFiles(files, places?.[i], settings.certs.length === 1 ? path : `${path}.certs[${i}]`);
    return { ...pair, names: certificateNames(new X509Certificate(pair.cert)) };
  });
}

/** A certificate's DNS names: its subjectAltName DNS entries, else its subject's CN. */
export function certificateNames(certificate: X509Certificate): string[] {
  const alt = certificate.subjectAltName;
  const dns = alt === undefined ? [] : [...alt.matchAll(/(?:^|, )DNS:([^,]+)/g)].map((m) => m[1]!.toLowerCase());
  if (dns.length > 0) return dns;
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(certificate.subject)?.[1];
  return cn === undefined ? [] : [cn.toLowerCase()];
}

/** "no start line" of OpenSSL's "error:0480006C:PEM routines::no start line"; another message's first line. */
function opensslReason(err: unknown): string {
  return (err as Error).message.split('\n', 1)[0]!.replace(/^error:[0-9A-F]+:[^:]*::?/, '');
}
