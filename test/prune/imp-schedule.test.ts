import { expect, test } from "bun:test";
import { impNextMasks, impRoundsFor, impSparsity, rewind } from "../../src/prune/imp.ts";
import { maskDensity } from "../../src/prune/magnitude.ts";
import { Rng } from "../../src/util/rng.ts";

test("IMP sparsities follow 1 - 0.8^n and reach the BiP paper's targets in the expected rounds", () => {
  expect(impSparsity(1)).toBeCloseTo(0.2, 12);
  expect(impSparsity(4)).toBeCloseTo(0.5904, 12);
  expect(impSparsity(6)).toBeCloseTo(0.737856, 12);
  expect(impSparsity(10)).toBeCloseTo(0.892626, 6);
  expect([0.2, 0.59, 0.74, 0.89, 0.945].map((s) => impRoundsFor(s))).toEqual([1, 4, 6, 10, 13]);
});

test("each round prunes 20% of the remaining weights by global magnitude", () => {
  const rng = new Rng(1, "imp");
  const params = { a: Float32Array.from({ length: 300 }, () => rng.normal()), b: Float32Array.from({ length: 200 }, () => rng.normal() * 3) };
  let masks = { a: new Float32Array(300).fill(1), b: new Float32Array(200).fill(1) };
  for (let round = 1; round <= 5; round++) {
    masks = impNextMasks(params, ["a", "b"], masks) as typeof masks;
    // Exactly the kept count of each round: round(0.8 x the previous round's survivors), by hand: 400, 320, 256, 205, 164.
    expect(maskDensity(masks) * 500).toBe([400, 320, 256, 205, 164][round - 1]!);
  }
  // Pruned weights never come back.
  const again = impNextMasks(params, ["a", "b"], masks);
  for (const k of ["a", "b"] as const) again[k]!.forEach((v, i) => v === 1 && expect(masks[k][i]).toBe(1));
});

test("rewinding restores the saved weights exactly, and pruned ones to zero", () => {
  const saved = { w: new Float32Array([0.1, -0.25, 3.5, 7]), bias: new Float32Array([1, 2]) };
  const out = rewind(saved, { w: new Float32Array([1, 0, 1, 0]) });
  expect([...out.w!]).toEqual([0.1, 0, 3.5, 0].map((v) => Math.fround(v)));
  expect([...out.bias!]).toEqual([1, 2]);
  expect(out.bias).not.toBe(saved.bias);
});
