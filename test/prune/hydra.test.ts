import { expect, test } from "bun:test";
import { hydraInitScores, hydraScoreStep } from "../../src/prune/hydra.ts";
import { layerwiseMagnitudeMasks } from "../../src/prune/magnitude.ts";

test("scores start at sqrt(6 / fan_in) * w / max|w|: a conv's fan_in is I*kh*kw, a linear layer's I", () => {
  // conv [O=1, I=2, 1, 3]: fan_in 6, so sqrt(6/6) = 1 and s = w / max|w| = w / 4.
  const conv = Float32Array.from([1, -2, 4, 0, 3, -4]);
  // linear [O=2, I=3]: fan_in 3, so s = sqrt(2) * w / 2.
  const fc = Float32Array.from([2, 0, -1, 0.5, 1, 2]);
  const s = hydraInitScores({ conv, fc }, [
    { name: "conv", shape: [1, 2, 1, 3] },
    { name: "fc", shape: [2, 3] },
  ]);
  expect([...s.conv!]).toEqual([0.25, -0.5, 1, 0, 0.75, -1]);
  expect(s.fc![0]).toBeCloseTo(Math.SQRT2, 6); // sqrt(6/3) * 2 / 2
  expect(s.fc![2]).toBeCloseTo(-Math.SQRT2 / 2, 6);
  // The first mask is the layer's magnitude mask.
  expect(layerwiseMagnitudeMasks(s, ["conv"], 0.5).conv).toEqual(layerwiseMagnitudeMasks({ conv }, ["conv"], 0.5).conv);
});

test("a score step is PyTorch SGD on dL/ds = dL/d(w*m) * w, with coupled weight decay and momentum, by hand", () => {
  const scores = { a: Float32Array.from([0.5, -0.2]) };
  const w = { a: Float32Array.from([2, -1]) };
  const g = { a: Float32Array.from([0.1, 0.3]) };
  const o = { lr: 0.1, momentum: 0.9, weightDecay: 0.01 };
  // Step 1: v = g*w + wd*s = [0.2 + 0.005, -0.3 - 0.002] = [0.205, -0.302]; s = s - 0.1 v = [0.4795, -0.1698]
  const one = hydraScoreStep(scores, w, g, {}, o);
  expect(one.velocity.a![0]).toBeCloseTo(0.205, 6);
  expect(one.velocity.a![1]).toBeCloseTo(-0.302, 6);
  expect(one.scores.a![0]).toBeCloseTo(0.4795, 6);
  expect(one.scores.a![1]).toBeCloseTo(-0.1698, 6);
  // Step 2, same gradient: v = 0.9 v + g*w + wd*s = [0.1845 + 0.2 + 0.004795, -0.2718 - 0.3 - 0.001698]
  const two = hydraScoreStep(one.scores, w, g, one.velocity, o);
  expect(two.velocity.a![0]).toBeCloseTo(0.389295, 6);
  expect(two.velocity.a![1]).toBeCloseTo(-0.573498, 6);
  expect(two.scores.a![0]).toBeCloseTo(0.4795 - 0.0389295, 6);
});
