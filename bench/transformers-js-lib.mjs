// The pure part of bench/transformers-js.mjs: each side's answers in one common form, and how two answers compare.
// Common forms, per item:
//   feature-extraction: { embedding: number[] }
//   text-classification, image-classification: { labels: [{ label, score }] } (every label, best first)
//   token-classification: { entities: [{ entity, index, word, score, start?, end? }] } (tokens not tagged O)
//   question-answering: { answer, score, start?, end? }
//   a side that failed on the item: { error }

const byScore = (labels) => [...labels].map(({ label, score }) => ({ label, score })).sort((a, b) => b.score - a.score);

/** modelctl's prediction for one item (openPredictor().run's predictions[i]) in the common form. */
export function fromOurs(task, p) {
  if (task === 'feature-extraction') return { embedding: p.embedding };
  if (task === 'token-classification')
    return { entities: p.entities.map(({ entity, index, word, score, start, end }) => ({ entity, index, word, score, start, end })) };
  if (task === 'question-answering') return { answer: p.answer, score: p.score, start: p.start, end: p.end };
  return { labels: byScore(p.labels) };
}

/** transformers.js's answer for one item (the pipeline called on a one-item array, first element) in the common form. */
export function fromTjs(task, a) {
  if (task === 'feature-extraction') return { embedding: a };
  if (task === 'token-classification') return { entities: a.map(({ entity, index, word, score }) => ({ entity, index, word, score })) };
  if (task === 'question-answering') return { answer: a.answer, score: a.score };
  return { labels: byScore(a) };
}

export function cosine(a, b) {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

/**
 * How answer `b` compares with answer `a` for one item: `same` (labels, entities, answers and, where both give them,
 * spans equal; for embeddings, same length), `diff` (largest absolute difference of the numbers both give: embedding
 * components, scores of the same label, entity or answer) and, for embeddings, `cos`. An error on either side: not same.
 */
export function compareItem(task, a, b) {
  if (a.error || b.error) return { same: false, diff: Number.NaN };
  if (task === 'feature-extraction') {
    if (a.embedding.length !== b.embedding.length) return { same: false, diff: Number.NaN, cos: Number.NaN };
    let diff = 0;
    for (let i = 0; i < a.embedding.length; i++) diff = Math.max(diff, Math.abs(a.embedding[i] - b.embedding[i]));
    return { same: true, diff, cos: cosine(a.embedding, b.embedding) };
  }
  if (task === 'question-answering') {
    const spans = a.start === undefined || b.start === undefined || (a.start === b.start && a.end === b.end);
    return { same: a.answer === b.answer && spans, diff: Math.abs(a.score - b.score) };
  }
  if (task === 'token-classification') {
    const key = (e) => `${e.index}\u0000${e.entity}\u0000${e.word}`;
    const same =
      a.entities.length === b.entities.length &&
      a.entities.every((e, i) => {
        const f = b.entities[i];
        const spans = e.start === undefined || f.start === undefined || (e.start === f.start && e.end === f.end);
        return key(e) === key(f) && spans;
      });
    let diff = 0;
    const scores = new Map(a.entities.map((e) => [key(e), e.score]));
    for (const e of b.entities) if (scores.has(key(e))) diff = Math.max(diff, Math.abs(scores.get(key(e)) - e.score));
    return { same, diff };
  }
  // Classification: the best label decides; scores compared label by label.
  const scores = new Map(a.labels.map((l) => [l.label, l.score]));
  let diff = 0;
  for (const l of b.labels) diff = scores.has(l.label) ? Math.max(diff, Math.abs(scores.get(l.label) - l.score)) : Number.NaN;
  return { same: a.labels[0]?.label === b.labels[0]?.label && a.labels.length === b.labels.length, diff };
}

/** compareItem over all items: how many agree, the largest difference, the smallest cosine (embeddings). */
export function compareAll(task, as, bs) {
  let same = 0;
  let diff = 0;
  let cos = 1;
  let errors = 0;
  for (let i = 0; i < as.length; i++) {
    if (as[i].error || bs[i]?.error || !bs[i]) errors++;
    const c = compareItem(task, as[i], bs[i] ?? { error: 'missing' });
    if (c.same) same++;
    if (!Number.isNaN(c.diff)) diff = Math.max(diff, c.diff);
    if (c.cos !== undefined && !Number.isNaN(c.cos)) cos = Math.min(cos, c.cos);
  }
  return { n: as.length, same, diff, ...(task === 'feature-extraction' ? { cos } : {}), errors };
}

/** "31/32 same, max |diff| 3.1e-7, min cos 0.999999" for a table cell. */
export function describeComparison(c) {
  const parts = [`${c.same}/${c.n} same`, `max abs diff ${c.diff.toExponential(1)}`];
  if (c.cos !== undefined) parts.push(`min cos ${c.cos.toFixed(6)}`);
  if (c.errors) parts.push(`${c.errors} errors`);
  return parts.join(', ');
}
