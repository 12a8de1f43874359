import { expect, test } from "bun:test";
import { OnnxTrainer } from "../../src/engine/onnx/onnx-trainer.ts";
import { checkBatch, checkProvider, providerChecks, relativeError, verifiedTrainer } from "../../src/engine/provider-check.ts";
import { createTrainer } from "../../src/engine/registry.ts";
import { freshState } from "../../src/engine/state.ts";
import { cloneState, type ModelState } from "../../src/engine/types.ts";
import { pretendGpu, withFreshCheckCache } from "../helpers/pretend-gpu.ts";
import { optim, tinySpecs } from "../helpers/tiny-models.ts";
import { DeviceError, requireGpu } from "../../src/engine/device-error.ts";
import { detectProviders } from "../../src/engine/onnx/providers.ts";
import { nvidiaDriverPresent } from "../../src/engine/torch/detect.ts";

const spec = tinySpecs()[0]!;
const cpu = (state: ModelState) => OnnxTrainer.create({ spec, ...optim, threads: 1, provider: "cpu" }, state);

/**
 * A trainer that claims to be a GPU provider and gets one gradient wrong by `factor`,
 * as the bundled WebGPU EP does on strided 3x3 convs: loss and logits stay right.
 */
const strided = spec.ops.find((o) => o.kind === "conv" && o.stride === 2 && o.kernel === 3);
const stridedWeight = strided && strided.kind === "conv" ? strided.weight : "";
/** A device whose strided conv's weight gradient is twice what it should be. */
const wrongStrided = { gradientScale: (p: string) => (p === stridedWeight ? 2 : 1) };

test("relative error: max |a - b| over max |b|; NaN is never within tolerance", () => {
  expect(relativeError([1, 2.5], [1, 2])).toBeCloseTo(0.25, 12);
  expect(relativeError([0], [0])).toBe(0);
  expect(relativeError([Number.NaN, 1], [1, 1])).toBeNaN();
  expect(relativeError([1], [1, 2])).toBe(Infinity);
});

test("the ONNX engine on the CPU passes the check against the independent TensorFlow.js oracle", async () => {
  const state = freshState(spec, 5);
  const onnx = await cpu(cloneState(state));
  const tfjs = await createTrainer({ engine: "tfjs", tfjsBackend: "cpu" }, { spec, ...optim }, cloneState(state));
  const check = await checkProvider(onnx, tfjs, checkBatch(spec, 8), 1e-3);
  expect(check.passed).toBe(true);
  expect(check.worst.relError).toBeLessThan(1e-3);
  // loss + per parameter: gradient, updated weight, momentum; plus the BN statistics.
  expect(check.tensorsCompared).toBeGreaterThan(3 * spec.params.length);
  // Both are left as they started.
  for (const [k, v] of Object.entries(state.params)) expect(onnx.state.params[k]).toEqual(v);
  await onnx.dispose();
  await tfjs.dispose();
}, 60_000);

test("a provider with one wrong gradient is refused: training falls back to the CPU, the notice names the tensor", async () => {
  const state = freshState(spec, 6);
  expect(stridedWeight).not.toBe("");
  const lines: string[] = [];
  const before = providerChecks().length;
  const v = await verifiedTrainer(pretendGpu(await cpu(cloneState(state)), wrongStrided), cpu, { tolerance: 1e-3, batchSize: 4, log: (l) => lines.push(l) });
  const t = v.trainer;
  expect(t.provider).toBe("cpu");
  expect(v.fallback).toContain(`fake-gpu failed its check against cpu (gradient of ${stridedWeight}, relative error`);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain("fake-gpu failed its check against cpu");
  expect(lines[0]).toContain(`gradient of ${stridedWeight}`);
  const check = providerChecks().slice(before);
  expect(check).toHaveLength(1);
  expect(check[0]!).toMatchObject({ provider: "fake-gpu", reference: "cpu", passed: false, worst: { what: `gradient of ${stridedWeight}` } });
  expect(check[0]!.worst.relError).toBeCloseTo(1, 1);
  // The fallback trainer starts from the state the run asked for.
  for (const [k, v] of Object.entries(state.params)) expect(t.state.params[k]).toEqual(v);
  await t.dispose();
}, 60_000);

test("a provider that computes the same numbers is kept; a CPU trainer is not checked at all", async () => {
  const state = freshState(spec, 7);
  const before = providerChecks().length;
  const good = (await verifiedTrainer(pretendGpu(await cpu(cloneState(state))), cpu, { tolerance: 1e-3, batchSize: 4 })).trainer;
  expect(good.provider).toBe("fake-gpu");
  const check = providerChecks().slice(before);
  expect(check.map((c) => c.passed)).toEqual([true]);
  expect(check[0]!.worst.relError).toBeLessThan(1e-6);
  await good.dispose();
  const plain = await createTrainer({ engine: "onnx", provider: "cpu" }, { spec, ...optim, threads: 1 }, cloneState(state));
  expect(providerChecks().length).toBe(before + 1);
  await plain.dispose();
}, 60_000);

test("a GPU asked for explicitly that fails its check is an error naming the tensor and the numbers, not a CPU fallback", async () => {
  const state = freshState(spec, 8);
  const run = verifiedTrainer(pretendGpu(await cpu(cloneState(state)), wrongStrided), cpu, {
    tolerance: 1e-3,
    batchSize: 4,
    required: "engine.provider=cuda",
  });
  await expect(run).rejects.toBeInstanceOf(DeviceError);
  await expect(
    verifiedTrainer(pretendGpu(await cpu(cloneState(state)), wrongStrided), cpu, { tolerance: 1e-3, batchSize: 4, required: "--gpus" }),
  ).rejects.toThrow(
    new RegExp(
      `^--gpus: fake-gpu failed its check against the CPU \\(gradient of ${stridedWeight}, relative error [0-9.e+-]+ > tolerance 0.001, \\d+ tensors compared\\)`,
    ),
  );
}, 60_000);

test("a device slot checks its provider once: later workers reuse the check and build no reference trainer", async () => {
  await withFreshCheckCache(async () => {
    const state = freshState(spec, 9);
    let references = 0;
    const reference = (s: ModelState) => {
      references++;
      return cpu(s);
    };
    const first = await verifiedTrainer(pretendGpu(await cpu(cloneState(state))), reference, { tolerance: 1e-3, batchSize: 4 });
    const before = providerChecks().length;
    const second = await verifiedTrainer(pretendGpu(await cpu(cloneState(state))), reference, { tolerance: 1e-3, batchSize: 4 });
    expect(references).toBe(1);
    expect(second.trainer.provider).toBe("fake-gpu");
    expect(providerChecks().slice(before)).toMatchObject([{ provider: "fake-gpu", passed: true, reused: true }]);
    await first.trainer.dispose();
    await second.trainer.dispose();
  });
}, 60_000);

test("engine.provider=cuda where the CUDA EP cannot load, or --gpus on a machine without a GPU, is a DeviceError, not CPU training", async () => {
  const state = freshState(spec, 10);
  const o = { spec, ...optim, threads: 1 };
  if (!detectProviders().find((p) => p.name === "cuda")!.available)
    await expect(createTrainer({ engine: "onnx", provider: "cuda", log: () => {} }, o, cloneState(state))).rejects.toThrow(
      /^engine.provider=cuda: a GPU was asked for, but the onnx engine can only train on the CPU here \(cuda: /,
    );
  if (!nvidiaDriverPresent()) {
    requireGpu("--gpus");
    try {
      await expect(createTrainer({ engine: "auto", log: () => {} }, o, cloneState(state))).rejects.toThrow(
        /^--gpus: a GPU was asked for, but engine auto finds none here \(no NVIDIA driver loaded\)/,
      );
    } finally {
      requireGpu(null);
    }
  }
}, 60_000);
