import type { Tensors } from "../engine/types.ts";
import { keepCount } from "./magnitude.ts";

/**
 * GraSP (Wang, Zhang & Grosse, ICLR 2020), pruning at initialisation by gradient-signal
 * preservation: a weight's score is S = -theta * (H g), g the loss gradient and H the
 * Hessian, over the prunable layers; the weights with the largest scores go, since
 * removing them costs the least gradient flow (the authors' keep rule: score <= the
 * threshold of the top (1 - density) scores).
 *
 * H g is a central difference of gradients along g, so any engine that returns
 * gradients computes it (no double backward): H g ~ ||g|| (grad(theta + r u) -
 * grad(theta - r u)) / (2 r), u = g / ||g||, over the prunable weights only (the authors'
 * H g is the weights' block too), exact for a quadratic loss up to rounding. r is
 * relStep * (1 + ||theta||) in the direction u.
 */
export async function graspScores(params: Tensors, layers: string[], grad: (params: Tensors) => Promise<Tensors>, o: { relStep: number }): Promise<Tensors> {
  const g0 = await grad(params);
  let gNorm2 = 0,
    tNorm2 = 0;
  for (const l of layers) {
    for (const v of g0[l]!) gNorm2 += v * v;
    for (const v of params[l]!) tNorm2 += v * v;
  }
  const gNorm = Math.sqrt(gNorm2);
  if (!(gNorm > 0)) throw new Error("GraSP: the loss gradient of the prunable layers is zero; no direction to score along");
  const r = o.relStep * (1 + Math.sqrt(tNorm2));
  const shifted = (sign: number): Tensors => {
    const p: Tensors = { ...params };
    for (const l of layers) p[l] = params[l]!.map((v, i) => v + (sign * r * g0[l]![i]!) / gNorm);
    return p;
  };
  const plus = await grad(shifted(1));
  const minus = await grad(shifted(-1));
  const out: Tensors = {};
  for (const l of layers) {
    const t = params[l]!;
    out[l] = t.map((v, i) => (-v * gNorm * (plus[l]![i]! - minus[l]![i]!)) / (2 * r));
  }
  return out;
}

/** Keeps the keepCount(total, density) lowest GraSP scores over all layers (global), removing the largest; ties keep the earlier weight. */
export function graspMasks(scores: Tensors, layers: string[], density: number): Tensors {
  const flat = Float64Array.from(layers.flatMap((l) => [...scores[l]!]));
  const order = Uint32Array.from({ length: flat.length }, (_, i) => i).sort((a, b) => flat[a]! - flat[b]! || a - b);
  const keep = new Float32Array(flat.length);
  for (const i of order.subarray(0, keepCount(flat.length, density))) keep[i] = 1;
  const out: Tensors = {};
  let off = 0;
  for (const l of layers) {
    out[l] = keep.slice(off, off + scores[l]!.length);
    off += scores[l]!.length;
  }
  return out;
}
