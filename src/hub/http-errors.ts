import { ModelctlError } from '../errors.js';

/**
 * HTTP failures as one-line ModelctlErrors. The Hub says what went wrong in X-Error-Code (RepoNotFound,
 * RevisionNotFound, EntryNotFound, GatedRepo) and X-Error-Message; for a private repo asked without a token it
 * answers 401 RepoNotFound, so as not to reveal that the repo exists. Nothing here ever includes a token.
 */

export interface HttpFailure {
  status: number;
  errorCode?: string | null;
  errorMessage?: string | null;
  requestId?: string | null;
}

export interface FailureContext {
  /** "hf:org/name", or a redacted URL. */
  what: string;
  revision?: string;
  file?: string;
  endpoint?: string;
  tokenGiven: boolean;
}

/** Where tokens are made and repo pages are: on the configured endpoint (HF_ENDPOINT, --endpoint), not huggingface.co. */
function tokenHint(endpoint: string | undefined): string {
  return `set HF_TOKEN (or pass --token) to a token with read access: ${endpoint ?? 'https://huggingface.co'}/settings/tokens`;
}

function repoPage(ctx: FailureContext): string {
  return ctx.endpoint && ctx.what.startsWith('hf:') ? `${ctx.endpoint}/${ctx.what.slice(3)}` : "the repo's page";
}

export function httpFailure(res: { status: number; headers: { get(name: string): string | null } }): HttpFailure {
  return {
    status: res.status,
    errorCode: res.headers.get('x-error-code'),
    errorMessage: res.headers.get('x-error-message'),
    requestId: res.headers.get('x-request-id'),
  };
}

export function failureError(f: HttpFailure, ctx: FailureContext): ModelctlError {
  const details = {
    status: f.status,
    ...(f.errorCode ? { errorCode: f.errorCode } : {}),
    ...(f.requestId ? { requestId: f.requestId } : {}),
  };
  const server = f.errorMessage ? ` (${oneLine(f.errorMessage)})` : '';
  const where = ctx.endpoint ? ` on ${ctx.endpoint}` : '';
  if (f.errorCode === 'GatedRepo') {
    return new ModelctlError('PERMISSION_DENIED', `${ctx.what} is gated: access must be requested and granted before download${server}`, {
      hint: ctx.tokenGiven
        ? `accept the conditions on ${repoPage(ctx)} with the account of your token, then try again`
        : `accept the conditions on ${repoPage(ctx)}, then ${tokenHint(ctx.endpoint)}`,
      details,
    });
  }
  if (f.errorCode === 'RevisionNotFound') {
    return new ModelctlError('NOT_FOUND', `revision ${ctx.revision ?? '?'} of ${ctx.what} not found${where}`, {
      hint: 'check the branch, tag or commit id (--revision)',
      details,
    });
  }
  if (f.errorCode === 'EntryNotFound') {
    return new ModelctlError(
      'NOT_FOUND',
      `${ctx.file ?? 'a file'} not found in ${ctx.what}${ctx.revision ? `@${ctx.revision}` : ''}${where}`,
      { hint: 'check the file name and the revision', details },
    );
  }
  if (f.status === 401 || f.status === 403) {
    const msg =
      f.errorCode === 'RepoNotFound' || (f.status === 401 && !ctx.tokenGiven)
        ? `${ctx.what} not found${where}, or it is private and needs a token${server}`
        : `access to ${ctx.what} denied (HTTP ${f.status})${server}`;
    return new ModelctlError('PERMISSION_DENIED', msg, {
      hint: ctx.tokenGiven
        ? 'check the repo id, and that your token can read this repo'
        : `check the repo id; if it is private, ${tokenHint(ctx.endpoint)}`,
      details,
    });
  }
  if (f.status === 404) {
    return new ModelctlError(
      'NOT_FOUND',
      `${ctx.file && f.errorCode !== 'RepoNotFound' ? `${ctx.file} in ` : ''}${ctx.what} not found${where}${server}`,
      {
        hint: ctx.what.startsWith('hf:') ? 'check the repo id (ORG/NAME) and the revision' : 'check the URL',
        details,
      },
    );
  }
  if (f.status === 429) {
    return new ModelctlError('NETWORK', `${ctx.what}: too many requests (HTTP 429)${server}`, {
      hint: 'wait a little and try again; a token raises the limits',
      details,
    });
  }
  return new ModelctlError('NETWORK', `${ctx.what}: HTTP ${f.status}${ctx.file ? ` for ${ctx.file}` : ''}${server}`, {
    hint: 'the server failed; try again later',
    details,
  });
}

/** A fetch that failed before any response (refused, reset, DNS) as a NETWORK error. */
export function connectionError(err: unknown, ctx: { what: string; endpoint?: string }): ModelctlError {
  if (err instanceof ModelctlError) return err;
  const cause = (err as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  const code = cause?.code ?? (err as NodeJS.ErrnoException | undefined)?.code;
  const message = (cause as { message?: string } | undefined)?.message ?? (err instanceof Error ? err.message : String(err));
  // A stall (sendRequest's idle timer) says for how long; other failures are named by their system code.
  const stalled = code === 'ETIMEDOUT' && message.startsWith('no data for');
  const reason = stalled ? message : (code ?? message);
  // OpenSSL's verification codes (DEPTH_ZERO_SELF_SIGNED_CERT, CERT_HAS_EXPIRED, ...) and Node's ERR_TLS_*/ERR_SSL_*.
  const tls = code !== undefined && /CERT|ERR_TLS_|ERR_SSL_/.test(code);
  return new ModelctlError('NETWORK', `cannot reach ${ctx.endpoint ?? ctx.what}: ${oneLine(reason)}`, {
    hint: stalled
      ? 'the server stopped sending; raise --timeout (or HF_HUB_DOWNLOAD_TIMEOUT, in seconds) for a slow link'
      : tls
        ? "the server's TLS certificate was refused; if a proxy or a mirror uses its own certificate authority, point NODE_EXTRA_CA_CERTS at its PEM file"
        : 'check the network (and HF_ENDPOINT or --endpoint); HF_HUB_OFFLINE=1 uses only what is already on this machine',
    cause: err,
  });
}

export function isAbort(err: unknown): boolean {
  return (err as { name?: string } | undefined)?.name === 'AbortError' || (err instanceof ModelctlError && err.code === 'INTERRUPTED');
}

function oneLine(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]+/g, ' ').slice(0, 200);
}
