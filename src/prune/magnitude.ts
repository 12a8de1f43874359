import type { Tensors } from "../engine/types.ts";

/**
 * 0/1 mask keeping the `keep` entries of largest |w| (ties: lower index kept, so the
 * count is exact and the result deterministic).
 */
export function topKMask(scores: Float32Array, keep: number): Float32Array {
  const n = scores.length;
  if (!(keep >= 0 && keep <= n)) throw new RangeError(`keep ${keep} outside [0, ${n}]`);
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  idx.sort((a, b) => Math.abs(scores[b]!) - Math.abs(scores[a]!) || a - b);
  const mask = new Float32Array(n);
  for (let i = 0; i < keep; i++) mask[idx[i]!] = 1;
  return mask;
}

/** How many of n weights a density keeps: rounded, as the papers' code does. */
export function keepCount(n: number, density: number): number {
  if (!(density >= 0 && density <= 1)) throw new RangeError(`density ${density} outside [0, 1]`);
  return Math.round(n * density);
}

/**
 * One-shot, layer-wise uniform L1 magnitude pruning (three-regime paper): every listed
 * layer keeps the same fraction `density` of its own weights, those largest in |w|.
 * Weights already masked out (existing masks) count as zero.
 */
export function layerwiseMagnitudeMasks(params: Tensors, layers: string[], density: number, existing: Tensors = {}): Tensors {
  const out: Tensors = {};
  for (const name of layers) {
    const w = params[name];
    if (!w) throw new Error(`no parameter ${name} to prune`);
    const m = existing[name];
    const scores = m ? w.map((v, i) => v * m[i]!) : w;
    out[name] = topKMask(scores, keepCount(w.length, density));
  }
  return out;
}

/**
 * Global magnitude pruning (IMP, OMP): one threshold over all listed layers, keeping
 * `density` of their weights in total.
 */
export function globalMagnitudeMasks(params: Tensors, layers: string[], density: number, existing: Tensors = {}): Tensors {
  const sizes = layers.map((l) => params[l]!.length);
  const total = sizes.reduce((a, b) => a + b, 0);
  const all = new Float32Array(total);
  let off = 0;
  for (const l of layers) {
    const w = params[l]!,
      m = existing[l];
    for (let i = 0; i < w.length; i++) all[off + i] = m ? w[i]! * m[i]! : w[i]!;
    off += w.length;
  }
  const flat = topKMask(all, keepCount(total, density));
  const out: Tensors = {};
  off = 0;
  layers.forEach((l, i) => {
    out[l] = flat.slice(off, off + sizes[i]!);
    off += sizes[i]!;
  });
  return out;
}

/** The weights as the masked model uses them: pruned entries exactly zero, the rest copied. */
export function applyMasks(params: Tensors, masks: Tensors): Tensors {
  const out: Tensors = {};
  for (const [name, w] of Object.entries(params)) {
    const m = masks[name];
    out[name] = m ? w.map((v, i) => (m[i] ? v : 0)) : w.slice();
  }
  return out;
}

/** Fraction of ones over the given masks. */
export function maskDensity(masks: Tensors): number {
  let ones = 0,
    n = 0;
  for (const m of Object.values(masks)) {
    for (let i = 0; i < m.length; i++) ones += m[i]!;
    n += m.length;
  }
  return n === 0 ? 1 : ones / n;
}
