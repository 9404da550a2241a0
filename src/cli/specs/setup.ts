import type { Command } from 'commander';
import type { SpecTools } from './tools.js';

/** Declares `modelctl setup`. */
export function declare(program: Command, tools: SpecTools): void {
  tools.example(
    program.command('setup').description('set up the Python converter environments (managed virtual environments under the registry home)')
      .argument('<what>', 'python')
      .option('--with <families>', 'converter families: hf, sklearn, tf, torch, xgboost, lightgbm (comma-separated) or all', 'all')
      .option('--python <path>', 'the interpreter to create the environments with (default: python3); with --check, the one to check')
      .option('--check', 'report which converters are usable, with versions (installs nothing; exit 1 when one is not)')
      .option('--force', 'reinstall even when the environment is up to date')
      .option('--json', 'print JSON'),
    'modelctl setup python --with sklearn,xgboost',
    'modelctl setup python --with all --python /usr/bin/python3.11',
    'modelctl setup python --check --json',
  ).action(tools.action('setup'));
}
