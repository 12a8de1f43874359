import { expect, test } from "bun:test";
import type { TrainingConfig } from "../../src/config/generated/training.ts";
import { validateConfig } from "../../src/config/load.ts";
import { withNormalization } from "../../src/data/normalization.ts";
import { makeSynthetic } from "../../src/data/synthetic.ts";
import type { Dataset } from "../../src/data/types.ts";
import { loadData } from "../../src/train/setup.ts";

// The three-regime authors' utils: transforms.Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
// against CIFAR-10's true std (0.2470, 0.2435, 0.2616).
const THEIR_STD = [0.2023, 0.1994, 0.201];
const TRUE_STD = [0.247, 0.2435, 0.2616];

const cifarLike = (name: Dataset["name"], channels: number): Dataset => ({
  ...makeSynthetic({ count: 8, testCount: 4, channels, size: 4, numClasses: 2, seed: 1 }),
  name,
  mean: Array(channels).fill(0.5),
  std: Array(channels).fill(0.25),
});

test("dataset: the constants as loaded", () => {
  const d = cifarLike("cifar10", 3);
  expect(withNormalization(d, "dataset")).toBe(d);
});

test("authors on CIFAR-10: their constants exactly", () => {
  const d = withNormalization(cifarLike("cifar10", 3), "authors");
  expect(d.mean).toEqual([0.4914, 0.4822, 0.4465]);
  expect(d.std).toEqual(THEIR_STD);
});

test("authors elsewhere: the dataset's mean, its std times their ratio (per channel; their mean for one channel)", () => {
  const three = withNormalization(cifarLike("synthetic", 3), "authors");
  expect(three.mean).toEqual([0.5, 0.5, 0.5]);
  three.std.forEach((s, c) => expect(s).toBeCloseTo(0.25 * (THEIR_STD[c]! / TRUE_STD[c]!), 12));
  const one = withNormalization(cifarLike("fashion-mnist-embedded", 1), "authors");
  const meanRatio = (0.2023 / 0.247 + 0.1994 / 0.2435 + 0.201 / 0.2616) / 3; // 0.8021
  expect(one.std[0]!).toBeCloseTo(0.25 * meanRatio, 12);
  expect(meanRatio).toBeCloseTo(0.8021, 4);
});

test("loadData applies data.normalization; the images are the same", async () => {
  const base = validateConfig<TrainingConfig>("training", { data: { dataset: "synthetic", trainLimit: 64, testLimit: 16 } });
  const ours = await loadData(base);
  const theirs = await loadData({ ...base, data: { ...base.data, normalization: "authors" } });
  expect(theirs.train.images).toEqual(ours.train.images);
  expect(theirs.mean).toEqual(ours.mean);
  theirs.std.forEach((s, c) => expect(s / ours.std[c]!).toBeCloseTo(THEIR_STD[c]! / TRUE_STD[c]!, 12));
});
