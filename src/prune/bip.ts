import type { Tensors } from "../engine/types.ts";
import { topKMask } from "./magnitude.ts";

/**
 * BiP (Zhang et al., NeurIPS 2022): pruning as a bi-level problem. The upper level
 * chooses a mask m (top-k of real-valued scores s, straight-through), the lower level
 * trains theta for that mask with a convexifying term gamma/2 ||theta||^2.
 *
 * With z = m * theta and g_z = d loss / d z (what the engine's gradients graph returns
 * for masked layers):
 *   d loss / d theta = g_z * m                         (lower level, plus gamma * theta)
 *   d loss / d m     = g_z * theta                     (direct term)
 *   implicit term    = -(1 / gamma) * g_z * (g_z * m)  (d theta_star / d m ~ -(1/gamma) diag(g_z); Algorithm A1, line 5)
 * The public code instead uses -lr2 * (g_z * theta) * (g_z * m) with a small constant
 * lr2 (OPTML-Group/BiP#3); `variant` picks one and the report names it.
 */
export type BipVariant = { kind: "paper"; gamma: number } | { kind: "code"; lr2: number };

/** Upper-level gradient for one layer, per weight (straight-through: the same for scores). */
export function bipMaskGradient(gz: Float32Array, theta: Float32Array, mask: Float32Array, variant: BipVariant): Float32Array {
  const out = new Float32Array(gz.length);
  for (let i = 0; i < gz.length; i++) {
    const direct = gz[i]! * theta[i]!;
    const gTheta = gz[i]! * mask[i]!;
    out[i] = variant.kind === "paper" ? direct - (gz[i]! * gTheta) / variant.gamma : direct - variant.lr2 * direct * gTheta;
  }
  return out;
}

/** Lower-level gradient: d/dtheta [loss(m * theta) + gamma/2 ||theta||^2]. */
export function bipThetaGradient(gz: Float32Array, theta: Float32Array, mask: Float32Array | undefined, gamma: number): Float32Array {
  return gz.map((g, i) => (mask ? g * mask[i]! : g) + gamma * theta[i]!);
}

/**
 * Global top-k of the scores over all listed layers: the mask keeps the `keep` largest
 * scores (magnitudes at initialisation, so BiP starts from one-shot magnitude pruning).
 * Straight-through estimator: the mask's gradient is applied to the scores unchanged,
 * so pruned weights keep receiving signal and can return.
 */
export function masksFromScores(scores: Tensors, layers: string[], density: number): Tensors {
  const sizes = layers.map((l) => scores[l]!.length);
  const total = sizes.reduce((a, b) => a + b, 0);
  const flat = new Float32Array(total);
  let off = 0;
  for (const l of layers) {
    flat.set(scores[l]!, off);
    off += scores[l]!.length;
  }
  const m = topKMask(flat, Math.round(total * density));
  const out: Tensors = {};
  off = 0;
  layers.forEach((l, i) => {
    out[l] = m.slice(off, off + sizes[i]!);
    off += sizes[i]!;
  });
  return out;
}

/** One SGD step on the scores with the straight-through gradient. */
export function updateScores(scores: Tensors, maskGrads: Tensors, lr: number): Tensors {
  const out: Tensors = {};
  for (const [l, s] of Object.entries(scores)) {
    const g = maskGrads[l]!;
    out[l] = s.map((v, i) => v - lr * g[i]!);
  }
  return out;
}
