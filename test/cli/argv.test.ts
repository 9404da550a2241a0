import { describe, expect, it } from 'vitest';
import { CommanderError, type Command } from 'commander';
import { parseArgv as parse } from './parse.js';
import { buildProgram } from '../../src/cli/main.js';
import { ModelctlError } from '../../src/errors.js';

const DAY_MS = 86_400_000;

function helpOf(c: Command): string {
  let help = '';
  c.configureOutput({ writeOut: (s) => (help += s) });
  c.outputHelp();
  return help;
}

describe('argv to options', () => {
  it.each([
    [
      [
        'register',
        './m.onnx',
        '--name',
        'org/m',
        '--version',
        '1.2.0',
        '--tag',
        'a=1',
        '--tag',
        'b=2',
        '--metric',
        'acc=0.9',
        '--alias',
        'prod',
        '--json',
      ],
      {
        name: 'register',
        args: ['./m.onnx'],
        options: {
          name: 'org/m',
          version: '1.2.0',
          tags: { a: '1', b: '2' },
          metrics: { acc: 0.9 },
          aliases: ['prod'],
          json: true,
          latest: true,
        },
      },
    ],
    [['register', 'm.onnx', '--name', 'm', '--no-latest'], { name: 'register', args: ['m.onnx'], options: { name: 'm', latest: false } }],
    [
      ['list', '--format', 'onnx', '--tag', 'team=ml', '--home', '/h'],
      { name: 'list', args: [], options: { format: 'onnx', tags: ['team=ml'], home: '/h' } },
    ],
    [['--home', '/h', 'ls'], { name: 'list', args: [], options: { home: '/h' } }],
    [['info', 'm@prod', '--json'], { name: 'info', args: ['m@prod'], options: { json: true } }],
    [['rm', 'm', '--all-versions', '-y'], { name: 'rm', args: ['m'], options: { allVersions: true, yes: true } }],
    [['tag', 'm', 'prod', '--remove'], { name: 'tag', args: ['m', 'prod'], options: { remove: true } }],
    [
      ['set', 'm:1.0.0', '--tag', 'a=1', '--untag', 'b', '--metric', 'acc=0.5', '--unmetric', 'f1', '--clear-description'],
      {
        name: 'set',
        args: ['m:1.0.0'],
        options: { tags: { a: '1' }, untag: ['b'], metrics: { acc: 0.5 }, unmetric: ['f1'], clearDescription: true },
      },
    ],
    [['validate'], { name: 'validate', args: [], options: {} }],
    [['validate', 'm:1.0.0', '--strict'], { name: 'validate', args: ['m:1.0.0'], options: { strict: true } }],
    [
      ['gc', '--max-size', '20GB', '--max-models', '5', '--older-than', '30d', '--no-keep-aliased', '--dry-run'],
      { name: 'gc', args: [], options: { maxSize: 20e9, maxModels: 5, olderThanMs: 30 * DAY_MS, keepAliased: false, dryRun: true } },
    ],
    [['gc'], { name: 'gc', args: [], options: { keepAliased: true } }],
    [['-v', 'list', '--no-color'], { name: 'list', args: [], options: { verbose: true, color: false } }],
    // Global options after the command name, and on either side of it.
    [['list', '-v', '--no-color', '--home', '/h'], { name: 'list', args: [], options: { verbose: true, color: false, home: '/h' } }],
    [
      ['register', 'm.onnx', '--home', '/h', '--name', 'm', '--verbose'],
      { name: 'register', args: ['m.onnx'], options: { home: '/h', verbose: true } },
    ],
    [['--no-color', 'info', 'm', '--verbose'], { name: 'info', args: ['m'], options: { color: false, verbose: true } }],
    [['--home', '/before', 'validate', '--home', '/after'], { name: 'validate', args: [], options: { home: '/after' } }],
    [['predict', 'm', '1,2', '--home', '/h', '-v'], { name: 'predict', args: ['m', '1,2'], options: { home: '/h', verbose: true } }],
    // After the command name, --version is the command's own option, not the program's.
    [['register', 'm.onnx', '--name', 'm', '--version', '2.0.0'], { name: 'register', args: ['m.onnx'], options: { version: '2.0.0' } }],
    [['pull', 'hf:org/m', '--version', 'v1'], { name: 'pull', args: ['hf:org/m'], options: { version: 'v1' } }],
    // Typed values: converted once, defaults included.
    [['register', 'm.onnx', '--name', 'm'], { name: 'register', args: ['m.onnx'], options: { tags: {}, metrics: {}, latest: true } }],
    [
      ['predict', 'm', '1,2', '3,4'],
      { name: 'predict', args: ['m', '1,2', '3,4'], options: { conf: 0.25, iou: 0.45, device: { kind: 'cpu' }, optimization: 'all' } },
    ],
    [
      [
        'predict',
        'm',
        '--file',
        'x.jsonl',
        '--threads',
        '4',
        '--batch-size',
        '8',
        '--top-k',
        '2',
        '--device',
        'cuda:1',
        '--fallback',
        'cpu',
        '--no-normalize',
        '--conf',
        '0.5',
        '--optimization',
        'basic',
        '--fail-fast',
      ],
      {
        name: 'predict',
        args: ['m'],
        options: {
          file: 'x.jsonl',
          threads: 4,
          batchSize: 8,
          topK: 2,
          device: { kind: 'cuda', deviceId: 1 },
          fallback: 'cpu',
          normalize: false,
          conf: 0.5,
          optimization: 'basic',
          failFast: true,
        },
      },
    ],
    [
      [
        'predict',
        'gpt2',
        'Once upon a time',
        '--max-new-tokens',
        '40',
        '--temperature',
        '0.8',
        '--top-p',
        '0.9',
        '--seed',
        '7',
        '--repetition-penalty',
        '1.2',
        '--stop',
        'User:',
        '--stop',
        '\n\n',
        '--no-sample',
      ],
      {
        name: 'predict',
        args: ['gpt2', 'Once upon a time'],
        options: {
          maxNewTokens: 40,
          temperature: 0.8,
          topP: 0.9,
          seed: 7,
          repetitionPenalty: 1.2,
          stop: ['User:', '\n\n'],
          sample: false,
          conf: 0.25,
          iou: 0.45,
          device: { kind: 'cpu' },
          optimization: 'all',
        },
      },
    ],
    [
      [
        'predict',
        't5',
        'translate: a house',
        '--num-beams',
        '4',
        '--length-penalty',
        '-0.5',
        '--early-stopping',
        'never',
        '--no-repeat-ngram-size',
        '3',
      ],
      {
        name: 'predict',
        args: ['t5', 'translate: a house'],
        options: { numBeams: 4, lengthPenalty: -0.5, earlyStopping: 'never', noRepeatNgramSize: 3 },
      },
    ],
    [
      [
        'bench',
        'm',
        '--batch-sizes',
        '1,8,8,32',
        '--duration',
        '10s',
        '--fail-if-slower',
        '10%',
        '--e2e',
        '--file',
        'a.txt',
        '--file',
        'b.txt',
        '--shape',
        'h=224',
      ],
      {
        name: 'bench',
        args: ['m'],
        options: {
          batchSizes: [1, 8, 32],
          durationMs: 10_000,
          failIfSlower: 0.1,
          warmup: 5,
          e2e: true,
          files: ['a.txt', 'b.txt'],
          shapes: ['h=224'],
        },
      },
    ],
    [
      ['serve'],
      {
        name: 'serve',
        args: [],
        options: {
          host: '127.0.0.1',
          port: 8080,
          maxModelsInRam: 4,
          maxMemory: 4e9,
          maxBatch: 32,
          maxWaitMs: 5,
          maxBody: 64e6,
          maxUpload: 16e9,
          maxJobs: 2,
          shutdownTimeoutMs: 30_000,
          device: { kind: 'cpu' },
        },
      },
    ],
    [
      ['serve', '--port', '0', '--max-memory', '512MiB', '--shutdown-timeout', '2m', '--max-jobs', '1'],
      { name: 'serve', args: [], options: { port: 0, maxMemory: 512 * 1024 ** 2, shutdownTimeoutMs: 120_000, maxJobs: 1 } },
    ],
    [['pull', 'hf:org/m'], { name: 'pull', args: ['hf:org/m'], options: { concurrency: 4 } }],
    [
      ['pull', 'mlflow://10.0.0.5:5000/iris@champion', '--insecure'],
      { name: 'pull', args: ['mlflow://10.0.0.5:5000/iris@champion'], options: { insecure: true } },
    ],
    [
      ['push', 'iris:1.0.0', 'mlflow://127.0.0.1:5000/iris', '--alias', 'champion', '--alias', 'staging', '--experiment', 'e1'],
      {
        name: 'push',
        args: ['iris:1.0.0', 'mlflow://127.0.0.1:5000/iris'],
        options: { alias: ['champion', 'staging'], experiment: 'e1' },
      },
    ],
    [
      [
        'push',
        'm:1.0.0',
        'oci://localhost:5000/a/m',
        '--chunk-size',
        '1MiB',
        '--mount-from',
        'a/x',
        '--mount-from',
        'b/y',
        '--username',
        'u',
        '--password-stdin',
      ],
      {
        name: 'push',
        args: ['m:1.0.0', 'oci://localhost:5000/a/m'],
        options: { chunkSize: 1024 ** 2, mountFrom: ['a/x', 'b/y'], username: 'u', passwordStdin: true },
      },
    ],
    [
      ['pull', 'oci://registry.example.com/a/m:1', '--insecure'],
      { name: 'pull', args: ['oci://registry.example.com/a/m:1'], options: { concurrency: 4, insecure: true } },
    ],
    [
      ['embed-metadata', 'm.onnx', '--features', 'a, b,,c', '--set', 'k=v'],
      { name: 'embed-metadata', args: ['m.onnx'], options: { features: ['a', 'b', 'c'], set: { k: 'v' } } },
    ],
  ])('%j', async (argv, expected) => {
    const got = await parse(argv);
    expect(got.name).toBe(expected.name);
    expect(got.args).toEqual(expected.args);
    expect(got.options).toMatchObject(expected.options);
  });

  it.each([
    [['register', 'm.onnx']], // --name is required
    [['frobnicate']],
    [['list', '--bogus']],
    [['info']],
    [['list', '--version']], // the program's --version only works before a command name
  ])('%j is a usage error', async (argv) => {
    const err = await parse(argv).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommanderError);
  });

  it.each([
    [['gc', '--max-size', 'lots'], 'not a size: "lots"'],
    [['gc', '--older-than', '30 days'], 'not a duration: "30 days"'],
    [['gc', '--max-models', '-1'], '--max-models takes a whole number of at least 0, got "-1"'],
    [['register', 'm.onnx', '--name', 'm', '--metric', 'acc=high'], '--metric acc takes a number, got "high"'],
    [['register', 'm.onnx', '--name', 'm', '--tag', 'team'], '--tag takes key=value, got "team"'],
    [['predict', 'm', 'x', '--conf', '2'], '--conf takes a number from 0 to 1, got "2"'],
    [['predict', 'm', 'x', '--fallback', 'gpu'], '--fallback takes cpu, got "gpu"'],
    [['predict', 'm', 'x', '--batch-size', '0'], '--batch-size takes a whole number of at least 1, got "0"'],
    [['predict', 'm', 'x', '--optimization', 'max'], 'unknown graph optimization level: max'],
    [['predict', 'm', 'x', '--top-p', '1.5'], '--top-p takes a number above 0 and at most 1, got "1.5"'],
    [['predict', 'm', 'x', '--temperature', '0'], '--temperature takes a number above 0, got "0"'],
    [['predict', 'm', 'x', '--max-new-tokens', '0'], '--max-new-tokens takes a whole number of at least 1, got "0"'],
    [['predict', 'm', 'x', '--num-beams', '0'], '--num-beams takes a whole number of at least 1, got "0"'],
    [['predict', 'm', 'x', '--length-penalty', 'long'], '--length-penalty takes a number, got "long"'],
    [['bench', 'm', '--batch-sizes', '1,0'], '--batch-sizes takes whole numbers of at least 1, comma-separated, got "1,0"'],
    [['bench', 'm', '--fail-if-slower', 'x'], '--fail-if-slower takes a percentage, got "x"'],
    [['bench', 'm', '--threads', '1.5'], 'threads must be a whole number from 0 to 1024, not 1.5'],
    [['pull', 'hf:org/m', '--concurrency', '65'], '--concurrency 65 is too many'],
    [['serve', '--port', '70000'], '--port takes 0 to 65535, got 70000'],
    [['serve', '--max-body', 'big'], 'not a size: "big"'],
    [['push', 'm', 'oci://h/r', '--chunk-size', 'lots'], 'not a size: "lots"'],
    [['export', 'm', '--atol', '-1'], '--atol takes a number of at least 0, got "-1"'],
    [['export', 'm', '--opset', '0'], '--opset takes a whole number of at least 1, got "0"'],
    [['setup', 'python', '--with', 'java'], 'unknown converter family "java"'],
  ])('%j: usage error (exit 2) "%s"', async (argv, message) => {
    const err = await parse(argv).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelctlError);
    expect(err).toMatchObject({ code: 'USAGE', exitCode: 2, message });
  });

  it("lists each global option once in every command's help, and the program's --version only in its own", () => {
    const program = buildProgram();
    for (const c of program.commands) {
      const help = helpOf(c);
      for (const flag of ['--home <dir>', '-v, --verbose', '--no-color'])
        expect(help.split(flag).length - 1, `${c.name()}: ${flag}`).toBe(1);
      expect(help, c.name()).toMatch(/\nGlobal Options:\n/);
      expect(help, c.name()).not.toContain('-V, --version');
    }
    const top = helpOf(program);
    for (const flag of ['--home <dir>', '-v, --verbose', '--no-color', '-V, --version']) expect(top.split(flag).length - 1, flag).toBe(1);
  });

  it('declares every subcommand of the product, each with an example', () => {
    const program = buildProgram();
    const names = program.commands.map((c) => c.name());
    expect(names).toEqual([
      'register',
      'list',
      'info',
      'rm',
      'tag',
      'set',
      'validate',
      'gc',
      'embed-metadata',
      'predict',
      'pull',
      'checkout',
      'push',
      'export',
      'bench',
      'setup',
      'serve',
      'deploy',
    ]);
    for (const c of program.commands) expect(helpOf(c), c.name()).toContain('Examples:');
  });
});
