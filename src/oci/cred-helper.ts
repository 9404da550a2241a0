import { execa } from 'execa';
import { ModelctlError } from '../errors.js';

/**
 * Docker's credential helper protocol (what `credsStore` and `credHelpers` in the Docker config name): the program
 * `docker-credential-NAME get` reads the registry's address on stdin and writes {"ServerURL", "Username", "Secret"}
 * on stdout, or fails with "credentials not found" when it holds none. The secret is never printed; a helper's own
 * error output is shown by its first line only.
 */

/** The address Docker stores a registry's credentials under: Docker Hub's old index URL, else host[:port]. */
export function helperServer(host: string): string {
  return /^(docker\.io|index\.docker\.io|registry-1\.docker\.io)$/i.test(host) ? 'https://index.docker.io/v1/' : host;
}

export async function helperCredentials(
  name: string,
  host: string,
  env: NodeJS.ProcessEnv,
): Promise<{ username: string; password: string } | undefined> {
  const program = `docker-credential-${name}`;
  const r = await execa(program, ['get'], { input: helperServer(host), env, extendEnv: false, reject: false, timeout: 60_000 });
  if (r.failed && (r as { code?: string }).code === 'ENOENT') {
    throw new ModelctlError(
      'MISSING_DEPENDENCY',
      `the Docker config names the credential helper "${name}", but ${program} is not on PATH`,
      {
        hint: `install ${program}, or give credentials with --username and --password-stdin`,
      },
    );
  }
  const said = `${r.stdout}\n${r.stderr}`;
  if (r.exitCode !== 0) {
    if (/credentials not found/i.test(said)) return undefined;
    // stderr only: a helper that printed its answer and then failed must not have the secret shown.
    const first = String(r.stderr).trim().split('\n')[0] ?? '';
    throw new ModelctlError('PERMISSION_DENIED', `${program} could not give credentials for ${host}${first ? `: ${first}` : ''}`, {
      hint: 'check the helper (docker login again), or give credentials with --username and --password-stdin',
    });
  }
  let answer: { Username?: unknown; Secret?: unknown };
  try {
    answer = JSON.parse(String(r.stdout)) as typeof answer;
  } catch {
    throw new ModelctlError('INVALID_INPUT', `${program} answered with something other than JSON`, {
      hint: 'check the helper, or give credentials with --username and --password-stdin',
    });
  }
  if (typeof answer.Username !== 'string' || typeof answer.Secret !== 'string' || answer.Secret === '') return undefined;
  if (answer.Username === '<token>') {
    throw new ModelctlError('NOT_AVAILABLE', `${program} holds an identity token for ${host}, which modelctl does not exchange yet`, {
      hint: 'give a username and password or token with --username and --password-stdin',
    });
  }
  return { username: answer.Username, password: answer.Secret };
}
