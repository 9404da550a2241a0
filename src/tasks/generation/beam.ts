import { ModelctlError } from '../../errors.js';

/**
 * Beam search as transformers' generate() runs it (GenerationMixin._beam_search, one input): every step the running
 * beams' next-token log-probabilities (log_softmax, then the logits processors) are added to the beams' scores; the
 * best (1 + number of end tokens) * num_beams continuations are kept; the best num_beams of them that did not just
 * end run on, and those of the first num_beams that ended (an end token, or the length limit) join the finished
 * hypotheses, scored sum(log p) / generated_length ** length_penalty. The search stops when early_stopping says
 * (true: num_beams hypotheses are finished; false: a heuristic bound on the running beams; "never": the bound with
 * the longest possible length when length_penalty > 0), or when every kept continuation ends.
 *
 * Scores are float32 as PyTorch keeps them, and -1e9 marks what transformers masks with -1e9, so that which
 * hypothesis wins is decided by the same numbers.
 */

export interface BeamSettings {
  numBeams: number;
  lengthPenalty: number;
  earlyStopping: boolean | 'never';
  /** The decoder's length limit, its prompt (the start token) included. */
  maxLength: number;
  eosTokenIds: readonly number[];
}

/** What a step gives: the next-token scores of each running beam (processed log-probabilities), in beam order. */
export type BeamStep = (sequences: readonly (readonly number[])[], sources: readonly number[] | null) => Promise<Float32Array[]>;

export interface BeamResult {
  /** The best hypothesis: the new tokens (its end token included). */
  tokens: number[];
  /** Its score: sum of log-probabilities / length ** length_penalty (transformers' sequences_scores). */
  score: number;
  /** The finished hypotheses, best first (numBeams at most). */
  hypotheses: Array<{ tokens: number[]; score: number }>;
  steps: number;
}

const f32 = Math.fround;
const MASK = -1e9;

interface Candidate {
  beam: number;
  token: number;
  logProb: number;
  ends: boolean;
}

/** The k best of `values` (highest first; ties: the lower index first). */
function topK<T>(items: readonly T[], score: (t: T) => number, k: number): number[] {
  return items
    .map((_, i) => i)
    .sort((a, b) => score(items[b] as T) - score(items[a] as T) || a - b)
    .slice(0, k);
}

/**
 * Runs the search from `prompt` (the decoder start token). `step` gets the running sequences and, after the first
 * step, for each running beam the index of the beam (of the step before) it continues: the cache is reordered so.
 */
export async function beamSearch(prompt: readonly number[], s: BeamSettings, step: BeamStep, signal?: AbortSignal): Promise<BeamResult> {
  const n = s.numBeams;
  const promptLen = prompt.length;
  const eos = new Set(s.eosTokenIds);
  const keep = Math.max(2, 1 + eos.size) * n;
  let running = Array.from({ length: n }, (_, i) => ({ seq: [...prompt], score: i === 0 ? 0 : MASK }));
  let finished = Array.from({ length: n }, () => ({ seq: [...prompt], score: MASK, done: false }));
  let sources: number[] | null = null;
  let unsatisfied = true;
  let steps = 0;
  for (let curLen = promptLen; ; ) {
    if (signal?.aborted) throw new ModelctlError('INTERRUPTED', 'interrupted');
    const rows = await step(
      running.map((r) => r.seq),
      sources,
    );
    steps++;
    // The best `keep` continuations over every beam and token.
    const best: Candidate[] = [];
    for (let b = 0; b < n; b++) {
      const row = rows[b] as Float32Array;
      const base = (running[b] as { score: number }).score;
      for (let v = 0; v < row.length; v++) {
        const logProb = f32((row[v] as number) + base);
        if (best.length === keep && logProb <= (best[keep - 1] as Candidate).logProb) continue;
        const c = { beam: b, token: v, logProb, ends: eos.has(v) || curLen + 1 >= s.maxLength };
        let at = best.length;
        while (at > 0 && (best[at - 1] as Candidate).logProb < logProb) at--;
        best.splice(at, 0, c);
        if (best.length > keep) best.pop();
      }
    }
    // Running on: the best n that did not end.
    const next = topK(best, (c) => f32(c.logProb + (c.ends ? MASK : 0)), n);
    const allDone = finished.every((f) => f.done) && s.earlyStopping === true;
    const norm = f32((curLen + 1 - promptLen) ** s.lengthPenalty);
    const scored = best.map((c, i) => {
      let score = f32(c.logProb / norm);
      if (allDone) score = f32(score + MASK);
      if (!unsatisfied) score = f32(score + MASK);
      const justEnded = c.ends && i < n;
      if (!justEnded) score = f32(score + MASK);
      return { seq: [...(running[c.beam] as { seq: number[] }).seq, c.token], score, done: justEnded };
    });
    const merged = [...finished, ...scored];
    finished = topK(merged, (h) => h.score, n).map((i) => merged[i] as (typeof merged)[number]);
    running = next.map((i) => {
      const c = best[i] as Candidate;
      return { seq: [...(running[c.beam] as { seq: number[] }).seq, c.token], score: f32(c.logProb + (c.ends ? MASK : 0)) };
    });
    sources = next.map((i) => (best[i] as Candidate).beam);
    curLen++;
    // Can a running beam still beat the worst finished hypothesis?
    const length = s.earlyStopping === 'never' && s.lengthPenalty > 0 ? s.maxLength - promptLen : curLen - promptLen;
    const bestPossible = f32((running[0] as { score: number }).score / f32(length ** s.lengthPenalty));
    const worst = Math.min(...finished.map((f) => f.score));
    unsatisfied = unsatisfied && finished.some((f) => bestPossible > (f.done ? worst : MASK));
    const open = !(finished.every((f) => f.done) && s.earlyStopping === true);
    if (!unsatisfied || !open || best.every((c) => c.ends)) break;
  }
  const hypotheses = finished.filter((f) => f.done).map((f) => ({ tokens: f.seq.slice(promptLen), score: f.score }));
  const top = finished[0] as (typeof finished)[number];
  return { tokens: top.seq.slice(promptLen), score: top.score, hypotheses, steps };
}
