import { ModelctlError } from '../errors.js';
import type { Credentials } from '../oci/auth.js';
import type { RegistryLoginFlags } from './specs/registry-login.js';

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

/** --username with --password-stdin as credentials (the password's trailing newline dropped), or none. */
export async function credentialsFrom(
  flags: RegistryLoginFlags,
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<Credentials | undefined> {
  if (flags.passwordStdin && !flags.username) {
    throw new ModelctlError('USAGE', '--password-stdin needs --username', {
      hint: 'e.g. echo "$TOKEN" | modelctl push ... --username me --password-stdin',
    });
  }
  if (!flags.username) return undefined;
  if (!flags.passwordStdin) {
    throw new ModelctlError('USAGE', '--username needs --password-stdin (a password is never given as an argument)', {
      hint: 'e.g. echo "$TOKEN" | modelctl push ... --username me --password-stdin, or set MODELCTL_OCI_USERNAME/PASSWORD',
    });
  }
  const password = (await readAll(stdin)).replace(/\r?\n$/, '');
  if (password === '')
    throw new ModelctlError('USAGE', '--password-stdin read an empty password', { hint: 'pipe the password or token into modelctl' });
  return { username: flags.username, password };
}
