/**
 * One glob dialect for every pattern a user types: pull's --include/--exclude and list's --name. Model names hold
 * no `?`, `[` or `/`-suffix, so list's `org/*` means the same in both.
 */

/** fnmatch as huggingface_hub uses it: `*` crosses `/`; a pattern ending in `/` means everything below. */
export function globToRegExp(glob: string): RegExp {
  const g = glob.endsWith('/') ? `${glob}*` : glob;
  let re = '';
  for (let i = 0; i < g.length; i++) {
    const ch = g[i] as string;
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else if (ch === '[') {
      const end = g.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let set = g.slice(i + 1, end).replace(/\\/g, '\\\\');
        if (set.startsWith('!')) set = `^${set.slice(1)}`;
        re += `[${set}]`;
        i = end;
      }
    } else re += ch.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
