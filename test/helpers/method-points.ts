import type { MethodPoint } from "../../src/report/bip-claims.ts";

/** n seeds spread evenly around a mean: [m - s, ..., m + s]. */
export const seeds = (m: number, s: number, n = 3): number[] => Array.from({ length: n }, (_, i) => m - s + (2 * s * i) / (n - 1));

/**
 * One method's measurements at one sparsity (target = sparsity), as bench:bip-vs-imp
 * records them: accuracies and seconds of n seeds, spread evenly around the given means.
 * Defaults: 2 seeds, 0.1 points of accuracy and 1% of time either side.
 */
export function methodPoint(
  method: string,
  target: number,
  acc: number,
  seconds: number,
  o: { accSpread?: number; timeSpread?: number; n?: number } = {},
): MethodPoint {
  const n = o.n ?? 2;
  return { method, target, sparsity: target, accuracies: seeds(acc, o.accSpread ?? 0.001, n), seconds: seeds(seconds, o.timeSpread ?? 0.01 * seconds, n) };
}
