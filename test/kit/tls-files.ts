/**
 * Test helper: the test certificates in fixtures/tls (a CA, and server certificates it signs for
 * a.test, a second one for a.test, *.b.test and default.test with 127.0.0.1), and the real TLS
 * clients the tests drive: curl and openssl s_client.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { run, type Run } from './command.js';

const DIR = fileURLToPath(new URL('../../../fixtures/tls/', import.meta.url));

export const CA = `${DIR}ca.pem`;
export const cert = (name: string): { cert: string; key: string } => ({ cert: `${DIR}${name}.pem`, key: `${DIR}${name}.key` });

export const hasOpenssl = existsSync('/usr/bin/openssl');
export const hasCurl = existsSync('/usr/bin/curl');

/** The subject of the certificate `openssl s_client` is shown for `servername` (none: no SNI), or why the handshake failed. */
export async function servedSubject(port: number, servername: string | null, extra: string[] = []): Promise<Run & { subject: string }> {
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', CA, ...(servername === null ? ['-noservername'] : ['-servername', servername]), ...extra];
  const r = await run('openssl', args, 'Q\n');
  return { ...r, subject: /^subject=(.*)$/m.exec(r.stdout)?.[1] ?? '' };
}
