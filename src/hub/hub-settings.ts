import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ModelctlError } from '../errors.js';

/**
 * Where the Hub is, with what token, whether offline, and where the HF cache lies: huggingface_hub's environment
 * variables (HF_ENDPOINT, HF_TOKEN or the token file, HF_HUB_OFFLINE, HF_HOME / HF_HUB_CACHE), under pull's flags.
 */

const TRUE = new Set(['1', 'on', 'yes', 'true']);

export interface HubSettings {
  endpoint: string;
  token: string | undefined;
  offline: boolean;
  /** What made it offline (the flag beats the variable): messages name only that. */
  offlineBy?: OfflineBy;
  cacheDir: string;
  /** Write pulled Hub files into the HF cache too (--hf-cache, MODELCTL_HF_CACHE_WRITE=1). */
  writeCache: boolean;
  /** A connection that sends nothing for this long is dead (HF_HUB_DOWNLOAD_TIMEOUT, --timeout; hf's 10 s). */
  timeoutMs: number;
}

export const DEFAULT_TIMEOUT_S = 10;

/** Seconds (a positive number, fractions allowed) as hf reads HF_HUB_DOWNLOAD_TIMEOUT; `where` names the source. */
export function parseTimeout(text: string, where: string): number {
  const n = /^\s*\d+(\.\d+)?\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!(n > 0) || n > 86_400) {
    throw new ModelctlError('USAGE', `${where} takes seconds (a number above 0, at most 86400), got ${JSON.stringify(text)}`, {
      hint: `e.g. ${where} 30`,
    });
  }
  return n;
}

export type OfflineBy = '--offline' | 'HF_HUB_OFFLINE';

/** Why a pull is offline and how to undo it, in the words of what the user did. */
export function offlineWords(by: OfflineBy | undefined): { why: string; undo: string } {
  return by === '--offline'
    ? { why: '--offline was given', undo: 'drop --offline' }
    : { why: 'HF_HUB_OFFLINE is set', undo: 'unset HF_HUB_OFFLINE' };
}

function hfHome(env: NodeJS.ProcessEnv): string {
  return env.HF_HOME || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'huggingface');
}

function hubCacheDir(env: NodeJS.ProcessEnv): string {
  return env.HF_HUB_CACHE || env.HUGGINGFACE_HUB_CACHE || join(hfHome(env), 'hub');
}

/** HF_TOKEN, else the token file `hf auth login` writes ($HF_TOKEN_PATH, default $HF_HOME/token). */
function hubToken(env: NodeJS.ProcessEnv): string | undefined {
  const direct = env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN;
  if (direct) return direct.trim();
  try {
    const saved = readFileSync(env.HF_TOKEN_PATH || join(hfHome(env), 'token'), 'utf8').trim();
    return saved || undefined;
  } catch {
    return undefined;
  }
}

/** Flags beat the environment; the environment beats the defaults. */
export function hubSettings(
  env: NodeJS.ProcessEnv,
  flags: { endpoint?: string; token?: string; offline?: boolean; cacheDir?: string; timeout?: number; writeCache?: boolean } = {},
): HubSettings {
  const endpoint = (flags.endpoint || env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, '');
  const offlineBy: OfflineBy | undefined =
    flags.offline !== undefined
      ? flags.offline
        ? '--offline'
        : undefined
      : TRUE.has((env.HF_HUB_OFFLINE ?? '').toLowerCase())
        ? 'HF_HUB_OFFLINE'
        : undefined;
  return {
    endpoint,
    token: flags.token || hubToken(env),
    offline: offlineBy !== undefined,
    ...(offlineBy ? { offlineBy } : {}),
    cacheDir: flags.cacheDir ?? hubCacheDir(env),
    writeCache: flags.writeCache ?? TRUE.has((env.MODELCTL_HF_CACHE_WRITE ?? '').toLowerCase()),
    timeoutMs:
      1000 *
      (flags.timeout ??
        (env.HF_HUB_DOWNLOAD_TIMEOUT ? parseTimeout(env.HF_HUB_DOWNLOAD_TIMEOUT, 'HF_HUB_DOWNLOAD_TIMEOUT') : DEFAULT_TIMEOUT_S)),
  };
}
