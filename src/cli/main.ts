import { Command, CommanderError, Option } from 'commander';
import { EXIT_CODES, ModelctlError, ioError } from '../errors.js';
import { VERSION } from '../version.js';
import type { CommandModule, CliContext, GlobalOptions } from './context.js';
import { Output } from './render/output.js';
import { renderError } from './render/errors.js';
import type { SpecTools } from './specs/tools.js';
import { declare as declarePull } from './specs/pull.js';
import { declare as declareExport } from './specs/export.js';
import { declare as declareBench } from './specs/bench.js';
import { declare as declareSetup } from './specs/setup.js';
import { declare as declareServe } from './specs/serve.js';

/**
 * Declares every command and lazy-loads the one that runs, so `modelctl list` never pays for onnxruntime. This is
 * the only place that sets the exit code.
 */

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/**
 * Every subcommand also takes the global options, so that they work after the command name too
 * (`modelctl list --home X`). Positional options keep `register --version` from meaning `modelctl --version`.
 */
function globalOptions(cmd: Command): Command {
  return cmd
    .option('--home <dir>', 'registry home (default: $MODELCTL_HOME, else the user data directory)')
    .option('-v, --verbose', 'show details, timings and stack traces')
    .option('--no-color', 'no colour (also NO_COLOR=1, or when output is not a terminal)');
}

function example(cmd: Command, ...lines: string[]): Command {
  return globalOptions(cmd).addHelpText('after', `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
}

/**
 * The command modules, each loaded only when its command runs. Listed by name (not a computed path) so that a
 * bundler sees every module and each one stays its own chunk.
 */
const COMMANDS: Record<string, () => Promise<unknown>> = {
  'register': () => import('./commands/register.js'),
  'list': () => import('./commands/list.js'),
  'info': () => import('./commands/info.js'),
  'rm': () => import('./commands/rm.js'),
  'tag': () => import('./commands/tag.js'),
  'validate': () => import('./commands/validate.js'),
  'gc': () => import('./commands/gc.js'),
  'embed-metadata': () => import('./commands/embed-metadata.js'),
  'predict': () => import('./commands/predict.js'),
  'pull': () => import('./commands/pull.js'),
  'export': () => import('./commands/export.js'),
  'setup': () => import('./commands/setup.js'),
  'bench': () => import('./commands/bench.js'),
  'serve': () => import('./commands/serve.js'),
};

const controller = new AbortController();
let outForErrors = new Output({ json: false, verbose: false });

/** What a command's action receives: its name, positional arguments, and all options (globals merged in). */
export type ActionHandler = (name: string, args: string[], options: GlobalOptions & Record<string, unknown>) => Promise<void>;

const runCommand: ActionHandler = async (name, args, options) => {
  const out = new Output({ json: Boolean(options.json), verbose: Boolean(options.verbose), color: options.color });
  outForErrors = out;
  const ctx: CliContext = { out, options, signal: controller.signal, env: process.env };
  const load = COMMANDS[name];
  if (!load) throw new ModelctlError('USAGE', `unknown command: ${name}`);
  const mod = (await load()) as CommandModule;
  process.exitCode = await mod.run(args, options, ctx);
};

/** Builds the program; tests pass their own handler to see what argv turns into without running anything. */
export function buildProgram(handler: ActionHandler = runCommand): Command {
  const action = (name: string) => async (...args: unknown[]): Promise<void> => {
    const cmd = args.at(-1) as Command;
    const positional = (args.slice(0, -2) as Array<string | string[] | undefined>).flat().filter((a): a is string => a !== undefined);
    const globals = cmd.optsWithGlobals<GlobalOptions>();
    const local = cmd.opts<GlobalOptions>();
    await handler(name, positional, {
      ...globals,
      ...local,
      home: local.home ?? globals.home,
      verbose: Boolean(local.verbose || globals.verbose),
      color: globals.color !== false && local.color !== false,
    });
  };
  const program = new Command('modelctl')
    .description('From any ML model to a verified, self-describing ONNX artifact in a local registry, run and measured with ONNX Runtime.')
    .version(VERSION, '-V, --version')
    .option('--home <dir>', 'registry home (default: $MODELCTL_HOME, else the user data directory)')
    .option('-v, --verbose', 'show details, timings and stack traces')
    .option('--no-color', 'no colour (also NO_COLOR=1, or when output is not a terminal)')
    .enablePositionalOptions()
    .showSuggestionAfterError()
    .configureHelp({ sortSubcommands: false, showGlobalOptions: true })
    .exitOverride();

  example(
    program.command('register').description('add a model file or folder to the registry as a new version')
      .argument('<path>', 'a model file or folder (ONNX, safetensors, PyTorch, pickle/joblib, Keras, SavedModel, XGBoost, LightGBM, HF folder)')
      .requiredOption('--name <name>', 'model name, e.g. my-model or org/my-model')
      .option('--version <version>', 'version (default: next patch of the highest, starting at 1.0.0)')
      .option('--task <task>', 'task, e.g. text-classification (default: detected from the files)')
      .option('--tag <key=value>', 'a tag (repeatable)', collect)
      .option('--metric <key=value>', 'a numeric metric (repeatable)', collect)
      .option('--alias <alias>', 'point an alias at the new version (repeatable)', collect)
      .option('--description <text>', 'free-text description')
      .option('--license <license>', 'license identifier, e.g. apache-2.0')
      .option('--no-latest', 'do not move the latest alias to the new version')
      .option('--json', 'print the manifest as JSON'),
    'modelctl register ./model.onnx --name iris --tag team=ml --metric accuracy=0.97',
    'modelctl register ./bert-folder --name org/bert --version 2.0.0 --alias staging',
  ).action(action('register'));

  example(
    program.command('list').alias('ls').description('list model versions')
      .option('--name <name>', 'only this model (a glob with * is allowed: "org/*")')
      .option('--task <task>', 'only this task')
      .option('--format <format>', 'only this format (onnx, safetensors, pytorch, ...)')
      .option('--tag <key=value>', 'only versions with this tag (repeatable; a bare key matches any value)', collect)
      .option('--json', 'print JSON'),
    'modelctl list', 'modelctl list --format onnx --tag team=ml --json',
  ).action(action('list'));

  example(
    program.command('info').description('show a model version (files, metadata, lineage, aliases), or a model file or folder on disk')
      .argument('<ref>', 'name, name:version, name@alias, or a path (./model.onnx)')
      .option('--json', 'print JSON'),
    'modelctl info iris', 'modelctl info org/bert@production --json', 'modelctl info ./model.onnx',
  ).action(action('info'));

  example(
    program.command('rm').description('remove a model version (or all versions) and free the blobs nothing else uses')
      .argument('<ref>', 'name:version, name@alias, or a name with --all-versions')
      .option('--all-versions', 'remove every version of the model')
      .option('-y, --yes', 'do not ask for confirmation')
      .option('--json', 'print JSON'),
    'modelctl rm iris:1.0.0 --yes', 'modelctl rm org/bert --all-versions',
  ).action(action('rm'));

  example(
    program.command('tag').description('point an alias at a version, or remove an alias')
      .argument('<ref>', 'name:version to tag (with --remove: the model name)')
      .argument('<alias>', 'alias, e.g. production')
      .option('--remove', 'remove the alias instead')
      .option('--json', 'print JSON'),
    'modelctl tag iris:1.0.2 production', 'modelctl tag iris production --remove',
  ).action(action('tag'));

  example(
    program.command('validate').description('re-hash every blob and check manifests, aliases and ONNX files (exit 1 on problems)')
      .argument('[ref]', 'check only this model or version')
      .option('--strict', 'also fail on garbage: orphan blobs and stale temporary files')
      .option('--json', 'print JSON'),
    'modelctl validate', 'modelctl validate iris:1.0.0 --json',
  ).action(action('validate'));

  example(
    program.command('gc').description('evict least-recently-used versions and remove unreferenced blobs and stale temporary files')
      .option('--max-size <size>', 'evict versions until the registry fits, e.g. 20GB')
      .option('--max-models <n>', 'keep at most this many model versions')
      .option('--older-than <duration>', 'evict versions unused for this long, e.g. 30d')
      .addOption(new Option('--keep-aliased', 'never evict a version an alias (other than latest) points at').default(true))
      .option('--no-keep-aliased', 'let aliased versions be evicted too')
      .option('--grace <duration>', 'leave temporary files younger than this (default 1h)')
      .option('--dry-run', 'show what would be removed, remove nothing')
      .option('--json', 'print JSON'),
    'modelctl gc', 'modelctl gc --max-size 20GB --older-than 30d --dry-run',
  ).action(action('gc'));

  example(
    program.command('embed-metadata').description('embed what a runtime needs (model config, processor config, task) into an ONNX file (schema 2.0)')
      .argument('<model>', 'an ONNX file, or a registry model (a new version is created; blobs are never changed)')
      .option('--task <task>', 'pipeline task (default: detected from config.json or the graph)')
      .option('--config <file>', 'config.json to embed')
      .option('--processor <file|dir>', 'a processor/tokenizer JSON file, or a folder holding them')
      .option('--from-dir <dir>', 'an HF folder: config.json and processor files (default: the model\'s own folder or registered files)')
      .option('--features <names>', 'feature names in input order, comma-separated (tabular models)')
      .option('--set <key=value>', 'another metadata property (repeatable)', collect)
      .option('--out <file>', 'write here (default for a file: replace it atomically)')
      .option('--version <version>', 'version of the new registry version (default: next patch)')
      .option('--verify', 'for a registry model: re-hash its files before reading them')
      .option('--json', 'print JSON'),
    'modelctl embed-metadata ./onnx/model.onnx --from-dir ./bert-folder',
    'modelctl embed-metadata iris --task tabular-classification --features sepal_length,sepal_width,petal_length,petal_width',
  ).action(action('embed-metadata'));

  example(
    program.command('predict').description('run a model with ONNX Runtime: tables (tabular-classification/-regression), texts (text-classification, token-classification, feature-extraction), questions (question-answering), images (image-classification, object-detection) or raw tensors')
      .argument('<model>', 'a registry model (name[:version|@alias]) or an ONNX file')
      .argument('[values...]', 'rows as comma-separated numbers (5.1,3.5,1.4,0.2), texts for a text model, or image files for an image model')
      .option('--input <json>', 'rows ([[...]], [{"feature": v}]), texts ("text", ["text", ...]) or named tensors ({"NAME": [[...]]} or {"NAME": {"dims", "data", "type"}})')
      .option('--file <file>', 'a .csv (with header), .jsonl, .json or .npy file; texts: .txt (one per line) or .jsonl ({"text": ...}); - reads stdin; an image file (PNG, JPEG, WebP...) for an image model')
      .option('--task <task>', 'tabular-classification, tabular-regression, text-classification, token-classification, feature-extraction, question-answering, image-classification, object-detection or raw (default: embedded metadata, then the registry, then the files beside the model)')
      .option('--batch-size <n>', 'texts or images per ONNX Runtime run (default 32)')
      .option('--top-k <k>', 'text- and image-classification: the K best labels per input (default: all with --json, the best one in the table)')
      .option('--normalize', 'feature-extraction: unit-length embeddings (default: on when modules.json has a Normalize module)')
      .option('--no-normalize', 'feature-extraction: the mean-pooled embeddings as they are')
      .option('--aggregation <strategy>', 'token-classification: none (every token not tagged O), simple (B-/I- runs grouped), first or max (word pieces merged first)')
      .option('--conf <p>', 'object-detection: the minimum score of a detection', '0.25')
      .option('--iou <p>', 'object-detection: the IoU above which NMS drops the lower-scored box of the same class', '0.45')
      .option('--question <text>', 'question-answering: the question (with --context)')
      .option('--context <text>', 'question-answering: the text holding the answer (with --question)')
      .option('--device <device>', 'cpu, cuda or cuda:N', 'cpu')
      .option('--fallback <device>', 'run on this device if --device cannot be used (only cpu)')
      .option('--threads <n>', 'intra-op threads (default: ONNX Runtime chooses)')
      .option('--optimization <level>', 'graph optimization: disabled, basic, extended, all', 'all')
      .option('--fail-fast', 'streams (.jsonl, .csv, .txt, stdin): stop at the first bad record instead of reporting it and going on')
      .option('--verify', 're-hash the registry model\'s files before use (default: re-hash only those whose size, mtime or inode changed)')
      .option('--json', 'print JSON: one document, or JSON Lines ({"line": N, ...}) for a stream (the default when stdout is not a terminal)')
      .option('--table', 'print the table even when stdout is not a terminal'),
    'modelctl predict iris 5.1,3.5,1.4,0.2 6.3,3.3,6.0,2.5',
    'modelctl predict ./model.onnx --input \'{"input": [[5.1, 3.5, 1.4, 0.2]]}\' --json',
    'modelctl predict iris --file rows.csv --device cuda --fallback cpu',
    'cat rows.jsonl | modelctl predict iris --file - > predictions.jsonl',
    'modelctl predict ./bert/model.onnx "the model was great" "it crashed" --top-k 2',
    'modelctl predict embedder --file sentences.txt --normalize --json',
    'modelctl predict ./vit/model.onnx cat.jpg dog.png --top-k 3',
    'modelctl predict ./ner/model.onnx "Alice lives in Paris" --aggregation simple',
    'modelctl predict ./qa/model.onnx --question "who lives in Paris?" --context "Alice lives in Paris."',
    'modelctl predict ./yolov8n.onnx street.jpg --conf 0.5 --iou 0.45',
  ).action(action('predict'));

  const tools: SpecTools = { action, example, collect };
  for (const declare of [declarePull, declareExport, declareBench, declareSetup, declareServe]) declare(program, tools);
  return program;
}

export async function run(argv: string[]): Promise<void> {
  // `modelctl list | head`: a reader that went away is not an error; stop quietly as other Unix tools do.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
  // Ctrl-C, and SIGTERM from a supervisor or CI's timeout: commands stop their children and clean up; a second
  // signal exits at once.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      controller.abort(new ModelctlError('INTERRUPTED', 'interrupted'));
      process.once(signal, () => process.exit(EXIT_CODES.INTERRUPTED));
    });
  }
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // `modelctl` alone prints help but is a usage error (commander gives it exit code 1); --help is a success.
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_CODES.USAGE;
      return;
    }
    if (controller.signal.aborted && !(err instanceof ModelctlError && err.code !== 'INTERRUPTED')) {
      outForErrors.stderr.write('interrupted\n');
      if (outForErrors.json) outForErrors.stdout.write(`${JSON.stringify({ error: new ModelctlError('INTERRUPTED', 'interrupted').toJSON() }, null, 2)}\n`);
      process.exitCode = EXIT_CODES.INTERRUPTED;
      return;
    }
    const shown = ioError(err);
    renderError(outForErrors, shown);
    process.exitCode = shown instanceof ModelctlError ? shown.exitCode : 70;
  }
}
