// Self-signed certificates for 127.0.0.1, made with openssl for the TLS tests.

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export interface CertificateOptions {
  /** Names the files NAME-cert.pem and NAME-key.pem in `dir`; without it, cert.pem and key.pem. */
  name?: string;
  /** RSA key size; default 2048. A key OpenSSL finds too small (512) makes a pair no listener takes. */
  bits?: number;
  /** Encrypts the key with this passphrase; default none. */
  passphrase?: string;
  /** DNS names in its subjectAltName, beside IP:127.0.0.1 ("a.test", "*.a.test"); default none. */
  names?: string[];
}

/** A self-signed certificate for 127.0.0.1 and its key, as PEM files in `dir`. */
export function selfSigned(dir: string, { name, bits = 2048, passphrase, names = [] }: CertificateOptions = {}): { cert: string; key: string } {
  const prefix = name === undefined ? '' : `${name}-`;
  const cert = join(dir, `${prefix}cert.pem`);
  const key = join(dir, `${prefix}key.pem`);
  const encryption = passphrase === undefined ? ['-nodes'] : ['-passout', `pass:${passphrase}`];
  execFileSync('openssl', [
    'req', '-x509', '-newkey', `rsa:${bits}`, ...encryption, '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', `subjectAltName=${[...names.map((n) => `DNS:${n}`), 'IP:127.0.0.1'].join(',')}`, '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  return { cert, key };
}
