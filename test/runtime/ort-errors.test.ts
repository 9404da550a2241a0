import { describe, expect, it } from 'vitest';
import { ortFirstLine } from '../../src/runtime/ort-errors.js';

// Messages as onnxruntime-node 1.30 throws them (captured from real failures).
const SIGNATURE =
  'onnxruntime::Model::Model(onnx::ModelProto&&, const onnxruntime::PathString&, const onnxruntime::IOnnxRuntimeOpSchemaRegistryList*, const onnxruntime::logging::Logger&, const onnxruntime::ModelOptions&)';

describe('ortFirstLine', () => {
  const cases: Array<[string, string]> = [
    ['Load model from /m/random.onnx failed:Protobuf parsing failed.', 'Protobuf parsing failed.'],
    [
      `Load model from /m/empty.onnx failed:/onnxruntime_src/onnxruntime/core/graph/model.cc:187 ${SIGNATURE} ModelProto does not have a graph.\n`,
      'ModelProto does not have a graph.',
    ],
    [
      `Load model from /m/x.onnx failed:/onnxruntime_src/onnxruntime/core/graph/model.cc:202 ${SIGNATURE} Unsupported model IR version: 14, max supported IR version: 13\n`,
      'Unsupported model IR version: 14, max supported IR version: 13',
    ],
    [
      'Load model from /m/x.onnx failed:/onnxruntime_src/onnxruntime/core/graph/model_load_utils.h:46 void onnxruntime::model_load_utils::ValidateOpsetForDomain(const std::unordered_map<std::__cxx11::basic_string<char>, int>&, const onnxruntime::logging::Logger&, bool, const std::string&, int) Opset 99 is under development.\n',
      'Opset 99 is under development.',
    ],
    [
      'Load model from /m/c.onnx failed:Fatal error: com.example:FooOp(-1) is not a registered function/op',
      'Fatal error: com.example:FooOp(-1) is not a registered function/op',
    ],
    [
      '[ONNXRuntimeError] : 1 : FAIL : CUDA failure 100: no CUDA-capable device is detected\nmore detail',
      'CUDA failure 100: no CUDA-capable device is detected',
    ],
    [
      'OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library',
      'OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library',
    ],
    ['\n\n  second line first  \nthird', 'second line first'],
  ];
  it.each(cases)('%j', (raw, expected) => {
    expect(ortFirstLine(raw)).toBe(expected);
  });

  it('keeps one bounded line', () => {
    const line = ortFirstLine(`x${'y'.repeat(1000)}\nz`);
    expect(line).not.toContain('\n');
    expect(line.length).toBeLessThanOrEqual(300);
  });
});
