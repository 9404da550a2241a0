import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ModelctlError } from '../errors.js';
import { helperCredentials } from './cred-helper.js';

/**
 * Who modelctl is to a registry: credentials given (--username with --password-stdin), else
 * MODELCTL_OCI_USERNAME/MODELCTL_OCI_PASSWORD, else the Docker config ($DOCKER_CONFIG/config.json, default
 * ~/.docker/config.json) as Docker reads it: the host's credential helper (`credHelpers`), else the default one
 * (`credsStore`), else the host's `auths` entry; none is anonymous. A password or token never appears in a message,
 * a manifest or a log line.
 */
export interface Credentials {
  username: string;
  password: string;
}

/** "https://host:5000/v1/" and "host:5000" name the same registry in a Docker config. */
function hostOfKey(key: string): string {
  return key
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/.*$/, '')
    .toLowerCase();
}

async function dockerConfigCredentials(host: string, env: NodeJS.ProcessEnv): Promise<Credentials | undefined> {
  const dir = env.DOCKER_CONFIG || join(homedir(), '.docker');
  const file = join(dir, 'config.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  let config: {
    auths?: Record<string, { auth?: string; username?: string; password?: string }>;
    credHelpers?: Record<string, unknown>;
    credsStore?: unknown;
  };
  try {
    config = JSON.parse(text) as typeof config;
  } catch {
    throw new ModelctlError('INVALID_INPUT', `the Docker config ${file} is not valid JSON`, {
      hint: 'fix or remove it, or give credentials with --username and --password-stdin',
    });
  }
  const forHost = <T>(map: Record<string, T> | undefined): T | undefined =>
    Object.entries(map ?? {}).find(([key]) => hostOfKey(key) === host.toLowerCase())?.[1];
  const own = forHost(config.credHelpers);
  const helper = own ?? config.credsStore;
  if (typeof helper === 'string' && helper !== '') {
    // The host's own helper must work; the default store (credsStore) may be missing, as in a Docker Desktop config
    // copied into a container: then the auths entry, or anonymous access.
    const found = await helperCredentials(helper, host, env).catch((err: unknown) => {
      if (own === undefined && err instanceof ModelctlError && err.code === 'MISSING_DEPENDENCY') return undefined;
      throw err;
    });
    if (found) return found;
  }
  const entry = forHost(config.auths);
  if (!entry || (!entry.auth && !entry.username && typeof helper === 'string')) return undefined;
  if (entry.username && entry.password) return { username: entry.username, password: entry.password };
  if (entry.auth) {
    const plain = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    if (colon > 0) return { username: plain.slice(0, colon), password: plain.slice(colon + 1) };
  }
  throw new ModelctlError('INVALID_INPUT', `the entry for ${host} in ${file} holds no username and password`, {
    hint: 'add them (docker login), or give credentials with --username and --password-stdin',
  });
}

export async function findCredentials(host: string, env: NodeJS.ProcessEnv, given?: Credentials): Promise<Credentials | undefined> {
  if (given) return given;
  const username = env.MODELCTL_OCI_USERNAME;
  const password = env.MODELCTL_OCI_PASSWORD;
  if (username && password !== undefined) return { username, password };
  if (username || password) {
    throw new ModelctlError('USAGE', 'set both MODELCTL_OCI_USERNAME and MODELCTL_OCI_PASSWORD, or neither', {
      hint: 'or give --username and --password-stdin',
    });
  }
  return dockerConfigCredentials(host, env);
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** `Bearer realm="https://auth/token",service="registry",scope="repository:a:pull"` -> its scheme and parameters. */
export function parseChallenge(header: string): Challenge {
  const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(header);
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (let p = re.exec(m?.[2] ?? ''); p; p = re.exec(m?.[2] ?? '')) {
    params[(p[1] as string).toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
  }
  return { scheme: (m?.[1] ?? '').toLowerCase(), params };
}

export function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

/** Asks the token service a bearer challenge names for a token (RFC 6750 / the Docker token protocol). */
export async function fetchToken(
  challenge: Challenge,
  scopes: string[],
  credentials: Credentials | undefined,
  get: (url: URL, headers: Record<string, string>) => Promise<{ status: number; body: Buffer }>,
  host: string,
): Promise<string> {
  const realm = challenge.params.realm;
  let url: URL;
  try {
    url = new URL(realm ?? '');
  } catch {
    throw new ModelctlError('NETWORK', `${host} asked for a bearer token without a valid realm`, { hint: 'check the registry' });
  }
  if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
  for (const scope of new Set([...(challenge.params.scope ?? '').split(' ').filter(Boolean), ...scopes]))
    url.searchParams.append('scope', scope);
  const res = await get(url, credentials ? { authorization: basicHeader(credentials) } : {});
  if (res.status === 401 || res.status === 403) {
    throw new ModelctlError(
      'PERMISSION_DENIED',
      `the token service of ${host} refused ${credentials ? `user ${credentials.username}` : 'anonymous access'} (HTTP ${res.status})`,
      {
        hint: credentials
          ? 'check the username and password'
          : 'log in: --username and --password-stdin, or MODELCTL_OCI_USERNAME/PASSWORD',
      },
    );
  }
  if (res.status !== 200) {
    throw new ModelctlError('NETWORK', `the token service of ${host} answered HTTP ${res.status}`, { hint: 'try again later' });
  }
  let token: unknown;
  try {
    const body = JSON.parse(res.body.toString('utf8')) as { token?: unknown; access_token?: unknown };
    token = body.token ?? body.access_token;
  } catch {
    token = undefined;
  }
  if (typeof token !== 'string' || token === '') {
    throw new ModelctlError('NETWORK', `the token service of ${host} answered without a token`, { hint: 'check the registry' });
  }
  return token;
}
