import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { FIXTURES, tempDir } from '../helpers.js';
export { rejects } from '../helpers.js';

/** The optimum exports and the references generate.py computed for them with transformers and onnxruntime. */
export const CLASSIFIER_DIR = join(FIXTURES, 'optimum-bert');
export const EMBEDDER_DIR = join(FIXTURES, 'optimum-bert-embed');
export const CLASSIFIER = join(CLASSIFIER_DIR, 'model.onnx');
export const EMBEDDER = join(EMBEDDER_DIR, 'model.onnx');

interface Expected {
  fixtures: Record<string, { facts: { reference: unknown } }>;
}
const EXPECTED = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as Expected;

export interface ClassifierReference {
  sentences: string[];
  tokens: string[][];
  inputs: Record<'input_ids' | 'attention_mask' | 'token_type_ids', { data: number[][] }>;
  outputs: { logits: { data: number[][] } };
  transformers: { logits: number[][] };
}
export const CLASSIFIER_REF = EXPECTED.fixtures['optimum-bert']!.facts.reference as ClassifierReference;

export interface EmbedderReference {
  sentences: string[];
  inputs: Record<'input_ids' | 'attention_mask' | 'token_type_ids', { data: number[][] }>;
  transformers: { mean_pooled: number[][]; normalized: number[][] };
  truncation: {
    sentence: string;
    untruncated_length: number;
    model_max_length: number;
    input_ids: number[];
    mean_pooled: number[];
    normalized: number[];
  };
}
export const EMBEDDER_REF = EXPECTED.fixtures['optimum-bert-embed']!.facts.reference as EmbedderReference;

export const CLASSIFIER_LABELS = ['negative', 'positive'];

/** softmax in double precision: what the scores must equal. */
export function softmax(logits: number[]): number[] {
  const max = Math.max(...logits);
  const e = logits.map((x) => Math.exp(x - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

export function expectClose(actual: readonly number[], expected: readonly number[], tolerance: number, what = ''): void {
  expect(actual.length, what).toBe(expected.length);
  const worst = Math.max(0, ...actual.map((v, i) => Math.abs(v - (expected[i] as number))));
  expect(worst, `${what}: max abs diff`).toBeLessThan(tolerance);
}

/** A copy of a fixture folder holding only `files`, in a temporary folder. */
export function copyFixture(dir: string, files: string[]): string {
  const out = tempDir();
  for (const f of files) copyFileSync(join(dir, f), join(out, f));
  return out;
}
