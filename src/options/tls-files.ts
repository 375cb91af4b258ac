/**
 * Certificates for TLS listeners, read when the options are (at start-up and on every reload), so a
 * missing, unreadable or mismatched file refuses the start or the reload with a message naming it,
 * and the PEM text travels with the options (to worker processes too: one reading for all).
 */
import { readFileSync } from 'node:fs';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { OptionError } from './values.js';

export const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;
export type TlsVersion = (typeof TLS_VERSIONS)[number];

export interface TlsCertificate {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
  /** The DNS names it serves (its subjectAltName, else its CN): `a.example`, `*.example`. */
  names: string[];
}

export interface ListenerTls {
  /** The first is the default: for a client that sends no SNI name, or one that no certificate has. */
  certificates: TlsCertificate[];
  minVersion: TlsVersion;
}

function read(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new OptionError(`cannot read the ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function namesOf(cert: X509Certificate): string[] {
  const dns = (cert.subjectAltName ?? '').split(', ').filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4).toLowerCase());
  if (dns.length > 0) return dns;
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  return cn === undefined ? [] : [cn.toLowerCase()];
}

/** Reads and checks one certificate and its key; an OptionError names the file and what is wrong. */
export function loadCertificate(certFile: string, keyFile: string): TlsCertificate {
  const cert = read(certFile, 'certificate');
  const key = read(keyFile, 'key');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new OptionError(`the certificate ${certFile} is not a PEM certificate`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new OptionError(`the key ${keyFile} is not a PEM private key (or it is encrypted)`);
  }
  if (!x509.checkPrivateKey(privateKey)) throw new OptionError(`the key ${keyFile} does not match the certificate ${certFile}`);
  return { certFile, keyFile, cert, key, names: namesOf(x509) };
}
