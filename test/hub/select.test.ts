import { describe, expect, it } from 'vitest';
import { parseArgv } from '../cli/parse.js';
import { selectFiles } from '../../src/hub/select-files.js';
import { globToRegExp } from '../../src/util/glob.js';
import { parsePullSource, redactUrl } from '../../src/hub/pull-source.js';

describe('pull: what to take and from where', () => {
  it('takes configs, tokenizer files, ONNX with external data and one weight format by default', () => {
    const repo = [
      '.gitattributes',
      'README.md',
      'config.json',
      'tokenizer.json',
      'vocab.txt',
      'spiece.model',
      'modeling_custom.py',
      'model.safetensors',
      'model.safetensors.index.json',
      'pytorch_model.bin',
      'pytorch_model.bin.index.json',
      'tf_model.h5',
      'flax_model.msgpack',
      'rust_model.ot',
      'onnx/model.onnx',
      'onnx/model.onnx_data',
      'onnx/model_quantized.onnx',
      'onnx/model_fp16.onnx',
    ];
    const { selected, skippedWeights } = selectFiles(repo);
    expect(selected).toEqual([
      'config.json',
      'model.safetensors',
      'model.safetensors.index.json',
      'onnx/model.onnx',
      'onnx/model.onnx_data',
      'spiece.model',
      'tokenizer.json',
      'vocab.txt',
    ]);
    expect(skippedWeights.sort()).toEqual([
      'flax_model.msgpack',
      'onnx/model_fp16.onnx',
      'onnx/model_quantized.onnx',
      'pytorch_model.bin',
      'pytorch_model.bin.index.json',
      'rust_model.ot',
      'tf_model.h5',
    ]);
    // without safetensors, the PyTorch weights are the ones taken
    expect(selectFiles(['config.json', 'pytorch_model.bin', 'tf_model.h5']).selected).toEqual(['config.json', 'pytorch_model.bin']);
    // a lone quantized ONNX file is the model
    expect(selectFiles(['onnx/model_quantized.onnx']).selected).toEqual(['onnx/model_quantized.onnx']);
  });

  it('--include replaces the default, --exclude applies last; globs are fnmatch (* crosses /)', () => {
    const repo = ['config.json', 'onnx/model.onnx', 'pytorch_model.bin', 'model.safetensors'];
    expect(selectFiles(repo, ['*.bin', 'onnx/']).selected).toEqual(['onnx/model.onnx', 'pytorch_model.bin']);
    expect(selectFiles(repo, [], ['*.onnx']).selected).toEqual(['config.json', 'model.safetensors']);
    expect(globToRegExp('*.json').test('a/b/config.json')).toBe(true);
    expect(globToRegExp('model-0000[1-2]-of-*.safetensors').test('model-00002-of-00003.safetensors')).toBe(true);
    expect(globToRegExp('config.json').test('configXjson')).toBe(false);
  });

  it('file names given as arguments are exact (no glob), join --include, and report the missing ones', () => {
    const repo = ['config.json', 'onnx/model.onnx', 'pytorch_model.bin', 'model.safetensors', 'a[1].json'];
    expect(selectFiles(repo, [], [], ['a[1].json', 'onnx/model.onnx'])).toEqual({
      selected: ['a[1].json', 'onnx/model.onnx'],
      skippedWeights: [],
      missing: [],
    });
    expect(selectFiles(repo, ['*.bin'], ['onnx/*'], ['config.json', 'onnx/model.onnx', 'nope.txt'])).toEqual({
      selected: ['config.json', 'pytorch_model.bin'],
      skippedWeights: [],
      missing: ['nope.txt'],
    });
  });

  it('parses sources and refuses what could escape', () => {
    expect(parsePullSource('hf:org/name@v1.0')).toEqual({ kind: 'hub', repo: 'org/name', revision: 'v1.0' });
    expect(parsePullSource('org/name')).toEqual({ kind: 'hub', repo: 'org/name' });
    expect(parsePullSource('hf:gpt2')).toEqual({ kind: 'hub', repo: 'gpt2' });
    expect(parsePullSource('./models/x')).toEqual({ kind: 'path', path: './models/x' });
    expect(parsePullSource('https://example.com/m.onnx').kind).toBe('url');
    for (const bad of ['bert', 'hf:org/../x', 'hf:org/name@../../etc', 'hf:a/b/c', '']) expect(() => parsePullSource(bad), bad).toThrow();
    expect(redactUrl('https://user:pw@example.com/m.onnx?X-Amz-Signature=s3cret')).toBe('https://example.com/m.onnx?…');
  });

  it('turns pull argv into options', async () => {
    const got = await parseArgv([
      'pull',
      'hf:org/m',
      '--include',
      '*.json',
      '--include',
      '*.onnx',
      '--exclude',
      'x',
      '--revision',
      'v2',
      '--concurrency',
      '8',
      '--offline',
      '--progress',
      '--json',
    ]);
    expect(got).toMatchObject({
      name: 'pull',
      args: ['hf:org/m'],
      options: { include: ['*.json', '*.onnx'], exclude: ['x'], revision: 'v2', concurrency: 8, offline: true, progress: true, json: true },
    });
  });
});
