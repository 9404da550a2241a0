import { execa } from 'execa';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/predict/predict.js';
import { Registry } from '../../src/registry/index.js';
import { postJson, serve } from '../serve/helpers.js';
import { BIN, FIXTURES, ROOT, tempDir } from '../helpers.js';

// issue 14: a 40,000-character context given as an argument made predict die with SIGSEGV. The cause was not the
// context: ONNX Runtime 1.30's Linux telemetry (on by default) reads /proc/self/cmdline when its environment is
// created and runs a std::regex over it, whose recursion overflows the main thread's 8 MB stack at about 30,000
// characters. Any command line that long crashed the first session; --file and serve did not, their command line
// being short. ONNX Runtime leaves its telemetry off under CI, ORT_RUNNING_UNIT_TESTS or ORT_DISABLE_TELEMETRY,
// so none of them reaches the binary here: the test must fail on a build that does not switch it off itself.

const QA = join(FIXTURES, 'optimum-bert-qa');
const MODEL = join(QA, 'model.onnx');
const QUESTION = 'which harbour keeps the ledger?';
const CONTEXT_CHARS = 100_000;

/** 100,000 characters of seeded, varied sentences (every window reads different text), ASCII only. */
function longContext(): string {
  const words = ['ledger', 'harbour', 'keeps', 'north', 'quiet', 'copper', 'river', 'model', 'stone', 'garden', 'seven', 'blue'];
  words.push('tower', 'signal', 'bread', 'winter');
  let seed = 20240514;
  const next = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed;
  };
  const sentences: string[] = [];
  let length = 0;
  while (length < CONTEXT_CHARS) {
    const n = 5 + (next() % 9);
    const s = `${Array.from({ length: n }, () => words[next() % words.length]).join(' ')}.`;
    sentences.push(s.charAt(0).toUpperCase() + s.slice(1));
    length += s.length + 1;
  }
  return sentences.join(' ').slice(0, CONTEXT_CHARS);
}

const CONTEXT = longContext();

interface Answer {
  answer: string;
  score: number;
  start: number;
  end: number;
}

/** The binary, with none of the variables that switch ONNX Runtime's telemetry off by themselves. */
async function run(args: string[], input?: string): Promise<{ exitCode: number; signal?: string; stdout: string; stderr: string }> {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1' };
  for (const key of ['CI', 'ORT_DISABLE_TELEMETRY', 'ORT_RUNNING_UNIT_TESTS']) delete env[key];
  const stdin = input === undefined ? { stdin: 'ignore' as const } : { input };
  const r = await execa('node', [BIN, ...args], { reject: false, extendEnv: false, env, cwd: ROOT, ...stdin });
  return { exitCode: r.exitCode ?? -1, ...(r.signal ? { signal: r.signal } : {}), stdout: r.stdout, stderr: r.stderr };
}

/** One answer read back from a document or a JSON Lines record: a real span of the context. */
function checked(a: Answer): Answer {
  expect(a.end).toBeGreaterThan(a.start);
  expect(a.end).toBeLessThanOrEqual(CONTEXT_CHARS);
  expect(CONTEXT.slice(a.start, a.end)).toBe(a.answer);
  // Not at most 1: as in transformers' pipeline, the spans of one answer text are summed over every window.
  expect(a.score).toBeGreaterThan(0);
  return { answer: a.answer, score: a.score, start: a.start, end: a.end };
}

const fromDocument = (stdout: string): Answer => {
  const doc = JSON.parse(stdout) as { task: string; predictions: Answer[] };
  expect(doc.task).toBe('question-answering');
  expect(doc.predictions).toHaveLength(1);
  return checked(doc.predictions[0] as Answer);
};

describe('a 100,000-character question-answering context on every input path: an answer, never a crash', () => {
  let reference: Answer | undefined;
  /** Every path answers the same question about the same context: the library's answer is the reference. */
  const same = (a: Answer): void => {
    expect(reference).toBeDefined();
    expect({ ...a, score: undefined }).toEqual({ ...reference, score: undefined });
    expect(Math.abs(a.score - (reference as Answer).score)).toBeLessThan(1e-6);
  };

  it('the library: predict() reads it in overlapping windows', async () => {
    expect(CONTEXT).toHaveLength(CONTEXT_CHARS);
    const r = await predict({ model: MODEL, input: { kind: 'questions', pairs: [{ question: QUESTION, context: CONTEXT }] }, threads: 1 });
    expect(r.predictions).toHaveLength(1);
    reference = checked(r.predictions![0] as Answer);
  });

  it('as arguments: --question and --context', async () => {
    const r = await run(['predict', MODEL, '--question', QUESTION, '--context', CONTEXT, '--threads', '1', '--json']);
    expect({ exitCode: r.exitCode, signal: r.signal }, r.stderr).toEqual({ exitCode: 0, signal: undefined });
    same(fromDocument(r.stdout));
  });

  it('as --input JSON', async () => {
    const r = await run([
      'predict',
      MODEL,
      '--input',
      JSON.stringify({ question: QUESTION, context: CONTEXT }),
      '--threads',
      '1',
      '--json',
    ]);
    expect({ exitCode: r.exitCode, signal: r.signal }, r.stderr).toEqual({ exitCode: 0, signal: undefined });
    same(fromDocument(r.stdout));
  });

  it('in a .json file and a .jsonl file', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'q.json'), JSON.stringify({ question: QUESTION, context: CONTEXT }));
    const json = await run(['predict', MODEL, '--file', join(dir, 'q.json'), '--threads', '1', '--json']);
    expect(json.exitCode, json.stderr).toBe(0);
    same(fromDocument(json.stdout));
    writeFileSync(join(dir, 'q.jsonl'), `${JSON.stringify({ question: QUESTION, context: CONTEXT })}\n`);
    const jsonl = await run(['predict', MODEL, '--file', join(dir, 'q.jsonl'), '--threads', '1', '--json']);
    expect(jsonl.exitCode, jsonl.stderr).toBe(0);
    const records = jsonl.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Answer & { line: number });
    expect(records.map((r) => r.line)).toEqual([1]);
    for (const r of records) same(checked(r));
  });

  it('on stdin (one JSON document, answered as one)', async () => {
    const r = await run(
      ['predict', MODEL, '--file', '-', '--threads', '1', '--json'],
      `${JSON.stringify({ question: QUESTION, context: CONTEXT })}\n`,
    );
    expect(r.exitCode, r.stderr).toBe(0);
    same(fromDocument(r.stdout));
  });

  it("serve's POST /v1/models/{name}/predict", async () => {
    const registry = new Registry({ home: tempDir('modelctl-serve-') });
    await registry.register({ path: QA, name: 'qa' });
    const server = await serve({ registry, session: { threads: 1 } });
    const r = await postJson(`${server.url}/v1/models/qa/predict`, { question: QUESTION, context: CONTEXT });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    same(fromDocument(JSON.stringify(r.body)));
  });
});

describe("ONNX Runtime's telemetry stays off", () => {
  it('a prediction leaves nothing in the home folder (ONNX Runtime 1.30 writes ~/.cache/Microsoft/DeveloperTools when it is on)', async () => {
    const home = tempDir();
    const r = await execa('node', [BIN, 'predict', join(FIXTURES, 'iris-logreg', 'model.onnx'), '5.1,3.5,1.4,0.2', '--json'], {
      reject: false,
      extendEnv: false,
      env: { PATH: process.env.PATH, HOME: home, NO_COLOR: '1' },
      cwd: ROOT,
      stdin: 'ignore',
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).predictions[0].label).toBe(0);
    expect(existsSync(join(home, '.cache'))).toBe(false);
  });
});
