import { describe, expect, it } from 'vitest';
import { ModelctlError } from '../../src/errors.js';
import { computeHfChecksum, decodeHfMetadata } from '../../src/onnx/metadata.js';

describe('embedded metadata from hostile files', () => {
  it('refuses a value nested thousands of levels deep (it only exists to overflow a reader)', () => {
    const props: Record<string, string> = { hf_metadata_version: '2.0', hf_feature_config: `${'['.repeat(100_000)}${']'.repeat(100_000)}` };
    props.hf_checksum = computeHfChecksum(props);
    const err = (() => {
      try {
        decodeHfMetadata(props);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ModelctlError);
    expect((err as ModelctlError).code).toBe('CORRUPT_MODEL');
    expect((err as ModelctlError).message).toMatch(/hf_feature_config.*nested more than 256 levels/);
  });

  it('still reads ordinary nesting and brackets inside strings', () => {
    const props: Record<string, string> = {
      hf_metadata_version: '2.0',
      hf_feature_config: JSON.stringify({ a: [[[{ b: '[[[[{{{{"' }]]] }),
    };
    props.hf_checksum = computeHfChecksum(props);
    expect(decodeHfMetadata(props)?.featureConfig).toEqual({ a: [[[{ b: '[[[[{{{{"' }]]] });
  });
});
