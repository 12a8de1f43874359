import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DATASET_NAMES, DATASETS } from "../../src/data/datasets.ts";
import { nominalTrainCount } from "../../src/data/resolve.ts";

const schema = JSON.parse(readFileSync(join(import.meta.dir, "../../schemas/training.schema.json"), "utf8"));

test("data.dataset's schema enum is auto plus exactly the registry's datasets", () => {
  expect([...schema.definitions.DataConfig.properties.dataset.enum].sort()).toEqual(["auto", ...DATASET_NAMES].sort());
});

test("dry-run sizes: the official training split of each downloadable dataset, capped by trainLimit", () => {
  expect(nominalTrainCount("cifar10")).toBe(50_000);
  expect(nominalTrainCount("cifar100")).toBe(50_000);
  expect(nominalTrainCount("tiny-imagenet")).toBe(100_000);
  expect(nominalTrainCount("auto")).toBe(50_000);
  expect(nominalTrainCount("tiny-imagenet", 640)).toBe(640);
  // Only the generated and the committed datasets read no directory.
  expect(DATASET_NAMES.filter((n) => !DATASETS[n].readsDir).sort()).toEqual(["fashion-mnist-embedded", "synthetic"]);
});
