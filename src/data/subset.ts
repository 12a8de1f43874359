import { Rng } from "../util/rng.ts";
import type { Split } from "./types.ts";

/**
 * A class-balanced, seeded subset of `limit` images. Classes take turns contributing
 * one randomly chosen image each, so counts differ by at most one (lower class ids get
 * the remainder) and a class with too few images simply runs out without starving others.
 * Chosen images keep their original relative order so the subset is not sorted by class.
 */
export function balancedSubset(split: Split, limit: number, numClasses: number, seed: number): Split {
  if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`subset limit must be a non-negative integer, got ${limit}`);
  if (limit >= split.count) return split;

  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < split.count; i++) byClass[split.labels[i]!]?.push(i);
  const shuffled = byClass.map((members, c) => {
    const perm = new Rng(seed, "balanced-subset", c).permutation(members.length);
    return Array.from(perm, (p) => members[p]!);
  });

  const chosen: number[] = [];
  for (let round = 0; chosen.length < limit; round++) {
    let took = false;
    for (let c = 0; c < numClasses && chosen.length < limit; c++) {
      const idx = shuffled[c]![round];
      if (idx === undefined) continue;
      chosen.push(idx);
      took = true;
    }
    if (!took) break;
  }
  chosen.sort((a, b) => a - b);
  return takeIndices(split, chosen);
}

/** Copies the given images (in the given order) into a new split. */
export function takeIndices(split: Split, indices: ArrayLike<number>): Split {
  const imageBytes = split.count > 0 ? split.images.length / split.count : 0;
  const images = new Uint8Array(indices.length * imageBytes);
  // Same width as the source labels (two bytes for more than 256 classes).
  const labels = split.labels instanceof Uint16Array ? new Uint16Array(indices.length) : new Uint8Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    images.set(split.images.subarray(i * imageBytes, (i + 1) * imageBytes), k * imageBytes);
    labels[k] = split.labels[i]!;
  }
  return { images, labels, count: indices.length };
}

/** Images per class, for balance checks and provenance notes. */
export function classCounts(split: Split, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < split.count; i++) {
    const l = split.labels[i]!;
    if (l < numClasses) counts[l]!++;
  }
  return counts;
}
