import { ModelctlError } from '../errors.js';

/**
 * `oci://HOST[:PORT]/REPO[:TAG|@sha256:HEX]`, the address of an artifact in an OCI registry (the distribution
 * spec's grammar for repository names, tags and digests). Plain HTTP is used only for a loopback host or when the
 * user asks for it (`--insecure`); anything else is HTTPS.
 */
export interface OciRef {
  /** HOST[:PORT], as credentials are keyed in the Docker config. */
  host: string;
  repo: string;
  tag?: string;
  digest?: string;
  /** http(s)://HOST[:PORT], where /v2/ lives. */
  origin: string;
  /** The reference as written back (oci://HOST/REPO:TAG or @DIGEST). */
  text: string;
}

const HINT = 'write oci://HOST[:PORT]/REPO[:TAG] or oci://HOST/REPO@sha256:DIGEST, e.g. oci://localhost:5000/models/bert:1.0.0';
const REPO = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

export function isOciRef(text: string): boolean {
  return /^oci:\/\//i.test(text.trim());
}

export function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

export function checkTag(tag: string): string {
  if (!TAG.test(tag)) {
    throw new ModelctlError('USAGE', `invalid OCI tag ${JSON.stringify(tag)}`, {
      hint: 'a tag is up to 128 letters, digits, "_", "." and "-", not starting with "." or "-"',
    });
  }
  return tag;
}

/** A tag made from a registry version: "1.0.0+build" -> "1.0.0_build" (tags cannot hold "+"). */
export function tagFromVersion(version: string): string {
  return checkTag(version.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 128));
}

export function parseOciRef(text: string, options: { insecure?: boolean } = {}): OciRef {
  const t = text.trim();
  if (!isOciRef(t)) throw new ModelctlError('USAGE', `not an oci:// reference: ${JSON.stringify(t)}`, { hint: HINT });
  const rest = t.slice('oci://'.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) throw new ModelctlError('USAGE', `${t} names no repository`, { hint: HINT });
  const host = rest.slice(0, slash);
  let url: URL;
  try {
    url = new URL(`http://${host}`);
  } catch {
    throw new ModelctlError('USAGE', `invalid registry host ${JSON.stringify(host)} in ${t}`, { hint: HINT });
  }
  if (url.username || url.password || url.host.toLowerCase() !== host.toLowerCase()) {
    throw new ModelctlError('USAGE', `invalid registry host ${JSON.stringify(host)} in ${t}`, {
      hint: 'credentials go in --username/--password-stdin, MODELCTL_OCI_USERNAME/PASSWORD or the Docker config, never in the reference',
    });
  }
  let path = rest.slice(slash + 1);
  let digest: string | undefined;
  let tag: string | undefined;
  const at = path.indexOf('@');
  if (at >= 0) {
    digest = path.slice(at + 1);
    path = path.slice(0, at);
    if (!DIGEST.test(digest)) throw new ModelctlError('USAGE', `invalid digest ${JSON.stringify(digest)} in ${t}`, { hint: HINT });
  }
  const colon = path.lastIndexOf(':');
  if (colon >= 0) {
    tag = checkTag(path.slice(colon + 1));
    path = path.slice(0, colon);
  }
  if (!REPO.test(path)) {
    throw new ModelctlError('USAGE', `invalid repository name ${JSON.stringify(path)} in ${t}`, {
      hint: 'a repository is lowercase letters, digits and separators (".", "_", "-"), in "/"-separated parts',
    });
  }
  const plain = options.insecure === true || isLoopback(url.hostname);
  const origin = `${plain ? 'http' : 'https'}://${url.host}`;
  const written = `oci://${url.host}/${path}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`;
  return { host: url.host, repo: path, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}), origin, text: written };
}

/** What a manifest request names: the digest when one was given, else the tag (default `latest`). */
export function manifestReference(ref: OciRef): string {
  return ref.digest ?? ref.tag ?? 'latest';
}
