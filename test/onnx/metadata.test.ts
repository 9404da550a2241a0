import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ModelctlError } from '../../src/errors.js';
import {
  COMPRESS_OVER_BYTES,
  GZIP_MARKER,
  HF_KEYS,
  applyHfSet,
  computeHfChecksum,
  decodeHfMetadata,
  encodeHfMetadata,
  isHfKey,
  type HfMetadata,
} from '../../src/onnx/metadata.js';

const clock = () => new Date('2024-05-01T12:34:56.789Z');

const BERT_CONFIG = {
  architectures: ['BertForSequenceClassification'],
  model_type: 'bert',
  hidden_size: 768,
  id2label: { '0': 'NEGATIVE', '1': 'POSITIVE' },
  label2id: { NEGATIVE: 0, POSITIVE: 1 },
};

function expectError(fn: () => unknown, code: string, message?: RegExp): ModelctlError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ModelctlError);
  const err = caught as ModelctlError;
  expect(err.code).toBe(code);
  expect(err.message).not.toContain('\n');
  expect(err.hint).toBeTruthy();
  if (message) expect(err.message).toMatch(message);
  return err;
}

/** Re-signs props after an edit, so a test reaches the decoding behind the checksum. */
function resign(props: Record<string, string>): Record<string, string> {
  return { ...props, [HF_KEYS.checksum]: computeHfChecksum(props) };
}

describe('metadata schema 2.0', () => {
  it('encodes every key as compact JSON or plain text, version first and checksum last, and decodes it back', () => {
    const meta: HfMetadata = {
      task: 'text-classification',
      modelConfig: BERT_CONFIG,
      processorConfig: { 'tokenizer_config.json': { do_lower_case: true, model_max_length: 512 } },
      featureConfig: { feature_names: ['a', 'b'], n_features: 2 },
      extra: { hf_source_repo: 'org/model' },
    };
    const props = encodeHfMetadata(meta, { clock });
    expect(Object.keys(props)).toEqual([
      'hf_metadata_version',
      'hf_pipeline_task',
      'hf_export_timestamp',
      'hf_model_config',
      'hf_processor_config',
      'hf_feature_config',
      'hf_source_repo',
      'hf_checksum',
    ]);
    expect(props.hf_metadata_version).toBe('2.0');
    expect(props.hf_pipeline_task).toBe('text-classification');
    expect(props.hf_export_timestamp).toBe('2024-05-01T12:34:56.789Z');
    expect(props.hf_model_config).toBe(JSON.stringify(BERT_CONFIG));
    expect(props.hf_model_config).not.toMatch(/\s/);
    expect(props.hf_checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
    const decoded = decodeHfMetadata(props);
    expect(decoded).toEqual({
      version: '2.0',
      task: 'text-classification',
      modelConfig: BERT_CONFIG,
      processorConfig: meta.processorConfig,
      featureConfig: meta.featureConfig,
      exportTimestamp: '2024-05-01T12:34:56.789Z',
      checksum: { stored: props.hf_checksum, computed: props.hf_checksum, ok: true },
      extra: { hf_source_repo: 'org/model' },
      sizes: Object.fromEntries(Object.entries(props).map(([k, v]) => [k, Buffer.byteLength(v)])),
    });
  });

  it('defines the checksum over the stored strings of the other hf_* keys, sorted, as compact JSON', () => {
    const props: Record<string, string> = {
      ...encodeHfMetadata({ task: 'fill-mask', modelConfig: { big: 'x'.repeat(20_000) } }, { clock }),
      author: 'me',
    };
    const stored = props.hf_checksum;
    const rest = Object.entries(props).filter(([k]) => k !== 'hf_checksum' && k !== 'author');
    const canonical = JSON.stringify(Object.fromEntries(rest.sort(([a], [b]) => (a < b ? -1 : 1))));
    expect(stored).toBe(`sha256:${createHash('sha256').update(canonical).digest('hex')}`);
    // The compressed value enters the checksum as stored: verifying never inflates it.
    expect(canonical).toContain(GZIP_MARKER);
    // Keys that are not hf_* are outside the checksum: tools may add them freely.
    expect(decodeHfMetadata({ ...props, author: 'someone else' })?.checksum.ok).toBe(true);
  });

  it('stores values over 10 KB gzip-compressed behind the marker, counting UTF-8 bytes', () => {
    const vocab = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`token_${i}`, i]));
    const props = encodeHfMetadata({ processorConfig: { 'tokenizer.json': { model: { vocab } } } }, { clock });
    const stored = props.hf_processor_config as string;
    expect(stored.startsWith(GZIP_MARKER)).toBe(true);
    const json = gunzipSync(Buffer.from(stored.slice(GZIP_MARKER.length), 'base64')).toString('utf8');
    expect(JSON.parse(json)).toEqual({ 'tokenizer.json': { model: { vocab } } });
    expect(stored.length).toBeLessThan(json.length / 2);
    expect(decodeHfMetadata(props)?.processorConfig).toEqual({ 'tokenizer.json': { model: { vocab } } });
    expect(decodeHfMetadata(props)?.sizes.hf_processor_config).toBe(stored.length);

    // The threshold is on bytes: exactly 10240 stays plain, one more is compressed.
    const atLimit = encodeHfMetadata({ featureConfig: 'a'.repeat(COMPRESS_OVER_BYTES - 2) }, { clock });
    expect(atLimit.hf_feature_config).toBe(JSON.stringify('a'.repeat(COMPRESS_OVER_BYTES - 2)));
    const over = encodeHfMetadata({ featureConfig: 'a'.repeat(COMPRESS_OVER_BYTES - 1) }, { clock });
    expect(over.hf_feature_config?.startsWith(GZIP_MARKER)).toBe(true);
    const accents = 'é'.repeat(5200); // 5200 characters, 10400 bytes
    expect(encodeHfMetadata({ featureConfig: accents }, { clock }).hf_feature_config?.startsWith(GZIP_MARKER)).toBe(true);
  });

  it('round-trips unicode in values, keys of the processor files, and extras', () => {
    const meta: HfMetadata = {
      task: 'traducción-文本',
      modelConfig: { labels: ['😀', 'naïve', '中文', '\u2028', 'tab\there'], nested: { ключ: [1.5, -2, null, true] } },
      processorConfig: { 'tokenizer_config.json': { bos: '<s>', emoji: '🤗' } },
      extra: { hf_note: 'ünïcødé ✓ 🤗' },
      exportTimestamp: '2023-01-02T03:04:05Z',
    };
    const decoded = decodeHfMetadata(encodeHfMetadata(meta));
    expect(decoded).toMatchObject({ ...meta, extra: meta.extra, exportTimestamp: '2023-01-02T03:04:05Z' });
  });

  it('reports no metadata when there is no hf_ key', () => {
    expect(decodeHfMetadata({})).toBeUndefined();
    expect(decodeHfMetadata({ author: 'x', HF_upper: 'not ours', 'hf-dash': 'nor this' })).toBeUndefined();
    expect(isHfKey('hf_x')).toBe(true);
    expect(isHfKey('hf')).toBe(false);
    expect(isHfKey('xhf_')).toBe(false);
  });

  it('fails with INTEGRITY (exit 4) when a stored value, key or checksum was edited', () => {
    const props = encodeHfMetadata({ task: 'text-classification', modelConfig: BERT_CONFIG }, { clock });
    const edited = { ...props, hf_model_config: (props.hf_model_config as string).replace('768', '769') };
    const err = expectError(() => decodeHfMetadata(edited), 'INTEGRITY', /modified after it was written/);
    expect(err.exitCode).toBe(4);
    expectError(() => decodeHfMetadata({ ...props, hf_pipeline_task: 'fill-mask' }), 'INTEGRITY');
    expectError(() => decodeHfMetadata({ ...props, hf_sneaked_in: '1' }), 'INTEGRITY');
    const { hf_feature_config: _none, hf_pipeline_task: _task, ...dropped } = props;
    expectError(() => decodeHfMetadata(dropped), 'INTEGRITY');
    expectError(() => decodeHfMetadata({ ...props, hf_checksum: `sha256:${'0'.repeat(64)}` }), 'INTEGRITY');
    const { hf_checksum: _c, ...unsigned } = props;
    expectError(() => decodeHfMetadata(unsigned), 'INTEGRITY', /no hf_checksum/);
    // Asked not to verify, the mismatch is data.
    const lenient = decodeHfMetadata(edited, { verify: false });
    expect(lenient?.checksum).toEqual({ stored: props.hf_checksum, computed: computeHfChecksum(edited), ok: false });
    expect((lenient!.modelConfig as { hidden_size: number }).hidden_size).toBe(769);
  });

  it('names the found and the supported version for foreign metadata', () => {
    const older = { hf_metadata_version: '1.0', hf_config: '{"a":1}', hf_task: 'text-classification' };
    const err = expectError(() => decodeHfMetadata(older), 'CORRUPT_MODEL', /version "1\.0".*version 2\.0/);
    expect(err.details).toEqual({ found: '1.0', supported: ['2.0'] });
    const newer = resign({ ...encodeHfMetadata({ task: 'x' }, { clock }), hf_metadata_version: '3.0' });
    expectError(() => decodeHfMetadata(newer), 'CORRUPT_MODEL', /version "3\.0"/);
    expectError(() => decodeHfMetadata({ hf_task: 'text-classification' }), 'CORRUPT_MODEL', /"hf_task".*no hf_metadata_version/);
  });

  it('names the key whose value is not JSON, not base64 or not gzip', () => {
    const props = encodeHfMetadata({ modelConfig: BERT_CONFIG, featureConfig: { n_features: 3 } }, { clock });
    expectError(
      () => decodeHfMetadata(resign({ ...props, hf_model_config: '{"a":' })),
      'CORRUPT_MODEL',
      /hf_model_config is not valid JSON/,
    );
    expectError(
      () => decodeHfMetadata(resign({ ...props, hf_feature_config: `${GZIP_MARKER}not base64!` })),
      'CORRUPT_MODEL',
      /hf_feature_config .*not valid base64/,
    );
    const notGzip = GZIP_MARKER + Buffer.from('plain text, not gzip').toString('base64');
    expectError(
      () => decodeHfMetadata(resign({ ...props, hf_feature_config: notGzip })),
      'CORRUPT_MODEL',
      /hf_feature_config .*not valid gzip/,
    );
    const gzippedNonsense = GZIP_MARKER + gzipSync(Buffer.from('{nope')).toString('base64');
    expectError(
      () => decodeHfMetadata(resign({ ...props, hf_model_config: gzippedNonsense })),
      'CORRUPT_MODEL',
      /hf_model_config is not valid JSON/,
    );
    expectError(
      () => decodeHfMetadata(resign({ ...props, hf_processor_config: '[1,2]' })),
      'CORRUPT_MODEL',
      /hf_processor_config .*object/,
    );
  });

  it('refuses to inflate a compressed value past its bound', () => {
    const bomb = GZIP_MARKER + gzipSync(Buffer.alloc(65 * 1024 * 1024, 0x20), { level: 1 }).toString('base64');
    const props = resign({ ...encodeHfMetadata({}, { clock }), hf_model_config: bomb });
    expectError(() => decodeHfMetadata(props), 'CORRUPT_MODEL', /hf_model_config .*not valid gzip/);
  });

  it('rejects metadata it could not write faithfully', () => {
    expectError(
      () => encodeHfMetadata({ processorConfig: [1] as unknown as Record<string, unknown> }),
      'INVALID_INPUT',
      /object keyed by file name/,
    );
    expectError(() => encodeHfMetadata({ modelConfig: { n: 1n } }), 'INVALID_INPUT', /model config cannot be written as JSON/);
    expectError(() => encodeHfMetadata({ modelConfig: () => 1 }), 'INVALID_INPUT');
    expectError(() => encodeHfMetadata({ extra: { hf_checksum: 'sha256:00' } }), 'INVALID_INPUT', /part of the schema/);
    expectError(() => encodeHfMetadata({ extra: { author: 'x' } }), 'INVALID_INPUT', /not an hf_\* name/);
    expectError(() => encodeHfMetadata({ task: 'bad\ud800' }), 'INVALID_INPUT', /lone surrogate/);
    expectError(() => encodeHfMetadata({ task: 'two\nlines' }), 'INVALID_INPUT', /"two\\nlines"/);
    expectError(() => encodeHfMetadata({ exportTimestamp: 'yesterday' }), 'INVALID_INPUT', /ISO 8601/);
    expectError(() => encodeHfMetadata({}, { clock: () => new Date(Number.NaN) }), 'INVALID_INPUT');
  });

  it('maps --set pairs onto the schema', () => {
    const { meta, plain } = applyHfSet(
      { task: 'a', extra: { hf_keep: '1' } },
      { hf_pipeline_task: 'b', hf_model_config: '{"x":1}', hf_origin: 'hub', license: 'mit' },
    );
    expect(meta).toEqual({ task: 'b', modelConfig: { x: 1 }, extra: { hf_keep: '1', hf_origin: 'hub' } });
    expect(plain).toEqual({ license: 'mit' });
    expectError(() => applyHfSet({}, { hf_checksum: 'x' }), 'INVALID_INPUT', /computes this key/);
    expectError(() => applyHfSet({}, { hf_feature_config: '{oops' }), 'INVALID_INPUT', /not valid JSON/);
  });

  const extraKey = fc.stringMatching(/^hf_[a-z0-9_.-]{1,12}$/).filter((k) => !Object.values(HF_KEYS).includes(k as never));
  const metaArb: fc.Arbitrary<HfMetadata> = fc.record(
    {
      task: fc.stringMatching(/^[a-z][a-z0-9-]{0,40}$/),
      modelConfig: fc.jsonValue(),
      processorConfig: fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue(), { maxKeys: 4 }),
      // Sometimes large enough (over 10 KB) to be stored compressed.
      featureConfig: fc.record({
        feature_names: fc.oneof(
          fc.array(fc.string({ unit: 'binary' }), { maxLength: 5 }),
          fc.array(fc.string({ unit: 'binary', minLength: 4, maxLength: 12 }), { minLength: 1500, maxLength: 2000 }),
        ),
        n_features: fc.nat(),
      }),
      exportTimestamp: fc
        .date({ min: new Date('1970-01-01'), max: new Date('2999-12-31'), noInvalidDate: true })
        .map((d) => d.toISOString()),
      extra: fc.dictionary(extraKey, fc.string({ unit: 'binary' }), { maxKeys: 4 }),
    },
    { requiredKeys: [] },
  );

  it('round-trips random metadata (property)', () => {
    let compressed = 0;
    fc.assert(
      fc.property(metaArb, (meta) => {
        const props = encodeHfMetadata(meta, { clock });
        if (Object.values(props).some((v) => v.startsWith(GZIP_MARKER))) compressed++;
        const d = decodeHfMetadata(props);
        const json = (v: unknown) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));
        expect(d?.checksum.ok).toBe(true);
        expect(d?.task).toBe(meta.task);
        expect(d?.modelConfig).toEqual(json(meta.modelConfig));
        expect(d?.processorConfig).toEqual(json(meta.processorConfig));
        expect(d?.featureConfig).toEqual(json(meta.featureConfig));
        expect(d?.exportTimestamp).toBe(meta.exportTimestamp ?? clock().toISOString());
        expect(d?.extra).toEqual(meta.extra ?? {});
      }),
      { numRuns: 150, seed: 7 },
    );
    expect(compressed).toBeGreaterThan(0);
  });

  it('meets mutated and random hf_ values with ModelctlError only (property)', () => {
    const base = encodeHfMetadata(
      { task: 't', modelConfig: { vocab: Array.from({ length: 2500 }, (_, i) => `w${i}`) }, featureConfig: { n: 1 } },
      { clock },
    );
    const keys = Object.keys(base);
    const mutation = fc.record({
      key: fc.oneof(fc.constantFrom(...keys), extraKey),
      kind: fc.constantFrom('replace', 'truncate', 'flip', 'delete'),
      text: fc.string({ unit: 'binary', maxLength: 30 }),
      at: fc.nat(),
      resign: fc.boolean(),
    });
    const seen = new Set<string>();
    const check = (props: Record<string, string>) => {
      try {
        const d = decodeHfMetadata(props);
        if (d) expect(d.version).toBe('2.0');
        seen.add(d ? 'decoded' : 'none');
      } catch (err) {
        expect(err).toBeInstanceOf(ModelctlError);
        expect(['INTEGRITY', 'CORRUPT_MODEL']).toContain((err as ModelctlError).code);
        expect((err as ModelctlError).message).not.toMatch(/[\n\r\u2028\u2029]/);
        seen.add((err as ModelctlError).code);
      }
    };
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        let props: Record<string, string> = { ...base };
        for (const m of mutations) {
          const old = props[m.key] ?? '';
          const at = old.length ? m.at % old.length : 0;
          if (m.kind === 'delete') delete props[m.key];
          else if (m.kind === 'replace') props[m.key] = m.text;
          else if (m.kind === 'truncate') props[m.key] = old.slice(0, at);
          else props[m.key] = old.slice(0, at) + m.text + old.slice(at + 1);
          if (m.resign) props = resign(props);
        }
        check(props);
      }),
      { numRuns: 1500, seed: 11 },
    );
    fc.assert(
      fc.property(
        fc.dictionary(fc.oneof(fc.constantFrom(...keys), fc.string()), fc.string({ unit: 'binary' })),
        fc.boolean(),
        (props, sign) => {
          check(sign ? resign(props) : props);
        },
      ),
      { numRuns: 500, seed: 13 },
    );
    // The fuzzing reached every outcome: clean reads, tampering, and broken values behind a valid checksum.
    expect([...seen].sort()).toEqual(['CORRUPT_MODEL', 'INTEGRITY', 'decoded', 'none']);
  });
});
