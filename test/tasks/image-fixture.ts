import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseNpy } from '../../src/inputs/npy.js';
import { FIXTURES } from '../helpers.js';

/** optimum-vit-tiny: a ViT exported by optimum, its images, and what transformers' processor and model made of them. */
export const VIT_DIR = join(FIXTURES, 'optimum-vit-tiny');
export const VIT = join(VIT_DIR, 'model.onnx');
export const VIT_LABELS = ['cat', 'dog', 'bird'];

export interface VitImageReference {
  file: string;
  size: [number, number];
  pixel_values: { shape: number[]; samples: Array<{ at: [number, number, number]; value: number }>; sum: number };
  transformers: { logits: number[]; probabilities: number[] };
  onnxruntime: { logits: number[]; probabilities: number[] };
  top_label: string;
  top_margin: number;
}
interface Expected {
  fixtures: Record<
    string,
    { facts: { reference: { pixel_values_file: string; pixel_values_shape: number[]; images: VitImageReference[] } } }
  >;
}
export const VIT_REF = (JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as Expected).fixtures['optimum-vit-tiny']!.facts
  .reference;
export const vitImage = (file: string): VitImageReference => VIT_REF.images.find((i) => i.file === file)!;
export const vitPath = (file: string): string => join(VIT_DIR, file);

/** The processor's pixel_values of image `file`, channels first, from pixel_values.npy. */
export function processorPixels(file: string): number[] {
  const npy = parseNpy(readFileSync(join(VIT_DIR, VIT_REF.pixel_values_file)), 'pixel_values.npy') as { data: number[] };
  const per = VIT_REF.pixel_values_shape.slice(1).reduce((a, b) => a * b, 1);
  const i = VIT_REF.images.findIndex((im) => im.file === file);
  return npy.data.slice(i * per, (i + 1) * per);
}

/** Labels best first, as transformers' probabilities rank them. */
export function ranked(probabilities: number[]): Array<{ label: string; score: number }> {
  return probabilities
    .map((score, i) => ({ label: VIT_LABELS[i]!, score, i }))
    .sort((a, b) => b.score - a.score || a.i - b.i)
    .map(({ label, score }) => ({ label, score }));
}
