import { planPull, pull, type PullDryRun, type PullEvent, type PullOptions, type PullResult } from '../../pull/pull.js';
import { formatBytes } from '../../util/units.js';
import { openRegistry, type CliContext } from '../context.js';
import { credentialsFrom } from '../registry-login.js';
import { startByteProgress } from '../render/progress-bar.js';
import { renderTable } from '../render/table.js';
import type { PullFlags } from '../specs/pull.js';

function summary(r: PullResult): string {
  const by = (from: string) => r.files.filter((f) => f.from === from);
  const parts = [
    by('network').length ? `${by('network').length} downloaded (${formatBytes(r.downloadedBytes)})` : '',
    by('hf-cache').length ? `${by('hf-cache').length} from the HF cache` : '',
    by('store').length ? `${by('store').length} already stored` : '',
    by('local').length ? `${by('local').length} copied` : '',
  ].filter(Boolean);
  return parts.join(', ');
}

function dryRun(r: PullDryRun, out: CliContext['out']): void {
  out.result(r, () => {
    const c = out.c;
    const rows = r.files.map((f) => [
      f.path,
      formatBytes(f.size),
      f.have === 'store' ? 'in the registry' : f.have === 'hf-cache' ? 'in the HF cache' : 'download',
    ]);
    return [
      `${c.bold('Dry run')} ${r.source} (${r.commit.slice(0, 7)}) -> ${r.ref}${r.registered ? ' (already registered)' : ''}`,
      renderTable(c, ['FILE', 'SIZE', 'SOURCE'], rows),
      `${r.files.length} file(s), ${formatBytes(r.toDownload)} to download; nothing was downloaded or registered`,
    ].join('\n');
  });
}

/** The lines about --local-dir and --hf-cache. */
function writtenOut(r: PullResult): string[] {
  const lines: string[] = [];
  if (r.localDir)
    lines.push(`local dir: ${r.localDir.dir} (${r.localDir.written.length} written, ${r.localDir.same.length} already there)`);
  if (r.hfCache)
    lines.push(
      `HF cache: ${r.hfCache.dir} (${r.hfCache.written.length} blob(s) written${r.hfCache.replaced.length ? `, ${r.hfCache.replaced.length} damaged one(s) replaced` : ''})`,
    );
  return lines;
}

export async function run([source = '', ...files]: string[], options: PullFlags, ctx: CliContext): Promise<number> {
  const { out } = ctx;
  const credentials = await credentialsFrom(options);
  const registry = openRegistry(ctx);
  const request: PullOptions = {
    source,
    registry,
    ...(files.length > 0 ? { files } : {}),
    ...(options.revision !== undefined ? { revision: options.revision } : {}),
    ...(options.repoType !== undefined ? { repoType: options.repoType } : {}),
    ...(options.include !== undefined ? { include: options.include } : {}),
    ...(options.exclude !== undefined ? { exclude: options.exclude } : {}),
    ...(options.name !== undefined ? { name: options.name } : {}),
    ...(options.version !== undefined ? { version: options.version } : {}),
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
    ...(options.token !== undefined ? { token: options.token } : {}),
    ...(options.offline ? { offline: true } : {}),
    ...(credentials ? { credentials } : {}),
    ...(options.insecure ? { insecure: true } : {}),
    ...(options.localDir !== undefined ? { localDir: options.localDir } : {}),
    ...(options.force ? { force: true } : {}),
    ...(options.hfCache ? { hfCache: true } : {}),
    ...(options.forceDownload ? { forceDownload: true } : {}),
    ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
    concurrency: options.concurrency,
    env: ctx.env,
    signal: ctx.signal,
  };
  if (options.dryRun) {
    dryRun(await planPull(request), out);
    return 0;
  }
  const progress = startByteProgress(out, { force: options.progress === true });
  const onProgress = (e: PullEvent): void => {
    if (e.type === 'resolving') progress.status(`Resolving ${e.source}`);
    else if (e.type === 'resolved') {
      progress.status(`Pulling ${e.source}${e.commit ? ` (${e.commit.slice(0, 7)})` : ''}`);
      out.debug(`${e.source}: ${e.files} file(s), ${formatBytes(e.bytes)}${e.commit ? `, commit ${e.commit}` : ''}`);
    } else if (e.type === 'bytes') progress.bytes(e.done, e.total);
    else if (e.type === 'committing') progress.status('Registering');
    else if (e.type === 'waiting-for-lock') progress.status('Waiting for another modelctl process');
  };
  let result: PullResult;
  try {
    result = await pull({ ...request, onProgress });
  } finally {
    progress.stop();
  }
  for (const w of result.warnings) out.warn(w);
  if (result.skippedWeights.length > 0) out.debug(`left out (another weight format was taken): ${result.skippedWeights.join(', ')}`);
  const m = result.manifest;
  out.result(result, () => {
    const c = out.c;
    const ref = c.bold(`${m.name}:${m.version}`);
    if (result.upToDate)
      return [
        `${c.green('Up to date')} ${ref} (${m.files.length} file${m.files.length === 1 ? '' : 's'}, ${formatBytes(m.size)})${result.aliases.length ? `\naliases: ${result.aliases.join(', ')}` : ''}`,
        ...writtenOut(result),
      ].join('\n');
    const lines = [
      `${c.green('Pulled')} ${ref} (${m.format}${m.task ? `, ${m.task}` : ''}, ${m.files.length} file${m.files.length === 1 ? '' : 's'}, ${formatBytes(m.size)}; ${summary(result)})`,
    ];
    if (result.aliases.length > 0) lines.push(`aliases: ${result.aliases.join(', ')}`);
    if (result.skippedWeights.length > 0)
      lines.push(`left out ${result.skippedWeights.length} file(s) of other weight formats (take them with --include)`);
    if (m.metadata.pickle === true) lines.push(c.yellow('note: pickle-based: loading it runs code; only use files you trust'));
    return [...lines, ...writtenOut(result)].join('\n');
  });
  return 0;
}
