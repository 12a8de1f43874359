import { expect, test } from "bun:test";
import { learningRate } from "../../src/train/schedule.ts";

test("step schedule decays at fractions of training (160 epochs: epochs 80 and 120)", () => {
  const s = { kind: "step" as const, milestones: [0.5, 0.75], gamma: 0.1, minLr: 0 };
  expect(learningRate(s, 0.1, 79, 160)).toBeCloseTo(0.1, 12);
  expect(learningRate(s, 0.1, 80, 160)).toBeCloseTo(0.01, 12);
  expect(learningRate(s, 0.1, 119, 160)).toBeCloseTo(0.01, 12);
  expect(learningRate(s, 0.1, 120, 160)).toBeCloseTo(0.001, 12);
  // Scaled down to 30 epochs the shape is kept: decays at 15 and 23 (0.75 * 30 = 22.5 rounds to 23).
  expect(learningRate(s, 0.1, 14, 30)).toBeCloseTo(0.1, 12);
  expect(learningRate(s, 0.1, 15, 30)).toBeCloseTo(0.01, 12);
  expect(learningRate(s, 0.1, 23, 30)).toBeCloseTo(0.001, 12);
});

test("cosine schedule runs from the base rate to minLr", () => {
  const s = { kind: "cosine" as const, milestones: [], gamma: 0.1, minLr: 0 };
  expect(learningRate(s, 0.1, 0, 100)).toBeCloseTo(0.1, 12);
  expect(learningRate(s, 0.1, 50, 100)).toBeCloseTo(0.05, 12);
  expect(learningRate(s, 0.1, 100, 100)).toBeCloseTo(0, 12);
});

test("cosine schedule with a floor: halfway it is halfway between the base rate and minLr", () => {
  const s = { kind: "cosine" as const, milestones: [], gamma: 0.1, minLr: 0.02 };
  expect(learningRate(s, 0.1, 0, 100)).toBeCloseTo(0.1, 12);
  expect(learningRate(s, 0.1, 50, 100)).toBeCloseTo(0.06, 12);
  expect(learningRate(s, 0.1, 100, 100)).toBeCloseTo(0.02, 12);
});
