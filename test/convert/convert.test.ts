import { execa } from 'execa';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FAMILIES, parseFamilies } from '../../src/convert/families.js';
import { findPython } from '../../src/convert/run.js';
import { familyDigest, isInstalled, setupPython } from '../../src/convert/setup.js';
import { testPython } from '../python.js';
import { FIXTURES, cli, fileDir, spawnCli } from '../helpers.js';
import { buildSources, converterRoot, familyPython } from './env.js';

const dir = fileDir;

describe('converter families and interpreter discovery', () => {
  it('--with takes families or all; anything else is a usage error naming the families', () => {
    expect(parseFamilies('all')).toEqual([...FAMILIES]);
    expect(parseFamilies('tf,sklearn')).toEqual(['sklearn', 'tf']);
    expect(() => parseFamilies('sklearn,onnx')).toThrow(/unknown converter family "onnx"/);
  });

  it('--python beats MODELCTL_PYTHON beats the managed environment beats python3 on PATH', async () => {
    const root = converterRoot();
    if (!root) return;
    const env = { MODELCTL_PYTHON: '/opt/py/bin/python' };
    expect(await findPython({ family: 'sklearn', python: '/x/python', env, root })).toEqual({ python: '/x/python', source: '--python' });
    expect(await findPython({ family: 'sklearn', env, root })).toEqual({ python: '/opt/py/bin/python', source: 'MODELCTL_PYTHON' });
    expect(await findPython({ family: 'hf', env: {}, root })).toEqual({ python: familyPython(root, 'hf'), source: 'managed' });
    expect(await findPython({ family: 'sklearn', env: {}, root: dir('modelctl-noenv-') })).toEqual({ python: 'python3', source: 'PATH' });
  });

  it('setup is a no-op when the stamps match the requirement files', async () => {
    const root = converterRoot();
    if (!root) return;
    for (const f of FAMILIES) expect(await isInstalled(root, f)).toBe(true);
    const events: string[] = [];
    const r = await setupPython({
      root,
      families: ['sklearn', 'hf'],
      onProgress: (e) => events.push(`${e.type} ${'family' in e ? e.family : ''}`),
    });
    expect(r.families.map((f) => f.installed)).toEqual([false, false]);
    expect(events).toEqual(['up-to-date sklearn', 'up-to-date hf']);
  });

  it('concurrent setups wait for each other; a lock left by a dead process is broken', async () => {
    const root = converterRoot();
    if (!root) return;
    mkdirSync(join(root, '.setup.lock'));
    writeFileSync(join(root, '.setup.lock', 'pid'), '2147483646'); // no such process
    const both = await Promise.all([setupPython({ root, families: ['sklearn'] }), setupPython({ root, families: ['tf'] })]);
    expect(both.map((r) => r.families[0]?.installed)).toEqual([false, false]);
    expect(existsSync(join(root, '.setup.lock'))).toBe(false);
  });
});

describe('modelctl setup python --check and export failures (spawned binary)', () => {
  it('--check reports every family usable from the managed environments, with versions', async () => {
    const root = converterRoot();
    if (!root) return;
    const home = dir('modelctl-home-');
    symlinkSync(root, join(home, 'python'));
    const r = await cli(['setup', 'python', '--check', '--json'], { home });
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.families.map((f: { family: string }) => f.family)).toEqual([...FAMILIES]);
    for (const f of doc.families) expect(f).toMatchObject({ usable: true, source: 'managed' });
    expect(doc.families.find((f: { family: string }) => f.family === 'hf').versions).toMatchObject({
      'optimum-onnx': '0.1.0',
      transformers: '4.57.6',
    });
    expect(doc.families.find((f: { family: string }) => f.family === 'tf').versions).toMatchObject({ tf2onnx: '1.17.0' });
    const table = await cli(['setup', 'python', '--check', '--with', 'sklearn'], { home });
    expect(table.stdout).toMatch(/sklearn\s+skl2onnx\s+yes\s+scikit-learn 1\.9\.1, skl2onnx 1\.20\.0/);
  }, 180_000);

  it('after `--with hf` alone (hf installs torch into the shared environment) the torch converter is usable too', async () => {
    const root = converterRoot();
    if (!root) return;
    // The state `setup python --with hf` leaves: the torch environment holding hf's stamp only. Its interpreter is
    // the real hf environment's, reached through a wrapper so the stamps here are this test's own.
    const home = dir('modelctl-home-');
    const env = join(home, 'python', 'torch');
    mkdirSync(join(env, 'bin'), { recursive: true });
    writeFileSync(join(env, 'bin', 'python'), `#!/bin/sh\nexec '${familyPython(root, 'hf')}' "$@"\n`, { mode: 0o755 });
    writeFileSync(join(env, '.modelctl-hf.sha256'), `${await familyDigest('hf')}\n`);
    expect(await isInstalled(join(home, 'python'), 'torch')).toBe(true);
    const r = await cli(['setup', 'python', '--check', '--with', 'torch,hf', '--json'], { home });
    expect(r.exitCode, r.stderr).toBe(0);
    for (const f of JSON.parse(r.stdout).families) expect(f).toMatchObject({ usable: true, source: 'managed' });
    // A stale hf stamp (its pins changed since) vouches for nothing.
    writeFileSync(join(env, '.modelctl-hf.sha256'), 'stale\n');
    expect(await isInstalled(join(home, 'python'), 'torch')).toBe(false);
    expect(await isInstalled(join(home, 'python'), 'hf')).toBe(false);
  }, 180_000);

  it('a converter that is not installed: exit 6 with the exact setup command', async () => {
    const python = testPython(); // .venv-test: onnx, but no scikit-learn or skl2onnx
    if (!python && process.env.CI === 'true') throw new Error('.venv-test is missing');
    if (!python) return;
    const home = dir('modelctl-home-');
    const r = await cli(['export', join(FIXTURES, 'sklearn-joblib', 'model.joblib'), '--name', 'gbr', '--python', python], { home });
    expect(r.exitCode).toBe(6);
    expect(r.stderr).toMatch(/^error: the sklearn converter is not installed for .*: cannot import /);
    expect(r.stderr).toContain('hint: run `modelctl setup python --with sklearn`');
    const none = await cli(
      ['export', join(FIXTURES, 'sklearn-joblib', 'model.joblib'), '--name', 'gbr', '--python', '/nonexistent/python3'],
      { home },
    );
    expect(none.exitCode).toBe(6);
    expect(none.stderr).toMatch(/no Python interpreter at \/nonexistent\/python3/);
  });

  it("a converter failure: exit 5 with the converter's message; nothing is registered", async () => {
    const root = converterRoot();
    if (!root) return;
    const home = dir('modelctl-home-');
    // torch-full pickles its module class: weights_only=True refuses it, as it must.
    const r = await cli(
      [
        'export',
        join(FIXTURES, 'torch-full', 'model.pt'),
        '--name',
        'full',
        '--input-shape',
        '1,4',
        '--python',
        familyPython(root, 'torch'),
      ],
      { home },
    );
    expect(r.exitCode).toBe(5);
    expect(r.stderr).toMatch(/^error: torch\.load\(weights_only=True\) refused model\.pt: it pickles more than tensors/);
    const list = await cli(['list', '--json'], { home });
    expect(JSON.parse(list.stdout).models).toEqual([]);
  }, 120_000);

  it("a task optimum does not know is the user's mistake: exit 2 naming the known tasks, nothing registered", async () => {
    const root = converterRoot();
    if (!root) return;
    const home = dir('modelctl-home-');
    const r = await cli(
      ['export', join(FIXTURES, 'hf-bert-tiny'), '--name', 'bert', '--task', 'foo', '--python', familyPython(root, 'hf')],
      { home },
    );
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^error: optimum knows no task 'foo'; its tasks: .*text-classification/);
    expect(JSON.parse((await cli(['list', '--json'], { home })).stdout).models).toEqual([]);
  }, 120_000);

  it("--sample-input that is not rows of numbers is the user's mistake: exit 2, nothing registered", async () => {
    const root = converterRoot();
    if (!root) return;
    const home = dir('modelctl-home-');
    const samples = join(dir('modelctl-samples-'), 'strings.json');
    writeFileSync(samples, '["a", "b"]');
    const r = await cli(
      [
        'export',
        join(FIXTURES, 'sklearn-pickle', 'model.pkl'),
        '--name',
        's',
        '--sample-input',
        samples,
        '--python',
        familyPython(root, 'sklearn'),
      ],
      { home },
    );
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^error: --sample-input: rows of numbers expected/);
    expect(JSON.parse((await cli(['list', '--json'], { home })).stdout).models).toEqual([]);
  }, 120_000);

  it('a difference above --atol fails validation (exit 5) and registers nothing; --no-validate skips it', async () => {
    const root = converterRoot();
    if (!root) return;
    const home = dir('modelctl-home-');
    const args = ['export', join(FIXTURES, 'sklearn-joblib', 'model.joblib'), '--name', 'gbr', '--python', familyPython(root, 'sklearn')];
    const r = await cli([...args, '--atol', '0', '--json'], { home });
    expect(r.exitCode).toBe(5);
    const err = JSON.parse(r.stdout).error;
    expect(err.message).toMatch(/^validation failed: max abs difference \S+ is above --atol 0$/);
    expect(err.details.result.validation.max_abs_diff).toBeGreaterThan(0);
    expect(JSON.parse((await cli(['list', '--json'], { home })).stdout).models).toEqual([]);
    const skipped = await cli([...args, '--no-validate', '--json'], { home });
    expect(skipped.exitCode, skipped.stderr).toBe(0);
    expect(JSON.parse(skipped.stdout).validation).toBeNull();
  }, 120_000);

  it('a registry model exports to a new version whose lineage names its parent and digest; --out writes a copy', async () => {
    const root = converterRoot();
    if (!root) return;
    const home = dir('modelctl-home-');
    const src = dir('modelctl-src-');
    const cases = await buildSources(root, 'lightgbm', src);
    await cli(['register', join(src, (cases.lightgbm as { file: string }).file), '--name', 'iris-lgbm'], { home });
    const out = join(dir('modelctl-out-'), 'nested', 'iris.onnx');
    const r = await cli(
      ['export', 'iris-lgbm:1.0.0', '--python', familyPython(root, 'lightgbm'), '--opset', '15', '--out', out, '--json'],
      { home },
    );
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.manifest).toMatchObject({ name: 'iris-lgbm', version: '1.0.1', format: 'onnx', task: 'tabular-classification' });
    expect(doc.manifest.lineage).toMatchObject({
      operation: 'export',
      parent: 'iris-lgbm:1.0.0',
      source: { kind: 'registry', ref: 'iris-lgbm:1.0.0', format: 'lightgbm' },
      options: { opset: 15, atol: 0.0001 },
    });
    // onnxmltools takes --opset as the highest it may use; the lineage records what the file really declares.
    expect(doc.manifest.lineage.opset['ai.onnx']).toBeLessThanOrEqual(15);
    expect(doc.opset).toEqual(doc.manifest.lineage.opset);
    expect(doc.manifest.lineage.source.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(existsSync(out)).toBe(true);
    const predicted = await cli(
      ['predict', 'iris-lgbm', '--input', '[{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]', '--json'],
      { home },
    );
    expect(predicted.exitCode, predicted.stderr).toBe(0);
    expect(JSON.parse(predicted.stdout).predictions[0].label).toBe(
      (cases.lightgbm as { expected: Array<{ label: number }> }).expected[0]?.label,
    );
  }, 180_000);

  it('--optimize and --quantize post-process the export, which is validated after them and recorded in lineage', async () => {
    const root = converterRoot();
    if (!root) return;
    const home = dir('modelctl-home-');
    const src = dir('modelctl-src-');
    const c = (await buildSources(root, 'torch', src)).torch as { file: string; model_class: string };
    const r = await cli(
      [
        'export',
        join(src, c.file),
        '--name',
        'net',
        '--model-class',
        c.model_class,
        '--input-shape',
        '3,4',
        '--optimize',
        'O3',
        '--quantize',
        'fp16',
        '--atol',
        '1e-2',
        '--python',
        familyPython(root, 'torch'),
        '--json',
      ],
      { home },
    );
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.validation).toMatchObject({ passed: true, atol: 0.01, samples: 3 });
    // fp16 weights: not bit-identical to the float32 module any more, but close.
    expect(doc.validation.max_abs_diff).toBeGreaterThan(0);
    expect(doc.validation.max_abs_diff).toBeLessThanOrEqual(0.01);
    expect(doc.manifest.lineage.options).toMatchObject({ optimize: 'O3', quantize: 'fp16', atol: 0.01, modelClass: c.model_class });
  }, 120_000);

  it('Ctrl-C during a conversion kills the converter and exits 130', async () => {
    const root = converterRoot();
    if (!root) return;
    const home = dir('modelctl-home-');
    const child = spawnCli(
      ['export', join(FIXTURES, 'hf-bert-tiny'), '--name', 'bert', '--python', familyPython(root, 'hf'), '--verbose'],
      home,
    );
    // The converter is the child running python/export.py (not the interpreter probes before it).
    const converterPid = async (): Promise<number | undefined> => {
      const ps = await execa('ps', ['-o', 'pid=,args=', '--ppid', String(child.pid)], { reject: false });
      const line = ps.stdout.split('\n').find((l) => l.includes('export.py'));
      return line ? Number(line.trim().split(/\s+/)[0]) : undefined;
    };
    let python: number | undefined;
    for (let i = 0; i < 600 && python === undefined && child.exitCode === null; i++) {
      python = await converterPid();
      if (python === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    expect(python, 'the converter started').toBeGreaterThan(0);
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(130);
    expect(r.stderr).toMatch(/interrupted/);
    // Gone, or at most a zombie waiting for this machine's init to reap it after its parent left.
    const state = await execa('ps', ['-o', 'stat=', '-p', String(python)], { reject: false });
    expect(state.stdout.trim() === '' || state.stdout.trim().startsWith('Z'), `converter ${python} still running: ${state.stdout}`).toBe(
      true,
    );
  }, 120_000);
});
