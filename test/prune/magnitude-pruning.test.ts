import { expect, test } from "bun:test";
import { globalMagnitudeMasks, keepCount, layerwiseMagnitudeMasks, maskDensity, topKMask } from "../../src/prune/magnitude.ts";
import { buildModel } from "../../src/models/registry.ts";
import { initParams } from "../../src/models/init.ts";
import { prunableLayers } from "../../src/models/spec.ts";

test("top-k keeps exactly k entries, the largest in absolute value", () => {
  expect([...topKMask(new Float32Array([0.1, -5, 3, -0.2, 4]), 3)]).toEqual([0, 1, 1, 0, 1]);
  // Ties are broken by index, so the count is always exact.
  expect([...topKMask(new Float32Array([1, 1, 1, 1]), 2)]).toEqual([1, 1, 0, 0]);
});

test("layer-wise magnitude pruning keeps the requested count in every conv layer, and the largest weights", () => {
  const spec = buildModel("preresnet20", { width: 16, inputShape: [3, 32, 32], numClasses: 10 });
  const { params } = initParams(spec, 1);
  const layers = prunableLayers(spec).map((l) => l.name);
  for (const density of [0.05, 0.2, 0.8]) {
    const masks = layerwiseMagnitudeMasks(params, layers, density);
    expect(Object.keys(masks)).toEqual(layers);
    for (const name of layers) {
      const w = params[name]!,
        m = masks[name]!;
      expect(m.reduce((s, v) => s + v, 0)).toBe(keepCount(w.length, density));
      let minKept = Infinity,
        maxPruned = 0;
      m.forEach((v, i) => (v ? (minKept = Math.min(minKept, Math.abs(w[i]!))) : (maxPruned = Math.max(maxPruned, Math.abs(w[i]!)))));
      expect(minKept).toBeGreaterThanOrEqual(maxPruned);
    }
  }
  expect(params["fc.weight"]).toBeDefined();
});

test("global magnitude pruning keeps the requested total with one threshold across layers", () => {
  const params = { a: new Float32Array([1, 2, 3, 4]), b: new Float32Array([10, 0.5]) };
  const masks = globalMagnitudeMasks(params, ["a", "b"], 0.5);
  expect([...masks.a!]).toEqual([0, 0, 1, 1]);
  expect([...masks.b!]).toEqual([1, 0]);
  expect(maskDensity(masks)).toBeCloseTo(0.5, 12);
  // Already pruned weights count as zero.
  const again = globalMagnitudeMasks(params, ["a", "b"], 2 / 6, masks);
  expect([...again.a!, ...again.b!]).toEqual([0, 0, 0, 1, 1, 0]);
});
