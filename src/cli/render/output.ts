import { Chalk, type ChalkInstance } from 'chalk';

export interface OutputOptions {
  json: boolean;
  verbose: boolean;
  color?: boolean;
  stdout?: NodeJS.WritableStream & { isTTY?: boolean };
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
  env?: NodeJS.ProcessEnv;
}

/** Colour only for a person at a terminal: off with NO_COLOR, --no-color, a non-TTY stream or TERM=dumb. */
export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv, flag: boolean | undefined): boolean {
  if (flag === false) return false;
  if (env.FORCE_COLOR && env.FORCE_COLOR !== '0') return true;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

/**
 * Everything the CLI writes goes through here: the result on stdout (a JSON document with --json, text
 * otherwise), everything else (progress, warnings, errors) on stderr.
 */
export class Output {
  readonly json: boolean;
  readonly verbose: boolean;
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Colours for stdout text. */
  readonly c: ChalkInstance;
  /** Colours for stderr text. */
  readonly ce: ChalkInstance;
  readonly interactive: boolean;

  constructor(options: OutputOptions) {
    const env = options.env ?? process.env;
    this.json = options.json;
    this.verbose = options.verbose;
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
    this.c = new Chalk({ level: colorEnabled(this.stdout, env, options.color) ? 1 : 0 });
    this.ce = new Chalk({ level: colorEnabled(this.stderr, env, options.color) ? 1 : 0 });
    // Spinners follow the same switches as colour (DESIGN: NO_COLOR and a non-TTY turn off colour and spinners).
    this.interactive = env.CI === undefined && colorEnabled(this.stderr, { ...env, FORCE_COLOR: undefined }, options.color);
  }

  /** The same output with JSON on or off (predict chooses JSON by itself when stdout is not a terminal). */
  withJson(json: boolean): Output {
    if (json === this.json) return this;
    return Object.assign(Object.create(Output.prototype) as Output, this, { json });
  }

  /** The command's result: `data` as JSON with --json, else the human text. */
  result(data: unknown, human: () => string): void {
    if (this.json) this.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
    else {
      const text = human();
      if (text) this.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    }
  }

  warn(message: string): void {
    this.stderr.write(`${this.ce.yellow('warning:')} ${message}\n`);
  }

  note(message: string): void {
    this.stderr.write(`${message}\n`);
  }

  debug(message: string): void {
    if (this.verbose) this.stderr.write(`${this.ce.dim(message)}\n`);
  }
}
