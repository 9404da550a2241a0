// Types of bench/transformers-js-lib.mjs, for test/bench/transformers-js-lib.test.ts.
export interface Label {
  label: string;
  score: number;
}
export interface Entity {
  entity: string;
  index: number;
  word: string;
  score: number;
  start?: number;
  end?: number;
}
export interface Answer {
  embedding?: number[];
  labels?: Label[];
  entities?: Entity[];
  answer?: string;
  score?: number;
  start?: number;
  end?: number;
  error?: string;
}
export interface Comparison {
  n: number;
  same: number;
  diff: number;
  cos?: number;
  errors: number;
}
export function fromOurs(task: string, prediction: unknown): Answer;
export function fromTjs(task: string, answer: unknown): Answer;
export function cosine(a: readonly number[], b: readonly number[]): number;
export function compareItem(task: string, a: Answer, b: Answer): { same: boolean; diff: number; cos?: number };
export function compareAll(task: string, as: Answer[], bs: Answer[]): Comparison;
export function describeComparison(c: Comparison): string;
