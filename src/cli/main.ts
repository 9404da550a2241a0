import { Command, CommanderError, Option, type OptionValues } from 'commander';
import { EXIT_CODES, ModelctlError, ioError } from '../errors.js';
import { VERSION } from '../version.js';
import type { CliContext, CommandModule, GlobalOptions } from './context.js';
import { GLOBAL_OPTIONS, type CommandSpec, type OptionSpec, type OptionSpecs } from './declare.js';
import { Output } from './render/output.js';
import { renderError } from './render/errors.js';
import { registerCommand } from './specs/register.js';
import { listCommand } from './specs/list.js';
import { infoCommand } from './specs/info.js';
import { rmCommand } from './specs/rm.js';
import { setCommand } from './specs/set.js';
import { tagCommand } from './specs/tag.js';
import { validateCommand } from './specs/validate.js';
import { gcCommand } from './specs/gc.js';
import { embedMetadataCommand } from './specs/embed-metadata.js';
import { predictCommand } from './specs/predict.js';
import { pullCommand } from './specs/pull.js';
import { exportCommand } from './specs/export.js';
import { benchCommand } from './specs/bench.js';
import { setupCommand } from './specs/setup.js';
import { serveCommand } from './specs/serve.js';
import { pushCommand } from './specs/push.js';

/**
 * Registers every command from its declaration (specs/) and lazy-loads the module of the one that runs, so that
 * `modelctl list` never pays for onnxruntime. This is the only place that sets the exit code.
 */

/** What argv turned into: the command, its positional arguments and options, and how to run it. */
export interface Invocation {
  name: string;
  args: string[];
  globals: GlobalOptions;
  /** The command's options, converted as its spec says (throws a usage error on a bad value). */
  options(): object;
  /** Converts the options, then loads the command's module and runs it; resolves to the exit code. */
  run(ctx: CliContext): Promise<number>;
}

/** A command: its declaration, and how to run it with what commander parsed. */
interface Entry {
  spec: CommandSpec<unknown>;
  invoke(args: string[], raw: OptionValues): Pick<Invocation, 'options' | 'run'>;
}

const optionList = (specs: object): Array<[string, OptionSpec<unknown>]> => Object.entries(specs);

/** Converts what commander parsed into typed options, once, keyed as the spec names them. */
function readOptions<O>(specs: OptionSpecs<O>, raw: OptionValues): O {
  const options: Record<string, unknown> = {};
  for (const [key, spec] of optionList(specs)) {
    const value = spec.convert(raw[new Option(spec.flags).attributeName()]);
    if (value !== undefined) options[key] = value;
  }
  // OptionSpecs<O> declares every member of O and what each converts to, so this object is an O.
  return options as O;
}

/**
 * Pairs a declaration with its module, listed by name (not a computed path) so that a bundler sees every module
 * and each one stays its own chunk. The compiler checks that the module's `run` takes the options the spec declares.
 */
function command<O extends object>(spec: CommandSpec<O>, load: () => Promise<CommandModule<NoInfer<O>>>): Entry {
  return {
    spec,
    invoke: (args, raw) => ({
      options: () => readOptions(spec.options, raw),
      run: async (ctx) => {
        // Converted before the module loads: a bad value fails fast, without loading onnxruntime.
        const options = readOptions(spec.options, raw);
        return (await load()).run(args, options, ctx);
      },
    }),
  };
}

const COMMANDS: Entry[] = [
  command(registerCommand, () => import('./commands/register.js')),
  command(listCommand, () => import('./commands/list.js')),
  command(infoCommand, () => import('./commands/info.js')),
  command(rmCommand, () => import('./commands/rm.js')),
  command(tagCommand, () => import('./commands/tag.js')),
  command(setCommand, () => import('./commands/set.js')),
  command(validateCommand, () => import('./commands/validate.js')),
  command(gcCommand, () => import('./commands/gc.js')),
  command(embedMetadataCommand, () => import('./commands/embed-metadata.js')),
  command(predictCommand, () => import('./commands/predict.js')),
  command(pullCommand, () => import('./commands/pull.js')),
  command(exportCommand, () => import('./commands/export.js')),
  command(benchCommand, () => import('./commands/bench.js')),
  command(setupCommand, () => import('./commands/setup.js')),
  command(serveCommand, () => import('./commands/serve.js')),
  command(pushCommand, () => import('./commands/push.js')),
];

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function commanderOptions(spec: OptionSpec<unknown>): Option[] {
  const option = new Option(spec.flags, spec.description);
  if (spec.default !== undefined) option.default(spec.default);
  if (spec.choices) option.choices(spec.choices);
  if (spec.required) option.makeOptionMandatory();
  if (spec.repeatable) option.argParser(collect);
  return spec.negation === undefined ? [option] : [option, new Option(`--no-${option.name()}`, spec.negation)];
}

const GLOBALS = optionList(GLOBAL_OPTIONS);

const controller = new AbortController();
let outForErrors = new Output({ json: false, verbose: false });

export type ActionHandler = (invocation: Invocation) => Promise<void>;

const runCommand: ActionHandler = async (invocation) => {
  const { globals } = invocation;
  const out = new Output({ json: globals.json, verbose: globals.verbose, color: globals.color });
  outForErrors = out;
  process.exitCode = await invocation.run({ out, options: globals, signal: controller.signal, env: process.env });
};

function addCommand(program: Command, entry: Entry, handler: ActionHandler): void {
  const { spec } = entry;
  const cmd = program.command(spec.name).description(spec.description);
  for (const alias of spec.aliases ?? []) cmd.alias(alias);
  for (const [name, description] of spec.arguments ?? []) cmd.argument(name, description);
  for (const [, option] of optionList(spec.options)) for (const o of commanderOptions(option)) cmd.addOption(o);
  // With positional options, what follows the command name is the command's alone (`register --version 1.0.0` is
  // register's --version, not the program's): the globals are given to each command too, so that
  // `modelctl list --home X` works, and listed once, in their own group of its help.
  for (const [, option] of GLOBALS) for (const o of commanderOptions(option)) cmd.addOption(o.helpGroup('Global Options:'));
  cmd.addHelpText('after', `\nExamples:\n${spec.examples.map((l) => `  $ ${l}`).join('\n')}\n`);
  cmd.action(async function (this: Command) {
    const local = this.opts();
    const before = readOptions(GLOBAL_OPTIONS, program.opts());
    const after = readOptions(GLOBAL_OPTIONS, local);
    const globals: GlobalOptions = {
      home: after.home ?? before.home,
      verbose: Boolean(before.verbose || after.verbose),
      color: before.color && after.color,
      json: local.json === true,
    };
    await handler({ name: spec.name, args: this.args, globals, ...entry.invoke(this.args, local) });
  });
}

/** Builds the program; tests pass their own handler to see what argv turns into without running anything. */
export function buildProgram(handler: ActionHandler = runCommand): Command {
  const program = new Command('modelctl')
    .description('From any ML model to a verified, self-describing ONNX artifact in a local registry, run and measured with ONNX Runtime.')
    .version(VERSION, '-V, --version')
    .enablePositionalOptions()
    .showSuggestionAfterError()
    .configureHelp({ sortSubcommands: false })
    .exitOverride();
  for (const [, option] of GLOBALS) for (const o of commanderOptions(option)) program.addOption(o);
  for (const entry of COMMANDS) addCommand(program, entry, handler);
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
      if (outForErrors.json)
        outForErrors.stdout.write(`${JSON.stringify({ error: new ModelctlError('INTERRUPTED', 'interrupted').toJSON() }, null, 2)}\n`);
      process.exitCode = EXIT_CODES.INTERRUPTED;
      return;
    }
    const shown = ioError(err);
    renderError(outForErrors, shown);
    process.exitCode = shown instanceof ModelctlError ? shown.exitCode : 70;
  }
}
