import { lstat, readFile, readdir, readlink, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { ModelctlError } from '../errors.js';

/**
 * The npm packages modelctl needs at run time, for the image's /opt/modelctl/node_modules: modelctl's package.json
 * dependencies (and the optional ones that are installed, such as sharp's platform packages), followed recursively
 * and resolved the way Node does (the requiring package's node_modules, then each folder above it). Files are listed
 * sorted; symbolic links stay links. onnxruntime-node ships its native binding for every platform: only the image's
 * os/architecture is kept.
 */

export type DepItem = { rel: string; source: string; size: number; mode: number } | { rel: string; link: string };

interface PackageJson {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const readPackage = async (dir: string): Promise<PackageJson | undefined> =>
  readFile(join(dir, 'package.json'), 'utf8').then(
    (text) => JSON.parse(text) as PackageJson,
    () => undefined,
  );

/** The folder of package `name` as Node finds it from `from` (a folder under `root`), or undefined. */
async function resolvePackage(root: string, from: string, name: string): Promise<string | undefined> {
  for (let dir = from; ; ) {
    const candidate = join(dir, 'node_modules', name);
    if ((await stat(join(candidate, 'package.json')).catch(() => undefined))?.isFile()) return candidate;
    if (dir === root) return undefined;
    // From root/node_modules/a/node_modules/b up to root/node_modules/a, then root.
    const up = dir.slice(0, dir.lastIndexOf('/node_modules/'));
    dir = up.length >= root.length && dir.includes('/node_modules/') ? up : root;
  }
}

/** Package folders (relative to root/node_modules, posix) that modelctl's runtime needs, sorted. */
export async function runtimePackages(root: string): Promise<string[]> {
  const found = new Map<string, string>();
  const queue: string[] = [root];
  while (queue.length > 0) {
    const dir = queue.shift() as string;
    const pkg = await readPackage(dir);
    if (!pkg) continue;
    const required = Object.keys(pkg.dependencies ?? {});
    const optional = [...Object.keys(pkg.optionalDependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})];
    for (const [name, must] of [...required.map((n) => [n, true] as const), ...optional.map((n) => [n, false] as const)]) {
      const at = await resolvePackage(root, dir, name);
      if (at === undefined) {
        if (must)
          throw new ModelctlError('NOT_AVAILABLE', `deploy image needs the npm package ${name}, and it is not installed beside modelctl`, {
            hint: 'run `npm ci --omit=dev` in the modelctl folder',
          });
        continue;
      }
      const rel = at
        .slice(join(root, 'node_modules').length + 1)
        .split('\\')
        .join('/');
      if (found.has(rel)) continue;
      found.set(rel, at);
      queue.push(at);
    }
  }
  return [...found.keys()].sort();
}

/** onnxruntime-node's bindings for other platforms than os/arch (the image's). */
function otherPlatform(rel: string, os: string, arch: string): boolean {
  const m = /^(?:.*\/)?onnxruntime-node\/bin\/napi-v\d+\/([^/]+)(?:\/([^/]+))?/.exec(rel);
  if (!m) return false;
  const nodeArch = arch === 'amd64' ? 'x64' : arch;
  return m[1] !== os || (m[2] !== undefined && m[2] !== nodeArch);
}

/** Every file and link of the runtime packages, paths relative to node_modules, sorted. */
export async function runtimeDependencyItems(root: string, os: string, arch: string): Promise<DepItem[]> {
  const base = join(root, 'node_modules');
  const packages = await runtimePackages(root);
  const items: DepItem[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const d of (await readdir(join(base, rel), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const child = posix.join(rel, d.name);
      // Nested node_modules are packages of their own: taken when something needs them.
      if (d.name === 'node_modules' || otherPlatform(child, os, arch)) continue;
      if (d.isDirectory()) await walk(child);
      else if (d.isSymbolicLink()) items.push({ rel: child, link: await readlink(join(base, child)) });
      else if (d.isFile()) {
        const st = await lstat(join(base, child));
        items.push({ rel: child, source: join(base, child), size: st.size, mode: st.mode & 0o111 ? 0o755 : 0o644 });
      }
    }
  };
  for (const p of packages) await walk(p);
  return items.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}
