/** The pruning helpers' guards and smaller rules, each worked by hand. */
import { expect, test } from "bun:test";
import { buildModel } from "../../src/models/registry.ts";
import { prunableLayers } from "../../src/models/spec.ts";
import { hydraInitScores } from "../../src/prune/hydra.ts";
import { impRoundsFor } from "../../src/prune/imp.ts";
import { keepCount, layerwiseMagnitudeMasks, maskDensity, topKMask } from "../../src/prune/magnitude.ts";
import { ONE_SHOT_METHODS, oneShotMethod, oneShotSettings, type OneShotInput } from "../../src/prune/one-shot.ts";
import { randomMasks } from "../../src/prune/random.ts";
import { freshState } from "../../src/engine/state.ts";
import type { Tensors } from "../../src/engine/types.ts";

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

/** A one-shot method's input for `params` of `spec`: its prunable layers, seed 5, no gradients unless given. */
function oneShotInput(
  spec: ReturnType<typeof buildModel>,
  params: Tensors,
  o: { density: number; channelMultiple?: number; settings?: Record<string, unknown>; gradients?: (images: number) => Promise<Tensors> },
): OneShotInput<never> {
  return {
    spec,
    params,
    layers: prunableLayers(spec).map((l) => l.name),
    density: o.density,
    channelMultiple: o.channelMultiple ?? 1,
    seed: 5,
    settings: (o.settings ?? {}) as never,
    gradients: o.gradients ?? (() => Promise.reject(new Error("this method should not ask for gradients"))),
  };
}

test("every one-shot method keeps its density of what it counts, and says whether it removes whole channels", async () => {
  const spec = buildModel("preresnet20", { width: 4, inputShape: [1, 8, 8], numClasses: 3 });
  const params = freshState(spec, 1).params;
  const layers = prunableLayers(spec).map((l) => l.name);
  expect(Object.keys(ONE_SHOT_METHODS).sort()).toEqual(["block-channels-l1", "global-magnitude", "layerwise-magnitude", "random", "weight-gradient"]);
  expect(Object.fromEntries(Object.entries(ONE_SHOT_METHODS).map(([k, m]) => [k, m.structured]))).toEqual({
    "block-channels-l1": true,
    "global-magnitude": false,
    "layerwise-magnitude": false,
    random: false,
    "weight-gradient": false,
  });
  const n = layers.reduce((a, l) => a + params[l]!.length, 0);
  const global = ONE_SHOT_METHODS["global-magnitude"].masks(oneShotInput(spec, params, { density: 0.3 }));
  expect(Object.keys(global).sort()).toEqual([...layers].sort());
  expect(Math.round(maskDensity(global) * n)).toBe(Math.round(0.3 * n));
  const layerwise = ONE_SHOT_METHODS["layerwise-magnitude"].masks(oneShotInput(spec, params, { density: 0.3 }));
  for (const l of layers) expect(layerwise[l]!.reduce((a, v) => a + v, 0)).toBe(Math.round(0.3 * params[l]!.length));
  // Global and layer-wise differ: global keeps more where the weights are larger.
  expect(layers.some((l) => global[l]!.some((v, i) => v !== layerwise[l]![i]))).toBe(true);
  // Random: the layer-wise uniform draw of the input's seed.
  const random = ONE_SHOT_METHODS.random.masks(oneShotInput(spec, params, { density: 0.3 }));
  const drawn = randomMasks(params, layers, 0.3, 5);
  for (const l of layers) expect([...random[l]!]).toEqual([...drawn[l]!]);
  const channels = ONE_SHOT_METHODS["block-channels-l1"].masks(oneShotInput(spec, params, { density: 0.5 }));
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

test("weight-gradient keeps the largest |w * g|, not the largest |w|, per layer or globally, over the images its settings ask for", async () => {
  const spec = buildModel("preresnet20", { width: 4, inputShape: [1, 8, 8], numClasses: 3 });
  const layers = prunableLayers(spec).map((l) => l.name);
  // Worked by hand in the first layer: w = [4, -3, 2, 1, ...], g = [0, 1, -3, 5, ...]
  // gives |w g| = [0, 3, 6, 5, ...]: half of 4 keeps entries 2 and 3, where |w| keeps 0 and 1.
  const params: Tensors = {};
  const grads: Tensors = {};
  for (const l of layers) {
    const n = spec.params.find((p) => p.name === l)!.shape.reduce((a, b) => a * b, 1);
    params[l] = new Float32Array(n).fill(1e-3);
    grads[l] = new Float32Array(n).fill(1e-3);
  }
  const first = layers[0]!;
  params[first]!.set([4, -3, 2, 1]);
  grads[first]!.set([0, 1, -3, 5]);
  const asked: number[] = [];
  const gradients = (images: number) => (asked.push(images), Promise.resolve(grads));
  const keep = (settings: Record<string, unknown>, density: number) =>
    ONE_SHOT_METHODS["weight-gradient"].masks(
      oneShotInput(spec, params, { density, settings: oneShotSettings("weight-gradient", settings, "test"), gradients }),
    );
  const n0 = params[first]!.length;
  const layerwise = await keep({ images: 7 }, 2 / n0);
  expect([...layerwise[first]!.subarray(0, 4)]).toEqual([0, 0, 1, 1]);
  expect(asked).toEqual([7]);
  // Globally the first layer's four large scores win over every other layer's 1e-6.
  const total = layers.reduce((a, l) => a + params[l]!.length, 0);
  const global = await keep({ scope: "global" }, 3 / total);
  expect([...global[first]!.subarray(0, 4)]).toEqual([0, 1, 1, 1]);
  expect(layers.slice(1).every((l) => global[l]!.every((v) => v === 0))).toBe(true);
  expect(asked).toEqual([7, 512]);
});

test("one-shot method names and settings: unknown names list the registered ones; settings are checked against the method's own schema, found by its name", () => {
  expect(() => oneShotMethod("snip", "prune.method")).toThrow(
    'prune.method: unknown one-shot pruning method "snip"; registered: layerwise-magnitude, global-magnitude, random, block-channels-l1, weight-gradient',
  );
  expect(oneShotSettings("weight-gradient", undefined, "prune.settings")).toEqual({ images: 512, scope: "layer" });
  expect(() => oneShotSettings("weight-gradient", { images: 0 }, "prune.settings")).toThrow("images: expected >= 1, given 0");
  expect(() => oneShotSettings("weight-gradient", { imgs: 3 }, "prune.settings")).toThrow("imgs: unknown setting");
  expect(oneShotSettings("random", {}, "prune.settings")).toEqual({});
  expect(() => oneShotSettings("random", { images: 3 }, "prune.settings")).toThrow(
    'prune.settings: the one-shot method "random" takes no settings (there is no schemas/one-shot-random.schema.json)',
  );
});
