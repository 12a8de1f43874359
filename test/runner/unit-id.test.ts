import { expect, test } from "bun:test";
import { validateConfig } from "../../src/config/load.ts";
import { canonicalJson, dropDefaults, unitId } from "../../src/runner/unit.ts";

/**
 * Pinned ids: the run store finds earlier results by these names. NEVER update these
 * literals to make a test pass; a change here orphans every stored run. Add new
 * settings with defaults instead (defaults are dropped from the hash).
 */
test("unit ids are pinned", () => {
  expect(unitId({ kind: "echo", config: { value: 1 }, deps: [] })).toBe("echo-0bb6a3b9c901");
  expect(unitId({ kind: "train", config: validateConfig("training", {}), deps: [] }, validateConfig("training", {}))).toBe("train-21576a6f53dc");
  // Before data.subsetSeed existed, a seed-2 unit drew its subsets from seed 2: that id now
  // means subset seed 2, and seed 2 on the default subsets (seed 1) is new data, a new id.
  expect(unitId({ kind: "train", config: validateConfig("training", { seed: 2, data: { subsetSeed: 2 } }), deps: [] }, validateConfig("training", {}))).toBe(
    "train-bc26fcf34ca7",
  );
  expect(unitId({ kind: "train", config: validateConfig("training", { seed: 2 }), deps: [] }, validateConfig("training", {}))).toBe("train-786cacc86607");
});

test("the subset seed is in an id exactly when it differs from the training seed", () => {
  const defaults = { training: validateConfig("training", {}) };
  const id = (training: Record<string, unknown>) => unitId({ kind: "retrain", config: { training: validateConfig("training", training) }, deps: [] }, defaults);
  expect(id({ seed: 1, data: { subsetSeed: 1 } })).toBe(id({}));
  expect(id({ seed: 1, data: { subsetSeed: 3 } })).not.toBe(id({}));
  expect(id({ seed: 2 })).not.toBe(id({ seed: 2, data: { subsetSeed: 2 } }));
  expect(id({ seed: 2 })).not.toBe(id({ seed: 3 }));
});

test("key order, labels and dependency order do not change an id", () => {
  const a = unitId({ kind: "echo", config: { b: 1, a: { y: 2, x: 3 } }, deps: ["p", "q"], label: "one" });
  const b = unitId({ kind: "echo", config: { a: { x: 3, y: 2 }, b: 1 }, deps: ["q", "p"], label: "two" });
  expect(a).toBe(b);
  expect(unitId({ kind: "echo", config: { b: 2 }, deps: [] })).not.toBe(unitId({ kind: "echo", config: { b: 1 }, deps: [] }));
});

test("default-valued settings are left out of the hash", () => {
  const defaults = { optim: { lr: 0.1, epochs: 160 }, seed: 1 };
  expect(dropDefaults({ optim: { lr: 0.1, epochs: 30 }, seed: 1 }, defaults)).toEqual({ optim: { epochs: 30 } });
  expect(canonicalJson({ b: [1, { d: 1, c: 2 }], a: null })).toBe('{"a":null,"b":[1,{"c":2,"d":1}]}');
});
