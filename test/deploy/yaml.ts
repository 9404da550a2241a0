import { execa } from 'execa';
import { join } from 'node:path';
import { ROOT } from '../helpers.js';
import { testPython } from '../python.js';

/** Every document of a YAML text as PyYAML's safe loader reads it (test/deploy/yaml_load.py). */
export async function pyYamlLoad(text: string): Promise<unknown[]> {
  const r = await execa(testPython() as string, [join(ROOT, 'test', 'deploy', 'yaml_load.py'), '-'], {
    reject: false,
    input: text,
    env: { PYTHONIOENCODING: 'utf-8' },
  });
  if (r.exitCode !== 0) throw new Error(`yaml_load.py failed on:\n${text}\n${r.stderr}`);
  return JSON.parse(r.stdout) as unknown[];
}
