/** The pruning helpers' guards and smaller rules, each worked by hand. */
import { expect, test } from "bun:test";
import { buildModel } from "../../src/models/registry.ts";
import { prunableLayers } from "../../src/models/spec.ts";
import { hydraInitScores } from "../../src/prune/hydra.ts";
import { impRoundsFor } from "../../src/prune/imp.ts";
import { keepCount, layerwiseMagnitudeMasks, maskDensity, topKMask } from "../../src/prune/magnitude.ts";
import { ONE_SHOT_METHODS } from "../../src/prune/one-shot.ts";
import { randomMasks } from "../../src/prune/random.ts";
import { freshState } from "../../src/engine/state.ts";

test("out-of-range counts, densities and sparsities are refused, naming the value; the ends of the ranges are allowed", () => {
  const s = new Float32Array([3, -1, 2]);
  expect(() => topKMask(s, -1)).toThrow("keep -1 outside [0, 3]");
  expect(() => topKMask(s, 4)).toThrow("keep 4 outside [0, 3]");
  expect([...topKMask(s, 0)]).toEqual([0, 0, 0]);
  expect([...topKMask(s, 3)]).toEqual([1, 1, 1]);
  expect(() => keepCount(10, -0.1)).toThrow("density -0.1 outside [0, 1]");
  expect(() => keepCount(10, 1.1)).toThrow("density 1.1 outside [0, 1]");
  expect([keepCount(10, 0), keepCount(10, 1), keepCount(10, 0.25)]).toEqual([0, 10, 3]);
  expect(() => impRoundsFor(1)).toThrow("sparsity 1 outside [0, 1)");
  expect(() => impRoundsFor(-0.1)).toThrow("sparsity -0.1 outside [0, 1)");
  expect(impRoundsFor(0)).toBe(0);
  // 1 - 0.8^3 = 48.8%: 49.2% is within half a percent of it, 49.4% is not.
  expect([impRoundsFor(0.488), impRoundsFor(0.492), impRoundsFor(0.494)]).toEqual([3, 3, 4]);
  expect(() => layerwiseMagnitudeMasks({}, ["conv"], 0.5)).toThrow("no parameter conv to prune");
  expect(() => randomMasks({}, ["conv"], 0.5, 1)).toThrow("no parameter conv to prune");
});

test("top-k keeps the largest |w|, the lower index on a tie; weights already masked out count as zero", () => {
  expect([...topKMask(new Float32Array([1, -3, 3, 2]), 2)]).toEqual([0, 1, 1, 0]);
  expect([...topKMask(new Float32Array([2, 2, 2]), 2)]).toEqual([1, 1, 0]);
  const m = layerwiseMagnitudeMasks({ w: new Float32Array([5, 4, 1, 2]) }, ["w"], 0.5, { w: new Float32Array([0, 1, 1, 1]) });
  expect([...m.w!]).toEqual([0, 1, 0, 1]);
  expect(maskDensity({})).toBe(1);
  expect(maskDensity({ a: new Float32Array([1, 0]), b: new Float32Array([1, 1, 0, 0]) })).toBeCloseTo(0.5, 12);
});

test("Hydra's scores start as the weights scaled so the largest is sqrt(6 / fan-in); an all-zero layer scores 0", () => {
  const s = hydraInitScores({ w: new Float32Array([0.5, -1, 0.25, 0]), z: new Float32Array([0, 0]) }, [
    { name: "w", shape: [2, 2] },
    { name: "z", shape: [1, 2] },
  ]);
  const top = Math.sqrt(6 / 2);
  expect([...s.w!].map((v) => +v.toFixed(6))).toEqual([0.5 * top, -top, 0.25 * top, 0].map((v) => +Math.fround(v).toFixed(6)));
  expect([...s.z!]).toEqual([0, 0]);
});

test("every one-shot method keeps its density of what it counts, and says whether it removes whole channels", () => {
  const spec = buildModel("preresnet20", { width: 4, inputShape: [1, 8, 8], numClasses: 3 });
  const params = freshState(spec, 1).params;
  const layers = prunableLayers(spec).map((l) => l.name);
  expect(Object.keys(ONE_SHOT_METHODS).sort()).toEqual(["block-channels-l1", "global-magnitude", "layerwise-magnitude"]);
  expect(Object.fromEntries(Object.entries(ONE_SHOT_METHODS).map(([k, m]) => [k, m.structured]))).toEqual({
    "block-channels-l1": true,
    "global-magnitude": false,
    "layerwise-magnitude": false,
  });
  const n = layers.reduce((a, l) => a + params[l]!.length, 0);
  const global = ONE_SHOT_METHODS["global-magnitude"].masks(spec, params, { density: 0.3, channelMultiple: 1 });
  expect(Object.keys(global).sort()).toEqual([...layers].sort());
  expect(Math.round(maskDensity(global) * n)).toBe(Math.round(0.3 * n));
  const layerwise = ONE_SHOT_METHODS["layerwise-magnitude"].masks(spec, params, { density: 0.3, channelMultiple: 1 });
  for (const l of layers) expect(layerwise[l]!.reduce((a, v) => a + v, 0)).toBe(Math.round(0.3 * params[l]!.length));
  // Global and layer-wise differ: global keeps more where the weights are larger.
  expect(layers.some((l) => global[l]!.some((v, i) => v !== layerwise[l]![i]))).toBe(true);
  const channels = ONE_SHOT_METHODS["block-channels-l1"].masks(spec, params, { density: 0.5, channelMultiple: 1 });
  // Whole channels: a producer's filters are all kept or all pruned; its consumer loses the same input slices in every filter.
  let producers = 0;
  for (const [l, m] of Object.entries(channels)) {
    const cout = spec.params.find((p) => p.name === l)!.shape[0]!;
    const per = m.length / cout;
    const filters = Array.from({ length: cout }, (_, o) => m.subarray(o * per, (o + 1) * per).join());
    const wholeFilters = filters.every((f) => new Set(f.split(",")).size === 1);
    if (wholeFilters) {
      producers++;
      expect(filters.filter((f) => f.startsWith("1")).length).toBe(Math.max(1, Math.round(0.5 * cout)));
    } else expect(new Set(filters).size).toBe(1);
  }
  expect(producers).toBe(Object.keys(channels).length / 2);
});
