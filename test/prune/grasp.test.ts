import { expect, test } from "bun:test";
import { graspMasks, graspScores } from "../../src/prune/grasp.ts";

// L(theta) = 1/2 theta^T A theta + b^T theta over theta = [a0, a1, b0], layers a and b.
const A = [
  [2, 1, 0],
  [1, 3, -1],
  [0, -1, 4],
];
const bvec = [1, -2, 0.5];
const theta = [0.5, -1, 2];
const grad = async (p: Record<string, Float32Array>) => {
  const t = [p.a![0]!, p.a![1]!, p.b![0]!];
  const g = A.map((row, i) => row.reduce((s, v, j) => s + v * t[j]!, 0) + bvec[i]!);
  return { a: Float32Array.from(g.slice(0, 2)), b: Float32Array.from(g.slice(2)) };
};

test("scores are -theta * (H g), worked by hand for a quadratic loss", async () => {
  // Step by step:
  // A theta = [2*0.5 + 1*(-1) + 0, 1*0.5 + 3*(-1) - 2, 0 + 1 + 8] = [0, -4.5, 9]; g = [1, -6.5, 9.5]
  // H g = A g = [2 - 6.5, 1 - 19.5 - 9.5, 6.5 + 38] = [-4.5, -28, 44.5]
  // S = -theta * Hg = [2.25, -28, -89]
  const s = await graspScores({ a: Float32Array.from(theta.slice(0, 2)), b: Float32Array.from(theta.slice(2)) }, ["a", "b"], grad, { relStep: 1e-3 });
  expect(s.a![0]).toBeCloseTo(2.25, 2);
  expect(s.a![1]).toBeCloseTo(-28, 2);
  expect(s.b![0]).toBeCloseTo(-89, 1);
});

test("the largest scores are removed, over all layers at once; ties keep the earlier weight", () => {
  const scores = { a: Float32Array.from([2.25, -28]), b: Float32Array.from([-89, 1e-9, 2e-9]) };
  // Keep 3 of 5: the three lowest, -89, -28, 1e-9 (tiny differences still ordered).
  expect(graspMasks(scores, ["a", "b"], 0.6)).toEqual({ a: Float32Array.from([0, 1]), b: Float32Array.from([1, 1, 0]) });
  expect(graspMasks({ a: Float32Array.from([1, 1, 1, 1]) }, ["a"], 0.5)).toEqual({ a: Float32Array.from([1, 1, 0, 0]) });
});

test("a zero gradient is an error, not a NaN mask", async () => {
  const zero = async () => ({ a: new Float32Array(2) });
  await expect(graspScores({ a: Float32Array.from([1, 2]) }, ["a"], zero, { relStep: 1e-3 })).rejects.toThrow(/gradient .* is zero/);
});
