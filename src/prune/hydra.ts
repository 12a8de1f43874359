import type { Tensors } from "../engine/types.ts";

/**
 * Hydra (Sehwag et al., NeurIPS 2020), as the BiP paper's baseline: a score per weight of
 * the frozen pretrained network, the mask the top-k |score| of each layer, the scores
 * trained by SGD through a straight-through estimator. This module holds the two pieces
 * of arithmetic; the loop is the hydra unit kind.
 */

/**
 * Hydra's scaled score initialisation: s = sqrt(6 / fan_in) * w / max|w| per layer, so
 * the first mask is the layer's magnitude mask. fan_in = in_channels * kh * kw of a conv
 * ([O, I, kh, kw]), in_features of a linear layer ([O, I]).
 */
export function hydraInitScores(params: Tensors, layers: { name: string; shape: number[] }[]): Tensors {
  const out: Tensors = {};
  for (const { name, shape } of layers) {
    const w = params[name]!;
    const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
    let max = 0;
    for (const v of w) max = Math.max(max, Math.abs(v));
    const scale = max > 0 ? Math.sqrt(6 / fanIn) / max : 0;
    out[name] = w.map((v) => v * scale);
  }
  return out;
}

/**
 * One SGD step on the scores (PyTorch's SGD: coupled weight decay, then momentum). The
 * mask's gradient passes straight through to the score (Hydra's GetSubnet backward is
 * the identity): dL/ds = dL/d(w * m) * w, with `maskedGrads` the gradient with respect to
 * the masked weight w * m, as the engines return it.
 */
export function hydraScoreStep(
  scores: Tensors,
  weights: Tensors,
  maskedGrads: Tensors,
  velocity: Tensors,
  o: { lr: number; momentum: number; weightDecay: number },
): { scores: Tensors; velocity: Tensors } {
  const s2: Tensors = {},
    v2: Tensors = {};
  for (const [l, s] of Object.entries(scores)) {
    const w = weights[l]!,
      g = maskedGrads[l]!,
      v0 = velocity[l];
    const v = new Float32Array(s.length),
      next = new Float32Array(s.length);
    for (let i = 0; i < s.length; i++) {
      v[i] = (v0 ? o.momentum * v0[i]! : 0) + g[i]! * w[i]! + o.weightDecay * s[i]!;
      next[i] = s[i]! - o.lr * v[i]!;
    }
    s2[l] = next;
    v2[l] = v;
  }
  return { scores: s2, velocity: v2 };
}
