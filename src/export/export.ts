import { copyFile, mkdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { FRAMEWORK_FAMILY, type Family, type Framework } from '../convert/families.js';
import { findPython, runConverter, type ConverterEvent, type Interpreter } from '../convert/run.js';
import { ModelctlError, fsError } from '../errors.js';
import { inspectModel } from '../formats/index.js';
import { ingestFile, type IngestedFile } from '../registry/blobs.js';
import { commitVersion } from '../registry/commit.js';
import { buildMetadata } from '../registry/inspection-metadata.js';
import type { Registry } from '../registry/index.js';
import type { Lineage, Manifest } from '../registry/manifest.js';
import { checkNewName, checkNewVersion } from '../registry/names.js';
import { tempName } from '../registry/fsutil.js';
import { expandHome } from '../util/paths.js';
import { embedMetadata } from '../embed-metadata/embed-metadata.js';
import { resolveSource } from './source.js';

export interface ExportOptions {
  /** A registry reference or a path (file or folder). */
  source: string;
  registry: Registry;
  framework?: Framework | 'auto';
  task?: string;
  opset?: number;
  atol?: number;
  validate?: boolean;
  optimize?: 'O1' | 'O2' | 'O3';
  quantize?: 'int8' | 'fp16';
  sampleInput?: string;
  /** PyTorch: the input shapes to trace with (random float32) when no --sample-input is given. */
  inputShapes?: string[];
  /** PyTorch state_dict: FILE.py:ClassName of the module to load it into. */
  modelClass?: string;
  name?: string;
  version?: string;
  /** Also write the ONNX file here. */
  out?: string;
  trustRemoteCode?: boolean;
  /** For a registry source: re-hash its files before converting them, whatever their fingerprints say. */
  verify?: boolean;
  /** The interpreter (--python); else MODELCTL_PYTHON, the managed environment, python3. */
  python?: string;
  env?: NodeJS.ProcessEnv;
  onProgress?: (event: ExportEvent) => void;
  /** The converter's own log lines (stderr). */
  onLog?: (line: string) => void;
  signal?: AbortSignal;
  clock?: () => Date;
}

export type ExportEvent =
  | { type: 'source'; framework: Framework; family: Family; format: string; path: string }
  | { type: 'python'; python: string; source: Interpreter['source'] }
  | { type: 'converter'; stage: string; message: string }
  | { type: 'warning'; message: string }
  | { type: 'registering'; name: string };

export interface Validation {
  max_abs_diff: number;
  atol: number;
  passed: boolean;
  samples: number;
  outputs: Record<string, number>;
  labels_equal?: boolean;
}

export interface ExportResult {
  manifest: Manifest;
  framework: Framework;
  converter: { name: string; version: string };
  opset: Record<string, number>;
  task: string | null;
  validation: Validation | null;
  python: Interpreter;
  out?: string;
  warnings: string[];
}

function converterArgs(o: ExportOptions, framework: Framework, sourcePath: string, outFile: string): string[] {
  const args = ['--framework', framework, '--source', sourcePath, '--out', outFile, '--atol', String(o.atol ?? 1e-4)];
  if (o.task) args.push('--task', o.task);
  if (o.opset !== undefined) args.push('--opset', String(o.opset));
  if (o.validate === false) args.push('--no-validate');
  if (o.optimize) args.push('--optimize', o.optimize);
  if (o.quantize) args.push('--quantize', o.quantize);
  if (o.sampleInput) args.push('--sample-input', resolve(expandHome(o.sampleInput)));
  for (const shape of o.inputShapes ?? []) args.push('--input-shape', shape);
  if (o.modelClass)
    args.push(
      '--model-class',
      o.modelClass.replace(/^(.*):/, (_, file: string) => `${resolve(expandHome(file))}:`),
    );
  if (o.trustRemoteCode) args.push('--trust-remote-code');
  return args;
}

/** The converter's onnx_parts ({role: file name}), when the model is several ONNX files. */
function partsOf(value: unknown): Record<string, string> | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const entries = Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string' && !e[1].includes('/'));
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}

/** --out FILE, or a folder to hold model.onnx; a model of several files goes into the folder under their names. */
async function writeOut(files: string[], target: string): Promise<void> {
  const out = resolve(expandHome(target));
  const folder = (await stat(out).catch(() => undefined))?.isDirectory() || /[\\/]$/.test(target) || files.length > 1;
  try {
    for (const file of files) {
      const to = folder ? join(out, files.length > 1 ? basename(file) : 'model.onnx') : out;
      await mkdir(dirname(to), { recursive: true });
      await copyFile(file, to);
    }
  } catch (err) {
    throw fsError(err, out);
  }
}

/**
 * A model of several files needs a folder for --out: a path named like one file (x/model.onnx) that is not a folder
 * is refused before anything is registered, rather than made into a folder of that name.
 */
async function checkOutFolder(target: string, files: string[]): Promise<void> {
  const out = resolve(expandHome(target));
  if (!/\.onnx$/i.test(target) || (await stat(out).catch(() => undefined))?.isDirectory()) return;
  throw new ModelctlError(
    'USAGE',
    `the model exports as ${files.length} files (${files.join(', ')}): --out takes a folder, not ${target}`,
    {
      hint: `give the folder to write them into, e.g. --out ${dirname(target)}; nothing was registered`,
    },
  );
}

/**
 * Converts a model to ONNX with the real Python converter of its framework (in a child process), validates it
 * against the source framework, embeds the metadata predict needs (task, config, tokenizer, feature names) and
 * registers it as a new version whose lineage names the source and its digest, the converter, the opset and the
 * options. Nothing is registered when any step fails.
 */

export async function exportModel(o: ExportOptions): Promise<ExportResult> {
  const env = o.env ?? process.env;
  if (o.version !== undefined) checkNewVersion(o.version);
  if (o.name !== undefined) checkNewName(o.name);
  const source = await resolveSource(o.source, o.registry, o.framework ?? 'auto', o.signal, o.verify === true);
  const family = FRAMEWORK_FAMILY[source.framework];
  o.onProgress?.({ type: 'source', framework: source.framework, family, format: source.inspection.format, path: source.path });
  const name = o.name ?? source.defaultName;
  if (!name) throw new ModelctlError('USAGE', 'say what to call the exported model: --name NAME', { hint: 'e.g. --name iris-onnx' });
  checkNewName(name);
  const interp = await findPython({ family, env, root: join(o.registry.home, 'python'), ...(o.python ? { python: o.python } : {}) });
  o.onProgress?.({ type: 'python', python: interp.python, source: interp.source });

  // Inside the registry's tmp/: what a killed export leaves is swept by gc like any other temporary file.
  const work = join(o.registry.store.layout.tmpDir, tempName('export'));
  await mkdir(work, { recursive: true });
  const warnings: string[] = [];
  try {
    const outFile = join(work, 'onnx', 'model.onnx');
    const r = await runConverter({
      python: interp.python,
      family,
      env,
      args: converterArgs(o, source.framework, source.path, outFile),
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.onLog ? { onStderr: o.onLog } : {}),
      onEvent: (ev: ConverterEvent) => {
        if (ev.event === 'progress') o.onProgress?.({ type: 'converter', stage: ev.stage, message: ev.message });
        if (ev.event === 'warning') {
          warnings.push(ev.message);
          o.onProgress?.({ type: 'warning', message: ev.message });
        }
      },
    });
    const task = (r.task as string | null | undefined) ?? null;
    // An encoder-decoder model comes as several files (onnx_parts, by role); the converter names the primary one
    // (the encoder), which carries the metadata: predict reads it there and finds the other parts by role.
    const parts = partsOf(r.onnx_parts);
    const primaryFile = typeof r.onnx === 'string' && parts ? r.onnx : outFile;
    const features = Array.isArray(r.features) ? (r.features as unknown[]).map(String) : undefined;
    // The converter's folder holds config.json and the tokenizer files beside an HF export: they are embedded too.
    const embedded = await embedMetadata({
      model: primaryFile,
      ...(task && task !== 'raw' ? { task } : {}),
      ...(features ? { features } : {}),
      ...(o.clock ? { clock: o.clock } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    const finalTask = embedded.task?.task ?? task;
    if (parts && o.out) await checkOutFolder(o.out, Object.values(parts));
    o.onProgress?.({ type: 'registering', name });
    const manifest = await register(o, source, name, join(work, 'onnx'), finalTask, r, warnings);
    // --out only once the version is registered: a refused registration writes nothing.
    if (o.out) await writeOut(parts ? Object.values(parts).map((p) => join(work, 'onnx', p)) : [outFile], o.out);
    return {
      manifest,
      framework: source.framework,
      converter: { name: String(r.converter), version: String(r.converter_version) },
      opset: (r.opset ?? {}) as Record<string, number>,
      task: finalTask,
      validation: (r.validation ?? null) as Validation | null,
      python: interp,
      ...(o.out ? { out: resolve(expandHome(o.out)) } : {}),
      warnings,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function register(
  o: ExportOptions,
  source: Awaited<ReturnType<typeof resolveSource>>,
  name: string,
  dir: string,
  task: string | null,
  r: Record<string, unknown>,
  warnings: string[],
): Promise<Manifest> {
  const inspection = await inspectModel(dir, o.signal ? { signal: o.signal } : {});
  const ingested: Array<{ path: string; file: IngestedFile }> = [];
  try {
    for (const f of inspection.files)
      ingested.push({ path: f.path, file: await ingestFile(o.registry.store.layout, f.abs, undefined, o.signal) });
    const options = {
      framework: source.framework,
      ...(o.task ? { task: o.task } : {}),
      ...(o.opset !== undefined ? { opset: o.opset } : {}),
      atol: o.atol ?? 1e-4,
      validate: o.validate !== false,
      ...(o.optimize ? { optimize: o.optimize } : {}),
      ...(o.quantize ? { quantize: o.quantize } : {}),
      ...(o.sampleInput ? { sampleInput: o.sampleInput } : {}),
      ...(o.inputShapes?.length ? { inputShapes: o.inputShapes } : {}),
      ...(o.modelClass ? { modelClass: o.modelClass } : {}),
      ...(o.trustRemoteCode ? { trustRemoteCode: true } : {}),
    };
    const lineage: Omit<Lineage, 'tool'> & Record<string, unknown> = {
      operation: 'export',
      source: source.lineage,
      ...(source.manifest ? { parent: `${source.manifest.name}:${source.manifest.version}` } : {}),
      converter: { name: r.converter, version: r.converter_version, framework: r.framework, frameworkVersion: r.framework_version },
      opset: r.opset,
      options,
    };
    const validation = r.validation as Validation | null | undefined;
    const committed = await commitVersion(
      o.registry.store,
      {
        name,
        ...(o.version !== undefined ? { version: o.version } : {}),
        format: 'onnx',
        task,
        files: ingested,
        metadata: {
          ...buildMetadata(inspection),
          ...(validation ? { validation } : {}),
          ...(warnings.length ? { exportWarnings: warnings } : {}),
        },
        tags: {},
        metrics: validation ? { 'export.max_abs_diff': validation.max_abs_diff } : {},
        ...(source.manifest?.license !== undefined ? { license: source.manifest.license } : {}),
        lineage,
        aliases: [],
        latest: true,
      },
      { clock: o.clock ?? (() => new Date()), lock: { purpose: `export ${name}` }, ...(o.signal ? { signal: o.signal } : {}) },
    );
    return committed.manifest;
  } finally {
    for (const { file } of ingested) await rm(file.tmpPath, { force: true }).catch(() => {});
  }
}
