import { execa } from 'execa';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { cli, ROOT, tempDir } from '../helpers.js';
import { bertRepo } from '../hub/fixtures.js';
import { HubServer } from '../hub/server.js';
import { pythonAvailable, testPython } from '../python.js';
import { IRIS_ROWS, serve } from './helpers.js';

/**
 * Real Python clients against a real server on loopback: Triton's own HTTP client (tritonclient) on the v2
 * endpoints, and schemathesis fuzzing the OpenAPI document. Both come from test/py/requirements.txt.
 */

async function triton(url: string, model: string, inputs: Record<string, { datatype: string; data: unknown }>): Promise<any> {
  const r = await execa(testPython() as string, [join(ROOT, 'test', 'serve', 'triton_client.py'), url, model, JSON.stringify(inputs)], {
    reject: false,
    stdin: 'ignore',
  });
  if (r.exitCode !== 0) throw new Error(`triton_client.py failed:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

function close(actual: number[], expected: number[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((v, i) => expect(v).toBeCloseTo(expected[i] as number, 6));
}

describe('serve with the official Python clients', () => {
  it('tritonclient (http): metadata and infer, binary and JSON, give the numbers modelctl predict gives (iris)', async () => {
    if (!pythonAvailable()) return;
    const s = await serve();
    const got = await triton(s.url, 'iris', { input: { datatype: 'FP32', data: IRIS_ROWS } });
    expect(got).toMatchObject({ live: true, ready: true, model_ready: true });
    expect(got.metadata.inputs).toEqual([{ name: 'input', datatype: 'FP32', shape: [-1, 4] }]);
    expect(got.config.max_batch_size).toBe(32);
    const ref = await cli(['predict', 'iris', '--input', JSON.stringify(IRIS_ROWS), '--json'], { home: s.registry.home });
    expect(ref.exitCode, ref.stderr).toBe(0);
    const predictions = JSON.parse(ref.stdout).predictions as Array<{ label: number; probabilities: Record<string, number> }>;
    for (const mode of ['binary', 'json']) {
      expect(got[mode]).toMatchObject({ id: 'triton-1', model_name: 'iris', dtypes: { label: 'int64', probabilities: 'float32' } });
      expect(got[mode].outputs.label).toEqual(predictions.map((p) => p.label));
      close(
        got[mode].outputs.probabilities.flat(),
        predictions.flatMap((p) => Object.values(p.probabilities)),
      );
    }
    expect(got.missing).toMatch(/no model named "?no-such-model/);
  });

  it('tritonclient (http): a two-input raw model named org/name (onnx-handbuilt) matches modelctl predict --task raw', async () => {
    if (!pythonAvailable()) return;
    const s = await serve();
    const x = [
      [0.5, -1, 2, 3],
      [1, 2, 3, 4],
    ];
    const steps = [2, 3];
    const got = await triton(s.url, 'org/hand', { x: { datatype: 'FP32', data: x }, steps: { datatype: 'INT64', data: steps } });
    expect(got.metadata.name).toBe('org/hand');
    const ref = await cli(['predict', 'org/hand', '--task', 'raw', '--input', JSON.stringify({ x, steps }), '--json'], {
      home: s.registry.home,
    });
    expect(ref.exitCode, ref.stderr).toBe(0);
    const outputs = JSON.parse(ref.stdout).outputs as Record<string, { data: number[] }>;
    for (const mode of ['binary', 'json']) {
      for (const name of ['y', 'y_shape', 'y_sum']) close([got[mode].outputs[name]].flat(2), (outputs[name] as { data: number[] }).data);
      expect(got[mode].dtypes).toEqual({ y: 'float32', y_shape: 'int64', y_sum: 'float32' });
    }
  });

  it('schemathesis fuzzing /openapi.json (/v1, /model-registry, pull and export jobs): no 5xx, statuses, types, headers and bodies as documented, bad data refused', async () => {
    if (!pythonAvailable()) return;
    // Pull jobs the fuzzer starts go to a loopback Hub, never beyond this machine (its one repo is no name the fuzzer draws).
    const hub = await new HubServer([bertRepo('acme/tiny-bert', 4096).repo]).start();
    onTestFinished(() => hub.close());
    const s = await serve({ env: { ...process.env, HF_ENDPOINT: hub.url, HF_HOME: tempDir('modelctl-hf-home-'), HF_TOKEN: '' } });
    // The document as served, with the name and version parameters drawn from real and wrong ones, so the fuzzer
    // reaches the models' inputs instead of stopping at 404.
    const doc = (await (await fetch(`${s.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { parameters?: Array<{ in: string; name: string; schema: unknown }> }>>;
    };
    for (const item of Object.values(doc.paths)) {
      for (const op of Object.values(item)) {
        for (const p of op.parameters ?? []) {
          if (p.in === 'path' && p.name === 'name') p.schema = { type: 'string', enum: ['iris', 'org/hand', 'ghost', 'bad..name'] };
          if (p.in === 'path' && p.name === 'version') p.schema = { type: 'string', enum: ['1.0.0', 'latest', '9.9.9', '-x'] };
        }
      }
    }
    const dir = tempDir();
    const file = join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(doc));
    const r = await execa(
      testPython() as string,
      [
        '-m',
        'schemathesis.cli',
        'run',
        file,
        '--url',
        s.url,
        // Every check that holds for any request (not positive_data_acceptance: the names above include wrong ones on purpose).
        '--checks',
        [
          'not_a_server_error',
          'status_code_conformance',
          'content_type_conformance',
          'response_headers_conformance',
          'response_schema_conformance',
          'negative_data_rejection',
          'unsupported_method',
          'allow_header_conformance',
        ].join(','),
        '--max-examples',
        '25',
        '--seed',
        '7',
        // One worker: with two threads, CPython 3.11's ast module (hypothesis parses lambda sources while generating)
        // shares one recursion counter between them and fails with "AST constructor recursion depth mismatch" (CPython gh-106905).
        '--workers',
        '1',
        '--phases',
        'examples,coverage,fuzzing',
        '--no-color',
      ],
      { reject: false, stdin: 'ignore', cwd: dir, env: { PYTHONIOENCODING: 'utf-8' }, timeout: 240_000 },
    );
    const summary = /(\d+) generated, (\d+) passed/.exec(r.stdout);
    expect(r.exitCode, r.stdout.slice(-4000)).toBe(0);
    expect(Number(summary?.[1])).toBeGreaterThan(500);
    expect(summary?.[2]).toBe(summary?.[1]);
    // Every operation of the document was reached, the /model-registry paths and the jobs among them.
    const operations = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);
    expect(operations).toBeGreaterThan(45);
    expect(r.stdout).toMatch(new RegExp(`Tested: ${operations}\\b`));
  }, 300_000);
});
