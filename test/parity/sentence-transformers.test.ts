import { copyFileSync, cpSync, linkSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Registry } from '../../src/index.js';
import { embedMetadata } from '../../src/embed-metadata/embed-metadata.js';
import { predict } from '../../src/predict/predict.js';
import { converterRoot, familyPython } from '../convert/env.js';
import { cli, fileDir } from '../helpers.js';
import { miniLmFolder, parityPython, reference } from './reference.js';

/**
 * Issue 16's first case: the real sentence-transformers/all-MiniLM-L6-v2, exported by `modelctl export FOLDER`
 * with the managed hf converter and no flags, predicts what `SentenceTransformer(folder).encode(texts)` gives,
 * computed at test time: cosine >= 0.99999 and every component within 1e-4, on short and long texts (over the
 * model's max_seq_length of 256 tokens, so truncation must follow sentence_bert_config.json, not the tokenizer's
 * 512), several scripts and emoji. Then the same through the library, from the ONNX file alone (its embedded
 * metadata), and after embed-metadata --from-dir of folders whose modules.json and pooling config say otherwise.
 */

const TOL = 1e-4;
// An export and sentence-transformers loads on two shared cores: minutes, not the default 60 s.
const SLOW = { timeout: 10 * 60_000 };
const MIN_COSINE = 0.99999;
const PARA = 'The quick brown fox jumps over the lazy dog while the committee debates the annual budget, and nobody notices the rain. ';

const TEXTS = [
  'A man is eating food.',
  'modelctl exports this model to ONNX and predicts with ONNX Runtime.',
  'Crème brûlée, café au lait et naïveté à Besançon; Ærøskøbing, São Paulo, Zürich.',
  '我爱自然语言处理。今天天气很好，我们去公园散步吧。',
  '東京は日本の首都です。ひらがなとカタカナと漢字が混ざっています。',
  '안녕하세요, 세계! 오늘은 날씨가 좋네요.',
  'مرحبا بالعالم، هذه جملة عربية طويلة قليلاً للاختبار.',
  'Съешь же ещё этих мягких французских булок, да выпей же чаю.',
  'Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. नमस्ते दुनिया। שלום עולם',
  'I love pizza 🍕🍕 and 🎉 parties! 👩‍👩‍👧‍👦 family, 🇫🇷 flag, ❤️ heart 👍🏽',
  PARA.repeat(30).trim(),
  `${PARA}Привет мир, 你好世界, مرحبا 🎉 `.repeat(12).trim(),
  `${'x'.repeat(50)} ${'word '.repeat(255).trim()}`,
  'Short again.',
];

interface Encoded {
  embeddings: number[][];
  tokens: number[];
  max_seq_length: number;
}

interface Setup {
  python: string;
  /** A writable copy of the model's folder. */
  folder: string;
  home: string;
  exportDoc: Record<string, any>;
  expected: Encoded;
}

let setup: Promise<Setup | null> | undefined;

/** Exports the real model once per file (the slow part); null when an environment is missing (outside CI). */
function exported(): Promise<Setup | null> {
  const python = parityPython();
  const root = python ? converterRoot() : null;
  if (!python || !root) return Promise.resolve(null);
  setup ??= (async () => {
    const folder = join(fileDir('modelctl-minilm-'), 'all-MiniLM-L6-v2');
    cpSync(await miniLmFolder(python), folder, { recursive: true }); // site-packages is read-only
    const home = fileDir('modelctl-minilm-home-');
    const [r, expected] = await Promise.all([
      cli(['export', folder, '--name', 'minilm', '--python', familyPython(root, 'hf'), '--json'], { home }),
      reference<Encoded>(python, 'sentence_transformers_encode', { folder, texts: TEXTS }),
    ]);
    expect(r.exitCode, r.stderr).toBe(0);
    return { python, folder, home, exportDoc: JSON.parse(r.stdout), expected };
  })();
  return setup;
}

/** Cosine and largest component difference of every text against the reference, with the worst of each. */
function compare(actual: ReadonlyArray<{ embedding?: number[] }>, expected: number[][], what: string) {
  expect(actual, what).toHaveLength(expected.length);
  actual.forEach((p, i) => {
    const a = p.embedding as number[];
    const e = expected[i] as number[];
    expect(a, `${what}: text ${i + 1}`).toHaveLength(e.length);
    let dot = 0;
    let na = 0;
    let ne = 0;
    let worst = 0;
    e.forEach((x, k) => {
      const y = a[k] as number;
      dot += x * y;
      na += y * y;
      ne += x * x;
      worst = Math.max(worst, Math.abs(x - y));
    });
    expect(dot / Math.sqrt(na * ne), `${what}: cosine of text ${i + 1}`).toBeGreaterThanOrEqual(MIN_COSINE);
    expect(worst, `${what}: max abs diff of text ${i + 1}`).toBeLessThanOrEqual(TOL);
  });
}

/** A variant of the model's folder: the weights linked, the small JSON files written as `edit` says. */
function variant(folder: string, edit: (dir: string) => void): string {
  const dir = join(fileDir('modelctl-minilm-variant-'), 'variant');
  mkdirSync(join(dir, '1_Pooling'), { recursive: true });
  for (const f of readdirSync(folder)) {
    if (f === 'model.safetensors') symlinkSync(join(folder, f), join(dir, f));
    else if (f.endsWith('.json') || f.endsWith('.txt')) copyFileSync(join(folder, f), join(dir, f));
  }
  copyFileSync(join(folder, '1_Pooling', 'config.json'), join(dir, '1_Pooling', 'config.json'));
  edit(dir);
  return dir;
}

const writeJson = (path: string, value: unknown) => writeFileSync(path, JSON.stringify(value, null, 2));
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

describe('sentence-transformers/all-MiniLM-L6-v2: modelctl export + predict against SentenceTransformer.encode', () => {
  it(
    'export validates without flags and carries modules.json, the configs and 1_Pooling/config.json into the version and its metadata',
    SLOW,
    async () => {
      const s = await exported();
      if (!s) return;
      expect(s.exportDoc.task).toBe('feature-extraction');
      expect(s.exportDoc.validation.passed).toBe(true);
      expect(s.exportDoc.validation.max_abs_diff).toBeLessThanOrEqual(TOL);
      const files = (s.exportDoc.manifest.files as Array<{ path: string }>).map((f) => f.path);
      const carried = ['modules.json', 'sentence_bert_config.json', 'config_sentence_transformers.json', '1_Pooling/config.json'];
      expect(files).toEqual(expect.arrayContaining(['model.onnx', 'tokenizer.json', ...carried]));
      const info = await cli(['info', 'minilm', '--json'], { home: s.home });
      expect(info.exitCode, info.stderr).toBe(0);
      const embedded = JSON.parse(info.stdout).embedded.processorConfig;
      expect(Object.keys(embedded)).toEqual(expect.arrayContaining(carried));
      expect(embedded['sentence_bert_config.json'].max_seq_length).toBe(256);
    },
  );

  it(
    'predict through the CLI, no flags: every text within 1e-4 (cosine >= 0.99999), long ones cut at max_seq_length 256',
    SLOW,
    async () => {
      const s = await exported();
      if (!s) return;
      // The text set really holds texts past the model's 256 tokens (and past the tokenizer's own 512).
      expect(s.expected.max_seq_length).toBe(256);
      expect(s.expected.tokens.filter((n) => n > 256).length).toBeGreaterThanOrEqual(3);
      expect(Math.max(...s.expected.tokens)).toBeGreaterThan(600);
      const r = await cli(['predict', 'minilm', ...TEXTS, '--json'], { home: s.home });
      expect(r.exitCode, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.normalized).toBe(true);
      compare(out.predictions, s.expected.embeddings, 'CLI');
      expect(out.predictions.map((p: { truncated?: boolean }) => p.truncated === true)).toEqual(s.expected.tokens.map((n) => n > 256));
    },
  );

  it('predict through the library: the registered model, in batches of 3, and the ONNX file alone (its metadata only)', SLOW, async () => {
    const s = await exported();
    if (!s) return;
    const registry = new Registry({ home: s.home });
    const input = { kind: 'texts' as const, texts: TEXTS };
    const r = await predict({ model: 'minilm', registry, input, threads: 1, batchSize: 3 });
    expect(r.normalized).toBe(true);
    compare(r.predictions ?? [], s.expected.embeddings, 'library, batches of 3');
    const info = await registry.info('minilm');
    const onnx = join(fileDir('modelctl-minilm-alone-'), 'model.onnx');
    copyFileSync(info.blobPaths['model.onnx'] as string, onnx);
    const alone = await predict({ model: onnx, input, threads: 1 });
    expect(alone.taskReason).toBe('embedded metadata');
    compare(alone.predictions ?? [], s.expected.embeddings, 'the ONNX file alone');
  });

  it(
    'embed-metadata --from-dir follows another folder’s modules.json, pooling modes and max_seq_length (CLI and library)',
    SLOW,
    async () => {
      const s = await exported();
      if (!s) return;
      const info = await new Registry({ home: s.home }).info('minilm');
      const onnx = join(fileDir('modelctl-minilm-embed-'), 'model.onnx');
      copyFileSync(info.blobPaths['model.onnx'] as string, onnx);
      // Legacy booleans (cls then max, concatenated), no Normalize module, a shorter max_seq_length.
      const clsMax = variant(s.folder, (dir) => {
        writeJson(join(dir, '1_Pooling', 'config.json'), {
          word_embedding_dimension: 384,
          pooling_mode_cls_token: true,
          pooling_mode_max_tokens: true,
          pooling_mode_mean_tokens: false,
        });
        writeJson(join(dir, 'modules.json'), readJson(join(dir, 'modules.json')).slice(0, 2));
        writeJson(join(dir, 'sentence_bert_config.json'), { max_seq_length: 128, do_lower_case: false });
      });
      // The newer pooling_mode list, with Normalize, lower-casing and the tokenizer's 512 as the limit.
      const modes = variant(s.folder, (dir) => {
        writeJson(join(dir, '1_Pooling', 'config.json'), {
          embedding_dimension: 384,
          pooling_mode: ['weightedmean', 'lasttoken', 'mean_sqrt_len_tokens'],
        });
        writeJson(join(dir, 'sentence_bert_config.json'), { max_seq_length: 512, do_lower_case: true });
      });
      const [refClsMax, refModes] = await Promise.all([
        reference<Encoded>(s.python, 'sentence_transformers_encode', { folder: clsMax, texts: TEXTS }),
        reference<Encoded>(s.python, 'sentence_transformers_encode', { folder: modes, texts: TEXTS }),
      ]);
      const out = join(fileDir('modelctl-minilm-embedded-'), 'cls-max.onnx');
      const e = await cli(['embed-metadata', onnx, '--from-dir', clsMax, '--out', out, '--json']);
      expect(e.exitCode, e.stderr).toBe(0);
      const p = await cli(['predict', out, ...TEXTS, '--json']);
      expect(p.exitCode, p.stderr).toBe(0);
      const got = JSON.parse(p.stdout);
      expect(got.normalized).toBe(false);
      expect(got.predictions[0].embedding).toHaveLength(768);
      compare(got.predictions, refClsMax.embeddings, 'cls+max, --from-dir');

      await embedMetadata({ model: onnx, fromDir: modes });
      const r = await predict({ model: onnx, input: { kind: 'texts', texts: TEXTS }, threads: 1, batchSize: 5 });
      expect(r.normalized).toBe(true);
      compare(r.predictions ?? [], refModes.embeddings, 'weightedmean+lasttoken+mean_sqrt_len_tokens, library');
    },
  );
  it(
    'a folder in the older layout (the transformer, its tokenizer and sentence_bert_config.json in 0_Transformer/): export and embed-metadata --from-dir',
    SLOW,
    async () => {
      const s = await exported();
      if (!s) return;
      const legacy = join(fileDir('modelctl-minilm-legacy-'), 'legacy');
      mkdirSync(join(legacy, '0_Transformer'), { recursive: true });
      mkdirSync(join(legacy, '1_Pooling'));
      const atRoot = new Set(['modules.json', 'config_sentence_transformers.json']);
      for (const f of readdirSync(s.folder)) {
        if (f === 'model.safetensors')
          linkSync(join(s.folder, f), join(legacy, '0_Transformer', f)); // inspection skips symlinks
        else if (f.endsWith('.json') || f.endsWith('.txt'))
          copyFileSync(join(s.folder, f), join(legacy, atRoot.has(f) ? '' : '0_Transformer', f));
      }
      copyFileSync(join(s.folder, '1_Pooling', 'config.json'), join(legacy, '1_Pooling', 'config.json'));
      const modules = readJson(join(legacy, 'modules.json')) as Array<{ type: string; path: string }>;
      writeJson(
        join(legacy, 'modules.json'),
        modules.map((m) => (m.type.endsWith('.Transformer') ? { ...m, path: '0_Transformer' } : m)),
      );
      writeJson(join(legacy, '0_Transformer', 'sentence_bert_config.json'), { max_seq_length: 128, do_lower_case: false });
      const home = fileDir('modelctl-minilm-legacy-home-');
      const [r, expected] = await Promise.all([
        cli(['export', legacy, '--name', 'legacy', '--python', familyPython(converterRoot() as string, 'hf'), '--json'], { home }),
        reference<Encoded>(s.python, 'sentence_transformers_encode', { folder: legacy, texts: TEXTS }),
      ]);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(expected.max_seq_length).toBe(128);
      const p = await cli(['predict', 'legacy', ...TEXTS, '--json'], { home });
      expect(p.exitCode, p.stderr).toBe(0);
      compare(JSON.parse(p.stdout).predictions, expected.embeddings, 'legacy layout, exported');

      const info = await new Registry({ home: s.home }).info('minilm');
      const onnx = join(fileDir('modelctl-minilm-legacy-embed-'), 'model.onnx');
      copyFileSync(info.blobPaths['model.onnx'] as string, onnx);
      const e = await cli(['embed-metadata', onnx, '--from-dir', legacy, '--json']);
      expect(e.exitCode, e.stderr).toBe(0);
      const sources = JSON.stringify(JSON.parse(e.stdout));
      expect(sources).toContain('0_Transformer/tokenizer.json');
      const q = await cli(['predict', onnx, ...TEXTS, '--json']);
      expect(q.exitCode, q.stderr).toBe(0);
      compare(JSON.parse(q.stdout).predictions, expected.embeddings, 'legacy layout, embed-metadata --from-dir');
    },
  );
});
