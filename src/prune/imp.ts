import type { Tensors } from "../engine/types.ts";
import { applyMasks, globalMagnitudeMasks, maskDensity } from "./magnitude.ts";

/**
 * Iterative magnitude pruning (Frankle & Carbin; the BiP paper's baseline): each round
 * removes `rate` of the remaining prunable weights by global magnitude, so after n
 * rounds the sparsity is 1 - (1 - rate)^n.
 */
export function impSparsity(round: number, rate = 0.2): number {
  return 1 - (1 - rate) ** round;
}

/**
 * The fewest rounds that reach `sparsity`, allowing half a percent: the paper quotes its
 * targets rounded (74% is round 6's 73.8%).
 */
export function impRoundsFor(sparsity: number, rate = 0.2): number {
  if (!(sparsity >= 0 && sparsity < 1)) throw new RangeError(`sparsity ${sparsity} outside [0, 1)`);
  let n = 0;
  while (impSparsity(n, rate) < sparsity - 0.005) n++;
  return n;
}

/** Masks of the next round: global magnitude pruning of `rate` of the weights still alive. */
export function impNextMasks(params: Tensors, layers: string[], current: Tensors, rate = 0.2): Tensors {
  return globalMagnitudeMasks(params, layers, maskDensity(pick(current, layers)) * (1 - rate), current);
}

/**
 * Weight rewinding: every weight goes back to its value in the rewind checkpoint
 * (an early-training epoch), pruned weights to exactly zero.
 */
export function rewind(rewindParams: Tensors, masks: Tensors): Tensors {
  return applyMasks(rewindParams, masks);
}

function pick(t: Tensors, names: string[]): Tensors {
  return Object.fromEntries(names.map((n) => [n, t[n] ?? new Float32Array(0)]));
}
