import { describe, expect, it } from 'vitest';
import { CommanderError } from 'commander';
import { parseArgv as parse } from './parse.js';
import { buildProgram } from '../../src/cli/main.js';


describe('argv to options', () => {
  it.each([
    [
      ['register', './m.onnx', '--name', 'org/m', '--version', '1.2.0', '--tag', 'a=1', '--tag', 'b=2', '--metric', 'acc=0.9', '--alias', 'prod', '--json'],
      { name: 'register', args: ['./m.onnx'], options: { name: 'org/m', version: '1.2.0', tag: ['a=1', 'b=2'], metric: ['acc=0.9'], alias: ['prod'], json: true, latest: true } },
    ],
    [['register', 'm.onnx', '--name', 'm', '--no-latest'], { name: 'register', args: ['m.onnx'], options: { name: 'm', latest: false } }],
    [['list', '--format', 'onnx', '--tag', 'team=ml', '--home', '/h'], { name: 'list', args: [], options: { format: 'onnx', tag: ['team=ml'], home: '/h' } }],
    [['--home', '/h', 'ls'], { name: 'list', args: [], options: { home: '/h' } }],
    [['info', 'm@prod', '--json'], { name: 'info', args: ['m@prod'], options: { json: true } }],
    [['rm', 'm', '--all-versions', '-y'], { name: 'rm', args: ['m'], options: { allVersions: true, yes: true } }],
    [['tag', 'm', 'prod', '--remove'], { name: 'tag', args: ['m', 'prod'], options: { remove: true } }],
    [['validate'], { name: 'validate', args: [], options: {} }],
    [['validate', 'm:1.0.0', '--strict'], { name: 'validate', args: ['m:1.0.0'], options: { strict: true } }],
    [
      ['gc', '--max-size', '20GB', '--max-models', '5', '--older-than', '30d', '--no-keep-aliased', '--dry-run'],
      { name: 'gc', args: [], options: { maxSize: '20GB', maxModels: '5', olderThan: '30d', keepAliased: false, dryRun: true } },
    ],
    [['gc'], { name: 'gc', args: [], options: { keepAliased: true } }],
    [['-v', 'list', '--no-color'], { name: 'list', args: [], options: { verbose: true, color: false } }],
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
  ])('%j is a usage error', async (argv) => {
    const err = await parse(argv).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommanderError);
  });

  it('declares every subcommand of the product, each with an example', () => {
    const program = buildProgram();
    const names = program.commands.map((c) => c.name());
    expect(names).toEqual(['register', 'list', 'info', 'rm', 'tag', 'validate', 'gc', 'embed-metadata', 'predict', 'pull', 'export', 'bench', 'setup', 'serve']);
    for (const c of program.commands) {
      let help = '';
      c.configureOutput({ writeOut: (s) => (help += s) });
      c.outputHelp();
      expect(help, c.name()).toContain('Examples:');
    }
  });
});
