/**
 * Changing a waveform's sampling rate the way transformers' audio pipelines do when given audio at another rate
 * (torchaudio.functional.resample's default): band-limited interpolation with a Hann-windowed sinc kernel, 6 zero
 * crossings wide, its cut-off at 0.99 of the lower of the two Nyquist frequencies. With g the greatest common divisor
 * of the rates, every `from/g` input samples give `to/g` output samples; output sample j*(to/g)+k sits at input
 * position j*(from/g) + k*from/to, and is the sum of the input samples around it (zeros beyond the ends) weighted
 * by the kernel at their distance. The output has ceil(length * to / from) samples. Kernels are computed in
 * float64, once per phase k, and only over the taps where they are not zero.
 */

const ZERO_CROSSINGS = 6;
const ROLLOFF = 0.99;

function gcd(a: number, b: number): number {
  let x = a;
  let y = b;
  while (y !== 0) [x, y] = [y, x % y];
  return x;
}

interface Phase {
  /** Offset of the first tap from j*(from/g). */
  first: number;
  weights: Float64Array;
}

/** The kernel of output phase k: taps d (input offsets from j*o) with |(d/o - k/n) * base| < ZERO_CROSSINGS. */
function phaseKernel(k: number, o: number, n: number, base: number): Phase {
  const centre = (k * o) / n;
  const reach = (ZERO_CROSSINGS * o) / base;
  const first = Math.floor(centre - reach);
  const last = Math.ceil(centre + reach);
  const weights = new Float64Array(last - first + 1);
  for (let d = first; d <= last; d++) {
    // t in units of the kernel's zero crossings.
    const t = (d / o - k / n) * base;
    if (Math.abs(t) >= ZERO_CROSSINGS) continue;
    const window = Math.cos((t * Math.PI) / ZERO_CROSSINGS / 2) ** 2;
    const sinc = t === 0 ? 1 : Math.sin(Math.PI * t) / (Math.PI * t);
    weights[d - first] = (sinc * window * base) / o;
  }
  return { first, weights };
}

/** `samples` at `from` Hz, resampled to `to` Hz. */
export function resampleAudio(samples: Float32Array, from: number, to: number): Float32Array {
  if (!(Number.isSafeInteger(from) && from > 0 && Number.isSafeInteger(to) && to > 0))
    throw new RangeError(`sampling rates must be positive whole numbers, got ${from} and ${to}`);
  if (from === to) return samples;
  const g = gcd(from, to);
  const o = from / g;
  const n = to / g;
  const base = Math.min(o, n) * ROLLOFF;
  const length = Math.ceil((n * samples.length) / o);
  const out = new Float32Array(length);
  const phases: Phase[] = [];
  for (let m = 0; m < length; m++) {
    const k = m % n;
    const j = (m - k) / n;
    const phase = (phases[k] ??= phaseKernel(k, o, n, base));
    const start = j * o + phase.first;
    const w = phase.weights;
    const lo = Math.max(0, -start);
    const hi = Math.min(w.length, samples.length - start);
    let sum = 0;
    for (let i = lo; i < hi; i++) sum += (samples[start + i] as number) * (w[i] as number);
    out[m] = sum;
  }
  return out;
}
