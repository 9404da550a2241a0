import { describe, expect, it } from 'vitest';
import { detectTaskFromConfig } from '../../src/formats/index.js';
import { detectTaskFromClasses, detectTaskFromObjective, detectTaskFromOnnx } from '../../src/formats/task.js';
import { emptySummary, type OnnxSummary } from '../../src/onnx/summary.js';

describe('detectTaskFromConfig', () => {
  const cases: Array<[string, string]> = [
    ['BertForSequenceClassification', 'text-classification'],
    ['RobertaForTokenClassification', 'token-classification'],
    ['DistilBertForQuestionAnswering', 'question-answering'],
    ['ViTForImageClassification', 'image-classification'],
    ['DetrForObjectDetection', 'object-detection'],
    ['LlamaForCausalLM', 'text-generation'],
    ['GPT2LMHeadModel', 'text-generation'],
    ['BertForMaskedLM', 'fill-mask'],
    ['BertModel', 'feature-extraction'],
    ['XLMRobertaModel', 'feature-extraction'],
    ['Wav2Vec2ForSequenceClassification', 'audio-classification'],
    ['Wav2Vec2ForCTC', 'automatic-speech-recognition'],
    ['WhisperForConditionalGeneration', 'automatic-speech-recognition'],
    ['T5ForConditionalGeneration', 'text2text-generation'],
    ['SegformerForSemanticSegmentation', 'image-segmentation'],
    ['YolosForObjectDetection', 'object-detection'],
  ];
  for (const [arch, task] of cases) {
    it(`${arch} -> ${task}`, () => {
      expect(detectTaskFromConfig({ architectures: [arch] })).toEqual({ task, reason: `config.json architectures: ${arch}` });
    });
  }

  it('uses a YOLO model_type when there are no architectures', () => {
    expect(detectTaskFromConfig({ model_type: 'yolov8' })).toEqual({ task: 'object-detection', reason: 'config.json model_type: yolov8' });
  });

  it('returns undefined for anything it cannot tell', () => {
    expect(detectTaskFromConfig(undefined)).toBeUndefined();
    expect(detectTaskFromConfig('BertModel')).toBeUndefined();
    expect(detectTaskFromConfig({ architectures: [42, 'SomethingOdd'] })).toBeUndefined();
  });
});

function summary(producerName: string, outputs: OnnxSummary['outputs'], metadataProps: Record<string, string> = {}): OnnxSummary {
  return { ...emptySummary(), irVersion: 8, producerName, outputs, metadataProps };
}

describe('other task sources', () => {
  it('ONNX from skl2onnx/onnxmltools: a label, map or sequence output means classification', () => {
    expect(detectTaskFromOnnx(summary('skl2onnx', [{ name: 'output_label', kind: 'tensor', dtype: 'int64' }]))?.task).toBe(
      'tabular-classification',
    );
    expect(detectTaskFromOnnx(summary('onnxmltools', [{ name: 'output_probability', kind: 'sequence' }]))?.task).toBe(
      'tabular-classification',
    );
    expect(detectTaskFromOnnx(summary('skl2onnx', [{ name: 'variable', kind: 'tensor', dtype: 'float32' }]))?.task).toBe(
      'tabular-regression',
    );
    expect(detectTaskFromOnnx(summary('pytorch', [{ name: 'y', kind: 'tensor', dtype: 'int64' }]))).toBeUndefined();
  });

  it('ONNX exported by Ultralytics carries its task', () => {
    const yolo = summary('pytorch', [], { author: 'Ultralytics', task: 'segment' });
    expect(detectTaskFromOnnx(yolo)).toEqual({ task: 'image-segmentation', reason: 'Ultralytics metadata task: segment' });
  });

  it('objectives name the task family', () => {
    expect(detectTaskFromObjective('binary:logistic', 'xgboost')?.task).toBe('tabular-classification');
    expect(detectTaskFromObjective('reg:squarederror', 'xgboost')?.task).toBe('tabular-regression');
    expect(detectTaskFromObjective('survival:cox', 'xgboost')?.task).toBe('tabular-regression');
    expect(detectTaskFromObjective('rank:ndcg', 'xgboost')?.task).toBe('ranking');
    expect(detectTaskFromObjective('multiclass num_class:3', 'lightgbm')?.task).toBe('tabular-classification');
    expect(detectTaskFromObjective('huber', 'lightgbm')?.task).toBe('tabular-regression');
    expect(detectTaskFromObjective('lambdarank', 'lightgbm')?.task).toBe('ranking');
    expect(detectTaskFromObjective('custom', 'lightgbm')).toBeUndefined();
  });

  it('pickled classes: the top class, else the last estimator of a pipeline, else YOLO', () => {
    expect(detectTaskFromClasses('sklearn.svm._classes.SVR', [])?.task).toBe('tabular-regression');
    const pipeline = detectTaskFromClasses('sklearn.pipeline.Pipeline', [
      'sklearn.pipeline.Pipeline',
      'sklearn.preprocessing._data.StandardScaler',
      'sklearn.linear_model._logistic.LogisticRegression',
    ]);
    expect(pipeline).toEqual({
      task: 'tabular-classification',
      reason: 'pickle references sklearn.linear_model._logistic.LogisticRegression inside sklearn.pipeline.Pipeline',
    });
    expect(detectTaskFromClasses('ultralytics.nn.tasks.DetectionModel', [])?.task).toBe('object-detection');
    expect(detectTaskFromClasses('xgboost.sklearn.XGBRanker', [])?.task).toBe('ranking');
    expect(detectTaskFromClasses('__main__.Net', ['torch.nn.modules.linear.Linear'])).toBeUndefined();
  });
});
