import type { OnnxSummary } from '../onnx/summary.js';

/**
 * The task a model's own files suggest, with the evidence, so `register` can fill `task` without asking and the
 * user can see why. Each rule reads names the frameworks write (HF architectures, objectives, class names); when
 * nothing is conclusive the answer is undefined rather than a guess.
 */

export interface DetectedTask {
  task: string;
  reason: string;
}

/** Architecture-name suffixes in the order they must be tried (longer, more specific suffixes first). */
const ARCHITECTURE_SUFFIXES: Array<[RegExp, string]> = [
  [/ForSequenceClassification$/, 'text-classification'],
  [/ForTokenClassification$/, 'token-classification'],
  [/ForQuestionAnswering$/, 'question-answering'],
  [/ForImageClassification(WithTeacher)?$/, 'image-classification'],
  [/ForZeroShotObjectDetection$/, 'zero-shot-object-detection'],
  [/ForObjectDetection$/, 'object-detection'],
  [/(ForCausalLM|LMHeadModel)$/, 'text-generation'],
  [/(ForMaskedLM|ForPreTraining)$/, 'fill-mask'],
  [/(ForCTC|ForSpeechSeq2Seq)$/, 'automatic-speech-recognition'],
  [/ForAudioClassification$/, 'audio-classification'],
  [/For(Semantic|Universal|Instance)Segmentation$/, 'image-segmentation'],
  [/ForDepthEstimation$/, 'depth-estimation'],
  [/ForMultipleChoice$/, 'multiple-choice'],
  [/^(Whisper|Speech2Text|SpeechT5)ForConditionalGeneration$/, 'automatic-speech-recognition'],
  [/^VisionEncoderDecoderModel$/, 'image-to-text'],
  [/(ForConditionalGeneration|ForSeq2SeqLM)$/, 'text2text-generation'],
  [/^(CLIP|Siglip|Siglip2|AltCLIP|ChineseCLIP)Model$/, 'zero-shot-image-classification'],
];

/** Speech models reuse the text head names; their sequence classifiers classify audio. */
const AUDIO_PREFIX = /^(Wav2Vec2|Wav2Vec2Conformer|Hubert|WavLM|Whisper|AST|Data2VecAudio|UniSpeech|UniSpeechSat|SEW|SEWD)For/;

function fromArchitecture(arch: string): string | undefined {
  if (/yolo/i.test(arch)) return 'object-detection';
  if (AUDIO_PREFIX.test(arch) && arch.endsWith('ForSequenceClassification')) return 'audio-classification';
  for (const [pattern, task] of ARCHITECTURE_SUFFIXES) if (pattern.test(arch)) return task;
  // A bare backbone (BertModel, T5EncoderModel) produces hidden states: embeddings.
  if (/(Model|EncoderModel)$/.test(arch) && !/For/.test(arch)) return 'feature-extraction';
  return undefined;
}

/** The task a Hugging Face config.json suggests, from its architectures (or a YOLO model_type). */
export function detectTaskFromConfig(config: unknown): DetectedTask | undefined {
  if (typeof config !== 'object' || config === null) return undefined;
  const c = config as Record<string, unknown>;
  const architectures = Array.isArray(c.architectures) ? c.architectures.filter((a): a is string => typeof a === 'string') : [];
  for (const arch of architectures) {
    const task = fromArchitecture(arch);
    if (task) return { task, reason: `config.json architectures: ${arch}` };
  }
  if (typeof c.model_type === 'string' && /yolo/i.test(c.model_type)) {
    return { task: 'object-detection', reason: `config.json model_type: ${c.model_type}` };
  }
  return undefined;
}

/** sentence-transformers folders are embedding models whatever backbone their config.json names. */
export function detectTaskFromFolderFiles(paths: readonly string[]): DetectedTask | undefined {
  const marker = paths.find((p) => p === 'modules.json' || p === 'sentence_bert_config.json');
  return marker ? { task: 'feature-extraction', reason: `sentence-transformers folder (${marker})` } : undefined;
}

const ULTRALYTICS_TASKS: Record<string, string> = {
  detect: 'object-detection',
  obb: 'object-detection',
  segment: 'image-segmentation',
  classify: 'image-classification',
  pose: 'keypoint-detection',
};

/** ONNX: converters of classical ML mark classifiers by their label output; Ultralytics records its task. */
export function detectTaskFromOnnx(summary: OnnxSummary): DetectedTask | undefined {
  const producer = summary.producerName.toLowerCase();
  if (producer === 'skl2onnx' || producer === 'onnxmltools') {
    const label = summary.outputs.find(
      (o) => o.kind === 'map' || o.kind === 'sequence' || (o.kind === 'tensor' && (o.dtype === 'int64' || o.dtype === 'string')),
    );
    return label
      ? { task: 'tabular-classification', reason: `${summary.producerName} model with a label/probability output (${label.name})` }
      : { task: 'tabular-regression', reason: `${summary.producerName} model without a label output` };
  }
  const ultralyticsTask = summary.metadataProps.task;
  if (ultralyticsTask && /ultralytics/i.test(summary.metadataProps.author ?? '')) {
    const task = ULTRALYTICS_TASKS[ultralyticsTask];
    if (task) return { task, reason: `Ultralytics metadata task: ${ultralyticsTask}` };
  }
  return undefined;
}

/** XGBoost and LightGBM objectives name their task family. */
export function detectTaskFromObjective(objective: string | undefined, source: 'xgboost' | 'lightgbm'): DetectedTask | undefined {
  if (!objective) return undefined;
  const name = objective.trim().split(/\s+/)[0] ?? '';
  const reason = `${source} objective: ${name}`;
  if (source === 'xgboost') {
    if (/^(binary|multi):/.test(name)) return { task: 'tabular-classification', reason };
    if (/^(reg|count|survival):/.test(name)) return { task: 'tabular-regression', reason };
    if (/^rank:/.test(name)) return { task: 'ranking', reason };
    return undefined;
  }
  if (/^(binary|multiclass|multiclassova|softmax|ova|ovr|cross_entropy|xentropy|cross_entropy_lambda|xentlambda)$/.test(name)) {
    return { task: 'tabular-classification', reason };
  }
  if (/^(lambdarank|rank_xendcg|xendcg|xe_ndcg|xe_ndcg_mart|xendcg_mart)$/.test(name)) return { task: 'ranking', reason };
  if (/^(regression\w*|l1|l2|mse|mae|rmse|mean_\w+|root_mean\w+|huber|fair|poisson|quantile|mape|gamma|tweedie)$/.test(name)) {
    return { task: 'tabular-regression', reason };
  }
  return undefined;
}

const CLASSIFIERS = new Set([
  'LogisticRegression',
  'LogisticRegressionCV',
  'SVC',
  'NuSVC',
  'LinearSVC',
  'GaussianNB',
  'MultinomialNB',
  'BernoulliNB',
  'ComplementNB',
  'CategoricalNB',
  'Perceptron',
  'LinearDiscriminantAnalysis',
  'QuadraticDiscriminantAnalysis',
  'NearestCentroid',
  'CalibratedClassifierCV',
  'OneVsRestClassifier',
  'OneVsOneClassifier',
  'LabelPropagation',
  'LabelSpreading',
]);

const REGRESSORS = new Set([
  'LinearRegression',
  'Ridge',
  'RidgeCV',
  'Lasso',
  'LassoCV',
  'ElasticNet',
  'ElasticNetCV',
  'SVR',
  'NuSVR',
  'LinearSVR',
  'BayesianRidge',
  'ARDRegression',
  'Lars',
  'LarsCV',
  'LassoLars',
  'LassoLarsCV',
  'LassoLarsIC',
  'OrthogonalMatchingPursuit',
  'PoissonRegressor',
  'GammaRegressor',
  'TweedieRegressor',
  'KernelRidge',
  'IsotonicRegression',
  'PLSRegression',
  'QuantileRegressor',
  'TheilSenRegressor',
]);

const ULTRALYTICS_CLASSES: Record<string, string> = {
  DetectionModel: 'object-detection',
  OBBModel: 'object-detection',
  SegmentationModel: 'image-segmentation',
  ClassificationModel: 'image-classification',
  PoseModel: 'keypoint-detection',
  RTDETRDetectionModel: 'object-detection',
};

function fromClass(dotted: string): string | undefined {
  const name = dotted.slice(dotted.lastIndexOf('.') + 1);
  if (dotted.startsWith('ultralytics.')) return ULTRALYTICS_CLASSES[name];
  const root = dotted.split('.')[0];
  if (root !== 'sklearn' && root !== 'xgboost' && root !== 'lightgbm' && root !== 'catboost') return undefined;
  if (/Ranker$/.test(name)) return 'ranking';
  if (/Classifier(CV|Chain)?$/.test(name) || CLASSIFIERS.has(name)) return 'tabular-classification';
  if (/Regressor(CV|Chain)?$/.test(name) || REGRESSORS.has(name)) return 'tabular-regression';
  return undefined;
}

/** Whether a pickled class names a task by itself (an estimator), rather than wrapping one (a pipeline, a search). */
export function classNamesTask(dotted: string): boolean {
  return fromClass(dotted) !== undefined;
}

/**
 * From the classes a pickle references: the top-level class when it names a task; else the estimator a pipeline
 * ends with or a search or wrapper holds (`chain`, from the object's structure: see estimatorChain); else, when the
 * structure could not be read, the last estimator class in the stream.
 */
export function detectTaskFromClasses(
  topClass: string | undefined,
  classes: readonly string[],
  chain: readonly string[] = [],
): DetectedTask | undefined {
  const top = topClass ? fromClass(topClass) : undefined;
  if (topClass && top) return { task: top, reason: `pickled class ${topClass}` };
  const final = chain.find((c) => fromClass(c) !== undefined);
  if (final) return { task: fromClass(final) as string, reason: `final estimator ${final} of ${chain[0]}` };
  for (let i = classes.length - 1; i >= 0; i--) {
    const dotted = classes[i] as string;
    const task = fromClass(dotted);
    if (task) return { task, reason: `pickle references ${dotted}${topClass ? ` inside ${topClass}` : ''}` };
  }
  return undefined;
}
