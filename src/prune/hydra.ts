import { sgdUpdate } from "../engine/sgd.ts";
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
 * One SGD step on the scores: PyTorch's SGD (sgdUpdate, unmasked) on the gradient that
 * passes straight through the mask to the score (Hydra's GetSubnet backward is the
 * identity): dL/ds = dL/d(w * m) * w, with `maskedGrads` the gradient with respect to
 * the masked weight w * m, as the engines return it. An empty `velocity` starts at zero.
 */
export function hydraScoreStep(
  scores: Tensors,
  weights: Tensors,
  maskedGrads: Tensors,
  velocity: Tensors,
  o: { lr: number; momentum: number; weightDecay: number },
): { scores: Tensors; velocity: Tensors } {
  const grads: Tensors = {},
    momentum: Tensors = {};
  for (const [l, s] of Object.entries(scores)) {
    grads[l] = maskedGrads[l]!.map((g, i) => g * weights[l]![i]!);
    momentum[l] = velocity[l] ?? new Float32Array(s.length);
  }
  const next = sgdUpdate({ params: scores, momentum, buffers: {} }, grads, {}, o);
  return { scores: next.params, velocity: next.momentum };
}
