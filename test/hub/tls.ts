import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileDir } from '../helpers.js';

export interface TestCertificate {
  key: string;
  cert: string;
  /** The certificate's PEM file: what NODE_EXTRA_CA_CERTS and curl --cacert take. */
  certPath: string;
}

/**
 * A self-signed certificate for 127.0.0.1, made now with openssl (Node has no API that makes one), valid for a
 * day and kept for the test file. The loopback Hub serves it; the client trusts it as its own authority.
 */
export function selfSignedCertificate(): TestCertificate {
  const dir = fileDir('modelctl-tls-');
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  const args = [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-keyout',
    keyPath,
    '-out',
    certPath,
  ];
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    throw new Error(`the HTTPS tests make their certificate with openssl (openssl ${args.join(' ')}), which failed: ${String(err)}`);
  }
  return { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8'), certPath };
}
