// Certificates made with openssl for the TLS tests: self-signed ones for 127.0.0.1, and a test CA with server certificates it signs.
// Keys are ECDSA P-256 unless a test asks for an RSA size: an RSA key takes openssl a fifth of a
// second of CPU to make, an EC key next to nothing, and TLS is the same to the balancer either way.

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CertificateOptions {
  /** Names the files NAME-cert.pem and NAME-key.pem in `dir`; without it, cert.pem and key.pem. */
  name?: string;
  /** An RSA key of this size instead of P-256. A key OpenSSL finds too small (512) makes a pair no listener takes. */
  bits?: number;
  /** Encrypts the key with this passphrase; default none. */
  passphrase?: string;
  /** DNS names in its subjectAltName, beside IP:127.0.0.1 ("a.test", "*.a.test"); default none. */
  names?: string[];
}

/** openssl req's arguments for a new key: RSA of `bits` bits, or P-256. */
const newKey = (bits?: number): string[] => (bits === undefined ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', `rsa:${bits}`]);

/** A self-signed certificate for 127.0.0.1 and its key, as PEM files in `dir`. */
export function selfSigned(dir: string, { name, bits, passphrase, names = [] }: CertificateOptions = {}): { cert: string; key: string } {
  const prefix = name === undefined ? '' : `${name}-`;
  const cert = join(dir, `${prefix}cert.pem`);
  const key = join(dir, `${prefix}key.pem`);
  const encryption = passphrase === undefined ? ['-nodes'] : ['-passout', `pass:${passphrase}`];
  execFileSync('openssl', [
    'req', '-x509', ...newKey(bits), ...encryption, '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', `subjectAltName=${[...names.map((n) => `DNS:${n}`), 'IP:127.0.0.1'].join(',')}`, '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  return { cert, key };
}

/** A certificate authority: its certificate (ca) and key, as PEM files NAME-ca.pem and NAME-ca-key.pem in `dir`. */
export function certificateAuthority(dir: string, name: string): { ca: string; key: string } {
  const ca = join(dir, `${name}-ca.pem`);
  const key = join(dir, `${name}-ca-key.pem`);
  execFileSync('openssl', [
    'req', '-x509', ...newKey(), '-nodes', '-days', '1', '-subj', `/CN=${name} test CA`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-keyout', key, '-out', ca,
  ], { stdio: 'ignore' });
  return { ca, key };
}

/**
 * A server certificate signed by `authority`, for `altNames` ("IP:127.0.0.1", "DNS:api.internal"),
 * and its key: NAME-cert.pem and NAME-key.pem in `dir`.
 */
export function signedBy(authority: { ca: string; key: string }, dir: string, name: string, altNames: string[]): { cert: string; key: string } {
  const cert = join(dir, `${name}-cert.pem`);
  const key = join(dir, `${name}-key.pem`);
  const request = join(dir, `${name}.csr`);
  const extensions = join(dir, `${name}.ext`);
  execFileSync('openssl', ['req', ...newKey(), '-nodes', '-subj', `/CN=${name}`, '-keyout', key, '-out', request], { stdio: 'ignore' });
  writeFileSync(extensions, `subjectAltName=${altNames.join(',')}\nextendedKeyUsage=serverAuth\n`);
  execFileSync('openssl', [
    'x509', '-req', '-in', request, '-CA', authority.ca, '-CAkey', authority.key, '-set_serial', String(Date.now()), '-days', '1', '-extfile', extensions, '-out', cert,
  ], { stdio: 'ignore' });
  return { cert, key };
}
