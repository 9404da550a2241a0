import { realpath } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { ModelctlError } from '../errors.js';

/** `~` and `~/x` as the shell would expand them (an argument can reach us unexpanded: `--out=~/x`). */
export function expandHome(path: string): string {
  if (path === '~') return homedir();
  if (path.startsWith(`~/`) || path.startsWith(`~${sep}`)) return resolve(homedir(), path.slice(2));
  return path;
}

/** The real path of `path`, or of its nearest existing ancestor joined with the rest (for files not yet made). */
export async function realPathOf(path: string): Promise<string> {
  const abs = resolve(path);
  try {
    return await realpath(abs);
  } catch {
    const parent = dirname(abs);
    if (parent === abs) return abs;
    return resolve(await realPathOf(parent), relative(parent, abs));
  }
}

/** True when `path` (resolved through symlinks) is `folder` or inside it. */
export async function isInside(path: string, folder: string): Promise<boolean> {
  const [p, f] = await Promise.all([realPathOf(path), realPathOf(folder)]);
  const rel = relative(f, p);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** Refuses a source folder that holds the registry home: the registry would be copied into itself. */
export async function checkOutsideHome(source: string, home: string): Promise<void> {
  if (await isInside(home, source)) {
    throw new ModelctlError('USAGE', `${source} holds the registry home (${home}): it would be copied into itself`, {
      hint: "give the model's own folder, or keep MODELCTL_HOME outside it",
    });
  }
}
