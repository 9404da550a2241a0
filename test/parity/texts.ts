/** The texts of the text parity tests: corpus words the fixtures' vocabulary knows, and what it does not. */

const CORPUS = [
  'the model was great and the results were fast',
  'i loved this tiny transformer, it runs everywhere',
  'a registry keeps every model with its hash and size',
  'the tokenizer splits unknown words into pieces',
  'nothing works! the output is garbage and the logs are empty.',
  'everything works: the output matches the reference exactly.',
  'shapes, dtypes and names are checked against the graph',
];

/** Longer than the 64 positions of the fixtures' BERT: what a pipeline truncates. */
export const LONG_TEXTS = [
  Array.from({ length: 12 }, (_, k) => CORPUS[k % CORPUS.length]).join(' '),
  Array.from({ length: 30 }, (_, k) => CORPUS[(k * 3) % CORPUS.length]).join('. '),
  `Café déjà vu 🚀 ${CORPUS.join(' 😀 ')} Модель работает 模型很好`,
];

export const TEXTS = [
  'the model was great',
  'Nothing works: modelctl output is garbage?!',
  // Accents (stripped by the normalizer, kept in the offsets) and words the vocabulary lacks ([UNK]).
  'Café déjà vu, naïve résumé: the model works',
  'Modèle testé à Zürich, São Paulo and Kraków',
  // Scripts: Cyrillic, CJK (each character a word), Arabic, Devanagari, Greek with a final sigma.
  'Модель работает, the output is honest',
  '模型很好 and the registry keeps every model',
  'النموذج يعمل on the cpu',
  'हिंदी पाठ और the tokenizer',
  'ΟΔΟΣ and οδός were checked',
  // Emoji alone, inside words, joined (ZWJ) and with a variation selector.
  '🚀 fast 😀 model',
  'the model🚀 was great👍🏽 and fast',
  'family 👨‍👩‍👧 and the ❤️ model',
  // Whitespace runs, tabs, newlines, a zero-width space and a soft hyphen (the normalizer drops both), combining accents.
  '  the\tmodel  was\n\ngreat\u200b and fa\u00adst  ',
  'cafe\u0301 and nai\u0308ve models',
  // Repeats, capitals, punctuation runs.
  'Model model MODEL works, The Model WORKS',
  'shapes, dtypes and names (are) checked -- "against" the graph!!!',
  ...LONG_TEXTS,
];
