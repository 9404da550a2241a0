import { ModelctlError } from '../errors.js';
import { checkName } from '../registry/names.js';

export type PullSource = { kind: 'hub'; repo: string; revision?: string } | { kind: 'url'; url: URL } | { kind: 'path'; path: string };

const REPO_HINT = 'write hf:ORG/NAME (or ORG/NAME), a https:// URL, or a folder path starting with ./ or /';

/**
 * What `pull` was given: `hf:ORG/NAME[@REV]` or a bare `ORG/NAME` (the Hub), an http(s) URL, or a path
 * (./, ../, /, ~ or file:). A bare word without a slash is ambiguous with a path, so it is refused.
 */
export function parsePullSource(text: string): PullSource {
  const t = text.trim();
  if (t === '') throw new ModelctlError('USAGE', 'pull needs a source', { hint: REPO_HINT });
  if (/^https?:\/\//i.test(t)) {
    let url: URL;
    try {
      url = new URL(t);
    } catch {
      throw new ModelctlError('USAGE', `not a valid URL: ${redactUrl(t)}`, { hint: REPO_HINT });
    }
    return { kind: 'url', url };
  }
  if (/^(\.{1,2}([\\/]|$)|[\\/]|~)/.test(t) || /^[A-Za-z]:[\\/]/.test(t)) return { kind: 'path', path: t };
  if (t.startsWith('file:')) return { kind: 'path', path: t.slice('file:'.length) };
  const hub = t.startsWith('hf:') ? t.slice(3) : t;
  const at = hub.indexOf('@');
  const repo = at < 0 ? hub : hub.slice(0, at);
  const revision = at < 0 ? undefined : hub.slice(at + 1);
  if (!repo.includes('/') && !t.startsWith('hf:')) {
    throw new ModelctlError('USAGE', `${JSON.stringify(t)} is neither a Hub repo (ORG/NAME) nor a path`, { hint: REPO_HINT });
  }
  try {
    checkName(repo);
  } catch {
    throw new ModelctlError('USAGE', `invalid Hub repo id ${JSON.stringify(repo)}`, {
      hint: 'a repo id looks like ORG/NAME: letters, digits, ".", "_" and "-"',
    });
  }
  if (revision !== undefined) checkRevision(revision);
  return revision ? { kind: 'hub', repo, revision } : { kind: 'hub', repo };
}

/** Branches, tags, commits and refs/pr/N; nothing that could walk out of a URL path or a cache folder. */
export function checkRevision(revision: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]{0,255}$/.test(revision) || revision.includes('..') || revision.endsWith('/')) {
    throw new ModelctlError('USAGE', `invalid revision ${JSON.stringify(revision)}`, {
      hint: 'a revision is a branch, a tag or a commit id, e.g. main or v1.0',
    });
  }
  return revision;
}

/** A URL as it may be shown or recorded: no user:password, no query (signed URLs carry secrets there). */
export function redactUrl(url: string | URL): string {
  try {
    const u = new URL(String(url));
    u.username = '';
    u.password = '';
    const hadQuery = u.search !== '';
    u.search = '';
    u.hash = '';
    return `${u.toString()}${hadQuery ? '?…' : ''}`;
  } catch {
    return String(url)
      .replace(/\/\/[^/@]*@/, '//')
      .replace(/\?.*$/, '?…');
  }
}

export function isCommitId(revision: string): boolean {
  return /^[0-9a-f]{40}$/.test(revision);
}
