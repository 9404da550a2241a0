import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Where the Hub is, with what token, whether offline, and where the HF cache lies: huggingface_hub's environment
 * variables (HF_ENDPOINT, HF_TOKEN or the token file, HF_HUB_OFFLINE, HF_HOME / HF_HUB_CACHE), under pull's flags.
 */

const TRUE = new Set(['1', 'on', 'yes', 'true']);

export interface HubSettings {
  endpoint: string;
  token: string | undefined;
  offline: boolean;
  cacheDir: string;
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
  flags: { endpoint?: string; token?: string; offline?: boolean; cacheDir?: string } = {},
): HubSettings {
  const endpoint = (flags.endpoint || env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, '');
  return {
    endpoint,
    token: flags.token || hubToken(env),
    offline: flags.offline ?? TRUE.has((env.HF_HUB_OFFLINE ?? '').toLowerCase()),
    cacheDir: flags.cacheDir ?? hubCacheDir(env),
  };
}
