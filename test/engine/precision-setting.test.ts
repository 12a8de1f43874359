import { expect, test } from "bun:test";
import type { TrainingConfig } from "../../src/config/generated/training.ts";
import { ConfigError, validateConfig } from "../../src/config/load.ts";
import { OnnxTrainer } from "../../src/engine/onnx/onnx-trainer.ts";
import { providerChecks, toleranceFor, trainerPrecision, verifiedTrainer } from "../../src/engine/provider-check.ts";
import { createTrainer, engineSettings, trainerFacts } from "../../src/engine/registry.ts";
import { freshState } from "../../src/engine/state.ts";
import { probeTorch, nvidiaDriverPresent } from "../../src/engine/torch/detect.ts";
import { TorchProcess } from "../../src/engine/torch/torch-process.ts";
import { TorchTrainer } from "../../src/engine/torch/torch-trainer.ts";
import { cloneState, type ModelState } from "../../src/engine/types.ts";
import { pretendGpu, withFreshCheckCache } from "../helpers/pretend-gpu.ts";
import { optim, tinySpecs } from "../helpers/tiny-models.ts";

const spec = tinySpecs()[0]!;
const cpu = (state: ModelState) => OnnxTrainer.create({ spec, ...optim, threads: 1, provider: "cpu" }, state);
const TOLERANCES = { fp32: 1e-3, tf32: 0.02, bf16: 0.1 };

/**
 * A CPU trainer posing as a GPU that computes in `precision` and scales every gradient by
 * 1 + `error`: the relative error a reduced-precision device shows against the CPU.
 */
test("engine settings default to strict fp32 with CUDA graphs on, and the check's tolerance is per precision", () => {
  const e = validateConfig<TrainingConfig>("training", {}).engine;
  expect(e).toMatchObject({ precision: "fp32", cudaGraphs: true, channelsLast: false, cudnnDeterministic: false, stepsPerRequest: 64 });
  expect(e.providerCheck).toEqual({ tolerance: { fp32: 0.001, tf32: 0.02, bf16: 0.1 }, batchSize: 8 });
  expect(engineSettings(e)).toEqual({
    precision: "fp32",
    cudaGraphs: true,
    channelsLast: false,
    cudnnDeterministic: false,
    stepsPerRequest: 64,
    packFormulation: "auto",
  });
  // Setting one tolerance keeps the others' defaults.
  const one = validateConfig<TrainingConfig>("training", { engine: { providerCheck: { tolerance: { tf32: 0.05 } } } }).engine.providerCheck.tolerance;
  expect(one).toEqual({ fp32: 0.001, tf32: 0.05, bf16: 0.1 });
  for (const bad of [
    { precision: "fp16" },
    { stepsPerRequest: 0 },
    { cudaGraphs: "yes" },
    { providerCheck: { tolerance: 0.001 } },
    { providerCheck: { tolerance: { tf32: 0 } } },
  ])
    expect(() => validateConfig("training", { engine: bad })).toThrow(ConfigError);
});

test("precision beyond fp32 on the ONNX or TF.js engine is a settings error naming engine.precision and the fix", async () => {
  const o = { spec, ...optim, threads: 1 };
  const state = freshState(spec, 1);
  await expect(createTrainer({ engine: "onnx", provider: "cpu", precision: "bf16" }, o, cloneState(state))).rejects.toBeInstanceOf(ConfigError);
  await expect(createTrainer({ engine: "onnx", provider: "cpu", precision: "bf16" }, o, cloneState(state))).rejects.toThrow(
    /^engine\.precision=bf16: the ONNX and TF\.js engines compute in fp32 only; use engine\.name=torch .* or engine\.precision=fp32$/,
  );
  await expect(createTrainer({ engine: "tfjs", tfjsBackend: "cpu", precision: "tf32" }, o, cloneState(state))).rejects.toThrow(/^engine\.precision=tf32: /);
  // engine auto is judged by what it picked: here (no NVIDIA driver) the ONNX engine.
  if (!nvidiaDriverPresent())
    await expect(createTrainer({ engine: "auto", precision: "bf16", log: () => {} }, o, cloneState(state))).rejects.toThrow(
      /^engine\.precision=bf16: engine auto picked onnx here \(no NVIDIA driver loaded\), and the ONNX and TF\.js engines compute in fp32 only/,
    );
  const fine = await createTrainer({ engine: "onnx", provider: "cpu", precision: "fp32" }, o, cloneState(state));
  expect(trainerPrecision(fine)).toBe("fp32");
  expect(trainerFacts()).toContainEqual({ engine: "onnx", provider: "cpu", precision: "fp32", deterministic: true });
  await fine.dispose();
}, 60_000);

test("the provider check holds a device to its own precision's tolerance", async () => {
  const state = freshState(spec, 2);
  expect(toleranceFor(pretendGpu(await cpu(cloneState(state)), { precision: "tf32" }), TOLERANCES)).toBe(0.02);
  expect(toleranceFor(pretendGpu(await cpu(cloneState(state)), { precision: "int4" }), TOLERANCES)).toBe(1e-3);
  expect(toleranceFor(await cpu(cloneState(state)), TOLERANCES)).toBe(1e-3);
  expect(toleranceFor(await cpu(cloneState(state)), 0.5)).toBe(0.5);

  // A relative error of 1e-2: TF32 rounding, wrong for strict fp32.
  const before = providerChecks().length;
  const tf32 = await verifiedTrainer(pretendGpu(await cpu(cloneState(state)), { precision: "tf32", gradientScale: () => 1 + 0.01 }), cpu, {
    tolerance: TOLERANCES,
    batchSize: 4,
  });
  expect(tf32.trainer.provider).toBe("fake-gpu");
  expect(tf32.fallback).toBeUndefined();
  const fp32 = await verifiedTrainer(pretendGpu(await cpu(cloneState(state)), { precision: "fp32", gradientScale: () => 1 + 0.01 }), cpu, {
    tolerance: TOLERANCES,
    batchSize: 4,
  });
  expect(fp32.trainer.provider).toBe("cpu");
  expect(fp32.fallback).toContain("> tolerance 0.001");
  expect(providerChecks().slice(before)).toMatchObject([
    { provider: "fake-gpu", passed: true, tolerance: 0.02 },
    { provider: "fake-gpu", passed: false, tolerance: 0.001 },
  ]);
  await tf32.trainer.dispose();
  await fp32.trainer.dispose();
}, 60_000);

test("a check made at one precision is not reused for another on the same device slot", async () => {
  await withFreshCheckCache(async () => {
    const state = freshState(spec, 3);
    // The same number for both, so only the precision tells the two checks apart.
    const same = { fp32: 0.02, tf32: 0.02, bf16: 0.1 };
    const first = await verifiedTrainer(pretendGpu(await cpu(cloneState(state)), { precision: "tf32" }), cpu, { tolerance: same, batchSize: 4 });
    const before = providerChecks().length;
    const second = await verifiedTrainer(pretendGpu(await cpu(cloneState(state)), { precision: "fp32" }), cpu, { tolerance: same, batchSize: 4 });
    expect(providerChecks().slice(before)).toHaveLength(1);
    expect(providerChecks().at(-1)!.reused).toBeUndefined();
    await first.trainer.dispose();
    await second.trainer.dispose();
  });
}, 60_000);

const probe = await probeTorch();
const python = "found" in probe ? probe.found.python : null;
if (!python) console.warn(`skipping the torch precision tests: ${"missing" in probe ? probe.missing : ""}`);

/** Every request's header and reply while `body` runs, with `edit` applied to each reply (an older server's, say). */
async function intercepted<T>(
  body: () => Promise<T>,
  edit: (reply: Record<string, unknown>) => Record<string, unknown> = (r) => r,
): Promise<{ out: T; sent: Record<string, unknown>[] }> {
  const original = TorchProcess.prototype.request;
  const sent: Record<string, unknown>[] = [];
  TorchProcess.prototype.request = function (this: TorchProcess, header, tensors) {
    sent.push(header);
    const r = original.call(this, header, tensors);
    return { ...r, header: edit(r.header) };
  };
  try {
    return { out: await body(), sent };
  } finally {
    TorchProcess.prototype.request = original;
  }
}

test.skipIf(!python)(
  "the torch engine sends its settings with init, and records what the server reports, or what was asked when it does not say",
  async () => {
    const settings = { precision: "bf16", cudaGraphs: false, channelsLast: true, cudnnDeterministic: true } as const;
    // An older server's reply: none of the new keys.
    const { out: t, sent } = await intercepted(
      () =>
        createTrainer(
          { engine: "torch", device: "cpu", python: python!, ...settings, stepsPerRequest: 7 },
          { spec, ...optim, threads: 1 },
          freshState(spec, 4),
        ),
      ({ precision: _p, cudaGraphs: _g, channelsLast: _c, cudnnDeterministic: _d, ...rest }) => ({ ...rest }),
    );
    try {
      expect(sent.find((h) => h.op === "init")).toMatchObject(settings);
      expect(t).toBeInstanceOf(TorchTrainer);
      const torch = t as TorchTrainer;
      expect(torch.stepsPerRequest).toBe(7);
      expect(torch.info).toMatchObject(settings);
      expect(trainerPrecision(torch)).toBe("bf16");
      expect(trainerFacts()).toContainEqual(
        expect.objectContaining({ engine: "torch", provider: "cpu", ...settings, deterministic: torch.info.deterministic }),
      );
    } finally {
      await t.dispose();
    }
    // A server that reports its settings is believed over the request.
    const { out: u } = await intercepted(
      () => createTrainer({ engine: "torch", device: "cpu", python: python!, ...settings }, { spec, ...optim, threads: 1 }, freshState(spec, 4)),
      (r) => (r.device === undefined ? r : { ...r, precision: "fp32", cudaGraphs: false, channelsLast: false, cudnnDeterministic: false }),
    );
    try {
      expect((u as TorchTrainer).stepsPerRequest).toBe(64);
      expect(trainerFacts()).toContainEqual(
        expect.objectContaining({ engine: "torch", provider: "cpu", precision: "fp32", cudaGraphs: false, channelsLast: false, cudnnDeterministic: false }),
      );
    } finally {
      await u.dispose();
    }
  },
  60_000,
);

test.skipIf(!python)(
  "a real torch trainer on the CPU created with precision bf16 records a precision in its facts",
  async () => {
    const t = (await createTrainer(
      { engine: "torch", device: "cpu", python: python!, precision: "bf16" },
      { spec, ...optim, threads: 1 },
      freshState(spec, 5),
    )) as TorchTrainer;
    try {
      // The server's effective value when it reports one (being written alongside), else the requested bf16.
      const fact = trainerFacts().find((f) => f.engine === "torch" && f.precision === t.info.precision);
      expect(fact).toBeDefined();
      expect(["bf16", "fp32"]).toContain(t.info.precision);
      expect(typeof fact!.cudaGraphs).toBe("boolean");
      const r = await t.trainStep({ x: new Float32Array(4 * 3 * 8 * 8).fill(0.5), y: [0, 1, 2, 3], size: 4 }, 0.1);
      expect(Number.isFinite(r.loss)).toBe(true);
    } finally {
      await t.dispose();
    }
  },
  60_000,
);
