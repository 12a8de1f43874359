import type { BipConfig } from "../config/generated/bip.ts";
import type { Tensors } from "../engine/types.ts";
import { prunableLayers, type ModelSpec } from "../models/spec.ts";
import { globalMagnitudeMasks, topKMask } from "./magnitude.ts";

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
  return globalMagnitudeMasks(scores, layers, density);
}

/**
 * One SGD step (with momentum and coupled L2 weight decay, PyTorch's convention) on the
 * scores. The mask keeps the largest |s|, so the straight-through gradient reaches s
 * through |s|: d/ds = sign(s) * g. Without the sign, a score pushed below zero would
 * grow in magnitude and be kept. Weight decay adds weightDecay * s to that gradient
 * before momentum, as torch.optim.SGD(weight_decay=...) does for the public code's
 * mask optimizer (OPTML-Group/BiP train.py), pulling every |s| towards zero.
 */
export function updateScores(
  scores: Tensors,
  maskGrads: Tensors,
  lr: number,
  momentum = 0,
  velocity: Tensors = {},
  weightDecay = 0,
): { scores: Tensors; velocity: Tensors } {
  const out: Tensors = {},
    vel: Tensors = {};
  for (const [l, s] of Object.entries(scores)) {
    const g = maskGrads[l]!,
      v0 = velocity[l];
    const v = new Float32Array(s.length);
    for (let i = 0; i < s.length; i++) v[i] = (v0 ? momentum * v0[i]! : 0) + (s[i]! < 0 ? -g[i]! : g[i]!) + weightDecay * s[i]!;
    out[l] = s.map((x, i) => x - lr * v[i]!);
    vel[l] = v;
  }
  return { scores: out, velocity: vel };
}

/**
 * Structured (filter-wise) BiP: one score per output filter; each layer keeps the
 * `density` fraction of its filters with the largest scores (at least one), and the
 * mask covers whole filters, so the result can be compacted physically.
 */
export function filterMasksFromScores(filterScores: Tensors, shapes: Record<string, number[]>, density: number): Tensors {
  const out: Tensors = {};
  for (const [l, s] of Object.entries(filterScores)) {
    const keep = topKMask(s, filterKeepCount(s.length, density));
    const per = shapes[l]!.slice(1).reduce((a, b) => a * b, 1);
    const m = new Float32Array(s.length * per);
    for (let o = 0; o < s.length; o++) if (keep[o]) m.fill(1, o * per, (o + 1) * per);
    out[l] = m;
  }
  return out;
}

/** Filters of a layer that filter-wise BiP keeps at `density`: rounded, and at least one. */
export function filterKeepCount(filters: number, density: number): number {
  return Math.max(1, Math.round(filters * density));
}

/** Straight-through gradient of a filter's score: the sum of its weights' mask gradients. */
export function filterScoreGradient(maskGrad: Float32Array, filters: number): Float32Array {
  const per = maskGrad.length / filters;
  const out = new Float32Array(filters);
  for (let o = 0; o < filters; o++) for (let i = 0; i < per; i++) out[o]! += maskGrad[o * per + i]!;
  return out;
}

/** Initial filter scores: the L1 norm of each filter of the pretrained weights. */
export function filterNorms(w: Float32Array, filters: number): Float32Array {
  const per = w.length / filters;
  const out = new Float32Array(filters);
  for (let o = 0; o < filters; o++) for (let i = 0; i < per; i++) out[o]! += Math.abs(w[o * per + i]!);
  return out;
}

/**
 * Factor of the mask learning rate at a point of training: `decay` to the power of the
 * milestones passed. `progress` is the fraction of all iterations done before this one
 * (0 at the first), so every phase runs whatever the epoch count: per-epoch phases
 * with 5 epochs would never reach the x0.01 at 90%.
 */
export function maskLrFactor(progress: number, milestones: readonly number[], decay: number): number {
  return decay ** milestones.filter((m) => progress >= m).length;
}

/**
 * The layers BiP scores and masks: every conv (the stem's too), plus the fc weight in
 * unstructured BiP when includeFc, as the public code does (its SubnetLinear fc shares
 * the global top-k with the convs; filter-wise pruning keeps a plain nn.Linear).
 */
export function bipScoredLayers(spec: ModelSpec, cfg: Pick<BipConfig, "structure" | "includeFc">): string[] {
  return prunableLayers(spec, { includeFc: cfg.structure === "unstructured" && cfg.includeFc }).map((l) => l.name);
}
