import { expect, test } from "bun:test";
import { validateConfig } from "../../src/config/load.ts";
import type { TrainingConfig } from "../../src/config/generated/training.ts";
import { errorWindow } from "../../src/train/schedule.ts";

const step = validateConfig<TrainingConfig>("training", {}).optim.schedule; // x0.1 at 0.5 and 0.75
const PAPER = 5 / 160;

test("the paper's protocol averages its last 5 of 160 epochs, inside the final phase (121-160)", () => {
  expect(errorWindow(step, 0.1, 160, PAPER)).toEqual({ first: 156, last: 160, count: 5, finalPhaseFirst: 121 });
});

test("a scaled-down run scales the window and never reaches back into a higher learning rate", () => {
  // 8 epochs: lr 0.1 (1-4), 0.01 (5-6), 0.001 (7-8); ceil(8 x 5/160) = 1.
  expect(errorWindow(step, 0.1, 8, PAPER)).toEqual({ first: 8, last: 8, count: 1, finalPhaseFirst: 7 });
  // Asking for more than the final phase holds is clipped to it.
  expect(errorWindow(step, 0.1, 8, 5 / 8)).toEqual({ first: 7, last: 8, count: 2, finalPhaseFirst: 7 });
  expect(errorWindow(step, 0.1, 320, PAPER).count).toBe(10);
});

test("a cosine schedule has no flat final phase: one epoch", () => {
  const cosine = { ...step, kind: "cosine" as const };
  expect(errorWindow(cosine, 0.1, 100, PAPER)).toEqual({ first: 100, last: 100, count: 1, finalPhaseFirst: 100 });
});

test("a constant rate is one phase, from epoch 1: the window is the asked share of all epochs", () => {
  const constant = { ...step, milestones: [] };
  expect(errorWindow(constant, 0.1, 10, 1)).toEqual({ first: 1, last: 10, count: 10, finalPhaseFirst: 1 });
  expect(errorWindow(constant, 0.1, 10, 0.3)).toEqual({ first: 8, last: 10, count: 3, finalPhaseFirst: 1 });
});

test("a milestone at the very end (1.0) never applies: the final phase is the one before it", () => {
  const late = { ...step, milestones: [0.5, 1] };
  // 10 epochs: lr 0.1 (1-5), 0.01 (6-10); the decay at epoch 10 (0-based) comes after the last epoch.
  expect(errorWindow(late, 0.1, 10, 1)).toEqual({ first: 6, last: 10, count: 5, finalPhaseFirst: 6 });
});
