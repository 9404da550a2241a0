/** Just enough semver for ordering registry versions: MAJOR.MINOR.PATCH with an optional -prerelease. */

interface SemVer {
  major: number;
  minor: number;
  patch: number;
  pre: string[];
}

const SEMVER = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

export function parseSemver(text: string): SemVer | undefined {
  const m = SEMVER.exec(text);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), pre: m[4] ? m[4].split('.') : [] };
}

function comparePre(a: string[], b: string[]): number {
  if (a.length === 0 || b.length === 0) return b.length - a.length; // a release sorts after its prereleases
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const xn = /^\d+$/.test(x);
    const yn = /^\d+$/.test(y);
    if (xn && yn) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d;
    } else if (xn !== yn) {
      return xn ? -1 : 1;
    } else if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  return 0;
}

/** Strict semver 2.0.0 (MAJOR.MINOR.PATCH[-pre][+build], no leading "v"): what a new version must be. */
export function isSemver(text: string): boolean {
  return !text.startsWith('v') && parseSemver(text) !== undefined;
}

/** Orders semver versions by precedence; returns undefined when either side is not semver. */
export function compareSemver(a: string, b: string): number | undefined {
  const x = parseSemver(a);
  const y = parseSemver(b);
  if (!x || !y) return undefined;
  return x.major - y.major || x.minor - y.minor || x.patch - y.patch || comparePre(x.pre, y.pre);
}

/** The next patch after the highest semver among `versions`; 1.0.0 when there is none. */
export function nextPatchVersion(versions: Iterable<string>): string {
  let best: SemVer | undefined;
  let bestText: string | undefined;
  for (const v of versions) {
    const s = parseSemver(v);
    if (s && (bestText === undefined || (compareSemver(v, bestText) ?? 0) > 0)) {
      best = s;
      bestText = v;
    }
  }
  if (!best) return '1.0.0';
  // 1.2.0-rc.1 -> 1.2.0 (the release of a prerelease is its next version), otherwise bump the patch.
  return best.pre.length > 0 ? `${best.major}.${best.minor}.${best.patch}` : `${best.major}.${best.minor}.${best.patch + 1}`;
}
