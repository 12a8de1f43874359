import { buildModel } from "../../src/models/registry.ts";
import { prunableLayers, type ModelSpec } from "../../src/models/spec.ts";
import { Rng } from "../../src/util/rng.ts";
import type { Batch, Trainer } from "../../src/engine/types.ts";
import type { ProviderName } from "../../src/engine/onnx/providers.ts";

/**
 * The execution provider the engine suites (parity with the oracle, finite differences)
 * run the ONNX engine on: PRUNING_HARNESS_TEST_EP=cpu|cuda|webgpu, default cpu. The
 * suites build trainers without the provider check and fail if the provider fell back,
 * so a GPU machine tests the GPU's own numbers.
 */
export const TEST_EP: ProviderName = (() => {
  const ep = process.env.PRUNING_HARNESS_TEST_EP ?? "cpu";
  if (ep !== "cpu" && ep !== "cuda" && ep !== "webgpu") throw new Error(`PRUNING_HARNESS_TEST_EP=${ep}: expected cpu, cuda or webgpu`);
  return ep;
})();

/** Small versions of both architectures: every op kind, both stride-2 paths, fast on the JS oracle. */
export function tinySpecs(): ModelSpec[] {
  return [
    buildModel("preresnet20", { width: 4, inputShape: [3, 8, 8], numClasses: 5 }),
    buildModel("resnet20a", { width: 4, inputShape: [2, 8, 8], numClasses: 3 }),
  ];
}

export function randomBatch(spec: ModelSpec, size: number, seed: number): Batch {
  const rng = new Rng(seed, "batch");
  const [c, h, w] = spec.inputShape;
  const x = new Float32Array(size * c * h * w);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  const y = Array.from({ length: size }, () => rng.int(spec.numClasses));
  return { x, y, size };
}

/** Largest |a-b| / max(1, |b|) over all elements. */
export function maxRelDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return m;
}

export const optim = { sgd: { momentum: 0.9, weightDecay: 5e-4 }, bn: { eps: 1e-5, momentum: 0.1 } };

/**
 * The device the torch engine's suites run on: PRUNING_HARNESS_TEST_TORCH_DEVICE=cpu|cuda|cuda:N,
 * default cpu. Like TEST_EP, a GPU machine runs the same suites on the GPU's own numbers.
 */
export const TEST_TORCH_DEVICE: string = (() => {
  const d = process.env.PRUNING_HARNESS_TEST_TORCH_DEVICE ?? "cpu";
  if (!/^(cpu|cuda|cuda:\d+)$/.test(d)) throw new Error(`PRUNING_HARNESS_TEST_TORCH_DEVICE=${d}: expected cpu, cuda or cuda:N`);
  return d;
})();

/** A random 0/1 mask (40% zeros) on every conv weight, the same for all trainers. */
export function setRandomMasks(trainers: Trainer[], seed: number): void {
  for (const layer of prunableLayers(trainers[0]!.spec)) {
    const rng = new Rng(seed, "mask", layer.name);
    const mask = trainers[0]!.masks[layer.name]!.map(() => (rng.next() < 0.4 ? 0 : 1));
    for (const t of trainers) t.masks[layer.name] = mask.slice();
  }
}
