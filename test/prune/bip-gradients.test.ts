import { expect, test } from "bun:test";
import { OnnxTrainer } from "../../src/engine/onnx/onnx-trainer.ts";
import { freshState } from "../../src/engine/state.ts";
import { bipMaskGradient, bipThetaGradient, masksFromScores, updateScores } from "../../src/prune/bip.ts";
import { prunableLayers } from "../../src/models/spec.ts";
import { optim, randomBatch, tinySpecs } from "../helpers/tiny-models.ts";

const f = (xs: number[]) => new Float32Array(xs);

test("the BiP mask gradient equals the paper's formula, computed by hand", () => {
  // g_z = [0.5, -2], theta = [1, 3], m = [1, 0]:
  // direct g_z*theta = [0.5, -6]; g_theta = g_z*m = [0.5, 0]; implicit -(1/gamma) g_z*g_theta = [-0.25/gamma, 0].
  expect([...bipMaskGradient(f([0.5, -2]), f([1, 3]), f([1, 0]), { kind: "paper", gamma: 1 })]).toEqual([0.25, -6]);
  expect([...bipMaskGradient(f([0.5, -2]), f([1, 3]), f([1, 0]), { kind: "paper", gamma: 2 })]).toEqual([0.375, -6]);
  // The public code's variant: direct - lr2 * direct * g_theta.
  expect(bipMaskGradient(f([0.5, -2]), f([1, 3]), f([1, 0]), { kind: "code", lr2: 0.1 })[0]).toBeCloseTo(0.475, 6);
  // Lower level: g_z*m + gamma*theta.
  expect([...bipThetaGradient(f([0.5, -2]), f([1, 3]), f([1, 0]), 1)]).toEqual([1.5, 3]);
});

test("the straight-through estimator passes gradients to pruned entries, which can come back", () => {
  const scores = { l: f([5, 4, 3, 1]) };
  const mask = masksFromScores(scores, ["l"], 0.5);
  expect([...mask.l!]).toEqual([1, 1, 0, 0]);
  // A pruned entry (index 3) with a strongly negative gradient gets a larger score...
  const grad = bipMaskGradient(f([0, 0, 0, -4]), f([1, 1, 1, 2]), mask.l!, { kind: "paper", gamma: 1 });
  expect(grad[3]).toBe(-8);
  const next = masksFromScores(updateScores(scores, { l: grad }, 1).scores, ["l"], 0.5);
  // ...and enters the mask.
  expect([...next.l!]).toEqual([1, 0, 0, 1]);
});

test("score steps go through |s|: a negative score that the gradient pushes down is dropped, not kept; momentum as PyTorch's SGD", () => {
  // Score -3 (kept: |-3| is among the two largest) with gradient +1 wants a smaller mask value: |s| must shrink.
  const scores = { l: f([-3, 2, 1, 0.5]) };
  const one = updateScores(scores, { l: f([1, 0, 0, 0]) }, 2.5);
  expect([...one.scores.l!]).toEqual([-0.5, 2, 1, 0.5]);
  expect([...masksFromScores(one.scores, ["l"], 0.5).l!]).toEqual([0, 1, 1, 0]);
  // Momentum: v = 0.9 * v + g, s -= lr * v.
  const two = updateScores({ l: f([1]) }, { l: f([1]) }, 0.1, 0.9, { l: f([2]) });
  expect(two.velocity.l![0]).toBeCloseTo(2.8, 6);
  expect(two.scores.l![0]).toBeCloseTo(0.72, 6);
});

test("the direct term g_z * theta is d loss / d mask: central finite differences on a tiny model's mask", async () => {
  const spec = tinySpecs()[0]!;
  const trainer = await OnnxTrainer.create({ spec, ...optim, threads: 1 }, freshState(spec, 4));
  const batch = randomBatch(spec, 6, 9);
  const layer = prunableLayers(spec)[3]!.name;
  const { grads } = await trainer.gradients(batch);
  const theta = trainer.state.params[layer]!;
  const mask = trainer.masks[layer]!;
  const direct = bipMaskGradient(grads[layer]!, theta, mask, { kind: "code", lr2: 0 });
  const idx = [...direct.keys()].sort((a, b) => Math.abs(direct[b]!) - Math.abs(direct[a]!)).slice(0, 5);
  const eps = 1e-2;
  for (const i of idx) {
    mask[i] = 1 + eps;
    const up = (await trainer.gradients(batch)).loss;
    mask[i] = 1 - eps;
    const down = (await trainer.gradients(batch)).loss;
    mask[i] = 1;
    expect(Math.abs((up - down) / (2 * eps) - direct[i]!)).toBeLessThan(2e-3 + 2e-2 * Math.abs(direct[i]!));
  }
}, 30_000);

test("filter-wise BiP keeps whole filters, the same fraction in every layer, and sums weight gradients per filter", async () => {
  const { filterMasksFromScores, filterScoreGradient, filterNorms } = await import("../../src/prune/bip.ts");
  const masks = filterMasksFromScores({ a: f([0.1, 3, 2, 0.5]), b: f([1, 2]) }, { a: [4, 1, 1, 2], b: [2, 1, 1, 3] }, 0.5);
  expect([...masks.a!]).toEqual([0, 0, 1, 1, 1, 1, 0, 0]);
  expect([...masks.b!]).toEqual([0, 0, 0, 1, 1, 1]);
  expect([...filterScoreGradient(f([1, 2, 3, 4, 5, 6]), 2)]).toEqual([6, 15]);
  expect([...filterNorms(f([1, -2, 3, -4]), 2)]).toEqual([3, 7]);
});

test("score weight decay is PyTorch's coupled L2: weightDecay * s joins the gradient before momentum, shrinking |s|", async () => {
  const { maskLrFactor } = await import("../../src/prune/bip.ts");
  // No gradient: s -= lr * wd * s, towards zero from either side.
  const decayOnly = updateScores({ l: f([-3, 2]) }, { l: f([0, 0]) }, 1, 0, {}, 0.1);
  expect(decayOnly.scores.l![0]).toBeCloseTo(-2.7, 6);
  expect(decayOnly.scores.l![1]).toBeCloseTo(1.8, 6);
  // With gradient and momentum: v = 0.9 * 2 + (sign(s) g + wd s) = 1.8 + 1 + 0.2 = 3; s = 2 - 0.1 * 3.
  const both = updateScores({ l: f([2]) }, { l: f([1]) }, 0.1, 0.9, { l: f([2]) }, 0.1);
  expect(both.velocity.l![0]).toBeCloseTo(3, 6);
  expect(both.scores.l![0]).toBeCloseTo(1.7, 6);
  // Mask learning-rate phases are fractions of the run.
  expect([0, 0.7499, 0.75, 0.8999, 0.9, 1].map((p) => maskLrFactor(p, [0.75, 0.9], 0.1))).toEqual([1, 1, 0.1, 0.1, 0.1 ** 2, 0.1 ** 2]);
});
