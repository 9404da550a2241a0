/**
 * The random draws of sampled generation: a small seeded PRNG of our own (xoshiro128**, seeded through splitmix32),
 * so that `--seed N` gives the same tokens on every run, machine and Node version. It does not reproduce PyTorch's
 * generator (nothing outside PyTorch can, cheaply); what is reproducible is modelctl's own run to run.
 * transformers.js samples through one process-wide generator, which a library serving several requests cannot seed
 * per request, hence this one.
 */

export interface Random {
  /** A float in [0, 1). */
  next(): number;
}

function splitmix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** xoshiro128** seeded from `seed` (any safe integer; its low and high 32 bits both count). */
export function seededRandom(seed: number): Random {
  const mix = splitmix32((seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32) >>> 0, 0x27d4eb2d));
  let a = mix();
  let b = mix();
  let c = mix();
  let d = mix();
  if ((a | b | c | d) === 0) a = 1;
  const rotl = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;
  return {
    next(): number {
      const result = Math.imul(rotl(Math.imul(b, 5) >>> 0, 7), 9) >>> 0;
      const t = (b << 9) >>> 0;
      c = (c ^ a) >>> 0;
      d = (d ^ b) >>> 0;
      b = (b ^ c) >>> 0;
      a = (a ^ d) >>> 0;
      c = (c ^ t) >>> 0;
      d = rotl(d, 11);
      return result / 2 ** 32;
    },
  };
}

/** A seed for a run without --seed: random, and reported so the run can be repeated. */
export function freshSeed(): number {
  return Math.floor(Math.random() * 2 ** 32);
}

/** One index drawn with the given probabilities (they need not sum to exactly 1; zeros are never drawn). */
export function drawIndex(probs: Float32Array, random: Random): number {
  let total = 0;
  for (let i = 0; i < probs.length; i++) total += probs[i] as number;
  let u = random.next() * total;
  let last = -1;
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i] as number;
    if (p <= 0) continue;
    last = i;
    u -= p;
    if (u < 0) return i;
  }
  return last;
}
