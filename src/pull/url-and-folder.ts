import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { ModelctlError } from '../errors.js';
import { inspectModel } from '../formats/index.js';
import { copyLocalFile, downloadUrl, discardFetched, type FetchedFile } from '../hub/download/index.js';
import { redactUrl } from '../hub/pull-source.js';
import { checkName, checkNewName, checkSemverVersion } from '../registry/names.js';
import { checkOutsideHome, expandHome } from '../util/paths.js';
import { commitPull, pullResult } from './inspect-and-commit.js';
import { transportWithTimeout, type PullOptions, type PullResult } from './options.js';
import { hubSettings } from '../hub/hub-settings.js';

/** A registry name from a file or folder name: "bert-base.onnx" -> "bert-base". */
function nameFrom(text: string, flagHint: string): string {
  const stem = text
    .replace(/\.[A-Za-z0-9_]+$/, '')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9_]+$/g, '');
  try {
    return checkName(stem);
  } catch {
    throw new ModelctlError('USAGE', `cannot make a model name from ${JSON.stringify(text)}`, {
      hint: `give one with --name, e.g. ${flagHint}`,
    });
  }
}

/** One file from a plain http(s) URL: resumable like a Hub file, checked against the length the server announced. */
export async function pullUrl(o: PullOptions, url: URL): Promise<PullResult> {
  const shown = redactUrl(url);
  let file: string;
  try {
    file = decodeURIComponent(basename(url.pathname));
  } catch {
    throw new ModelctlError('USAGE', `${shown} is not a valid URL (a malformed %-escape in its path)`, {
      hint: 'escape a literal % as %25',
    });
  }
  if (!file || file === '/' || file.includes('\\')) {
    throw new ModelctlError('USAGE', `${shown} does not name a file`, { hint: 'give the URL of the model file itself' });
  }
  const name = checkNewName(o.name ?? nameFrom(file, '--name my-model'));
  if (o.version !== undefined) checkSemverVersion(o.version);
  o.onProgress?.({ type: 'resolving', source: shown });
  let done = 0;
  let total = 0;
  const got = await downloadUrl(url, {
    tmpDir: o.registry.store.layout.tmpDir,
    ...transportWithTimeout(o, hubSettings(o.env ?? process.env, o.timeout !== undefined ? { timeout: o.timeout } : {}).timeoutMs),
    ...(o.signal ? { signal: o.signal } : {}),
    onSize: (bytes) => {
      total = bytes;
      o.onProgress?.({ type: 'resolved', source: shown, files: 1, bytes: total });
    },
    onBytes: (n) => {
      done += n;
      o.onProgress?.({ type: 'bytes', done, total: Math.max(total, done) });
    },
    ...(o.retries !== undefined ? { retries: o.retries } : {}),
    ...(o.backoff ? { backoff: o.backoff } : {}),
  });
  const fetched: FetchedFile = { path: file, origin: 'network', file: got.file };
  o.onProgress?.({ type: 'committing' });
  const committed = await commitPull({
    registry: o.registry,
    name,
    ...(o.version !== undefined ? { version: o.version } : {}),
    files: [fetched],
    single: true,
    source: { kind: 'url', url: shown, sha256: got.file.sha256 },
    display: shown,
    clock: o.clock ?? (() => new Date()),
    ...(o.signal ? { signal: o.signal } : {}),
    onWait: () => o.onProgress?.({ type: 'waiting-for-lock' }),
    idempotent: true,
  });
  return pullResult(committed, [fetched], got.received, got.resumed);
}

/** A local file or folder: the files the format reader says belong to the model, hashed as they are copied. */
export async function pullFolder(o: PullOptions, path: string): Promise<PullResult> {
  const abs = resolve(expandHome(path));
  const name = checkNewName(o.name ?? nameFrom(basename(abs), '--name my-model'));
  if (o.version !== undefined) checkSemverVersion(o.version);
  await checkOutsideHome(abs, o.registry.home);
  o.onProgress?.({ type: 'resolving', source: path });
  const inspection = await inspectModel(abs, o.signal ? { signal: o.signal } : {});
  const total = inspection.files.reduce((n, f) => n + f.size, 0);
  o.onProgress?.({ type: 'resolved', source: path, files: inspection.files.length, bytes: total });
  const fetched: FetchedFile[] = [];
  let done = 0;
  try {
    for (const f of inspection.files) {
      const file = await copyLocalFile(f.abs, {
        tmpDir: o.registry.store.layout.tmpDir,
        size: f.size,
        ...(o.signal ? { signal: o.signal } : {}),
        onBytes: (n) => {
          done += n;
          o.onProgress?.({ type: 'bytes', done, total });
        },
      });
      fetched.push({ path: f.path, origin: 'local', file });
    }
  } catch (err) {
    await discardFetched(fetched);
    throw err;
  }
  o.onProgress?.({ type: 'committing' });
  const committed = await commitPull({
    registry: o.registry,
    name,
    ...(o.version !== undefined ? { version: o.version } : {}),
    files: fetched,
    single: !(await stat(abs)).isDirectory(),
    source: { kind: 'path', path: abs },
    display: path,
    clock: o.clock ?? (() => new Date()),
    ...(o.signal ? { signal: o.signal } : {}),
    onWait: () => o.onProgress?.({ type: 'waiting-for-lock' }),
    idempotent: true,
  });
  return pullResult(committed, fetched, 0, 0);
}
