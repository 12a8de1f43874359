import { expect, test } from "bun:test";
import type { BenchTrainConfig } from "../../src/config/generated/bench-train.ts";
import type { UnitRecord } from "../../src/config/generated/record.ts";
import { validateConfig } from "../../src/config/load.ts";
import { computeSeconds, precisionNote, precisionsOf, trainerSettings } from "../../src/report/markdown.ts";
import { renderTrainThroughput } from "../../src/report/train-throughput-report.ts";

const trainer = (precision?: string, fallback?: string) => ({
  engine: "torch",
  provider: precision === "fp32" && fallback ? "cpu" : "cuda:0",
  deterministic: false,
  ...(precision ? { precision } : {}),
  ...(fallback ? { fallback } : {}),
});

test("the report header states the precision the units computed in, every value when they differ", () => {
  expect(precisionNote([{ env: { trainers: [trainer("tf32")] } }, { env: { trainers: [trainer("tf32")] } }])).toBe("precision tf32");
  // A unit whose GPU failed its check trained on the CPU in fp32.
  expect(precisionNote([{ env: { trainers: [trainer("bf16")] } }, { env: { trainers: [trainer("fp32", "cuda:0 failed its check")] } }])).toBe(
    "precision bf16 or fp32",
  );
  // Trainer facts without a precision predate the setting, when every engine computed in fp32.
  expect(precisionsOf([{ env: { trainers: [trainer()] } }])).toEqual(["fp32"]);
  expect(precisionNote([{ env: {} }])).toBe("precision not recorded");
});

test("the training-throughput report states the precision beside the engine of its accuracy check", () => {
  const config = validateConfig<BenchTrainConfig>("bench-train", {});
  const md = renderTrainThroughput({
    context: { date: "2024-01-01", commit: "abc", machine: { host: "h", cpu: "cpu", cores: 2, memoryGiB: 4, os: "linux" }, runtime: {} },
    preset: "smoke",
    threads: 2,
    config,
    throughput: [],
    torch: [],
    grid: [],
    profile: null,
    accuracy: {
      dataset: "fashion-mnist-subset",
      source: "embedded",
      arch: "preresnet20",
      width: 4,
      trainImages: 100,
      testImages: 50,
      epochs: [],
      status: "done",
      finalTestAccuracy: 0.5,
      wallSeconds: 60,
      engine: "torch",
      provider: "cuda:0",
      precision: "tf32",
    },
  });
  expect(md).toContain("engine torch/cuda:0, precision tf32:");
  expect(md).toContain("at precision fp32 (the engine.precision default");
});

test("a record's trainers carry their precision; records from before the setting read back as fp32", () => {
  const record = (trainers: unknown[]) => ({
    unitId: "train-0123456789ab",
    kind: "train",
    status: "done",
    config: {},
    deps: [],
    env: { engine: "torch", provider: "cuda:0", threads: 1, host: "h", commit: "c", runtime: {}, trainers },
    startedAt: "2024-01-01T00:00:00Z",
    finishedAt: "2024-01-01T00:01:00Z",
    wallSeconds: 60,
    metrics: {},
  });
  const old = validateConfig<UnitRecord>("record", record([{ engine: "torch", provider: "cuda:0", deterministic: false }]));
  expect(old.env.trainers![0]!.precision).toBe("fp32");
  const now = validateConfig<UnitRecord>(
    "record",
    record([{ engine: "torch", provider: "cuda:0", precision: "tf32", deterministic: true, cudaGraphs: true, channelsLast: false, cudnnDeterministic: true }]),
  );
  expect(precisionNote([now])).toBe("precision tf32");
  expect(() => validateConfig("record", record([{ engine: "torch", provider: "cuda:0", deterministic: true, graphs: true }]))).toThrow();
});

test("a run's compute counts a pack's wall time once: each member's record holds the whole pack's", () => {
  const env = (size?: number) => ({
    engine: "onnx",
    provider: "cpu",
    threads: 1,
    host: "h",
    commit: "c",
    runtime: {},
    ...(size ? { pack: { members: [], size, formulation: "loop" } } : {}),
  });
  expect(
    computeSeconds([
      { wallSeconds: 40, env: env(4) },
      { wallSeconds: 40, env: env(4) },
      { wallSeconds: 40, env: env(4) },
      { wallSeconds: 40, env: env(4) },
      { wallSeconds: 7, env: env() },
    ]),
  ).toBe(47);
});

test("trainer settings: engine/provider, precision, cuDNN and CUDA-graph choices, each distinct combination once", () => {
  const torch = { engine: "torch", provider: "cuda:0", precision: "tf32", deterministic: false, cudnnDeterministic: false, cudaGraphs: true };
  const onnx = { engine: "onnx", provider: "cpu", precision: "fp32", deterministic: true };
  expect(trainerSettings([{ env: { trainers: [torch] } }, { env: { trainers: [torch, onnx] } }, { env: {} }])).toEqual([
    "torch/cuda:0, tf32, cuDNN not deterministic, CUDA graphs, not bit-reproducible",
    "onnx/cpu, fp32, deterministic",
  ]);
  expect(trainerSettings([{ env: { trainers: [{ ...torch, cudnnDeterministic: true, cudaGraphs: false, deterministic: true }] } }])).toEqual([
    "torch/cuda:0, tf32, cuDNN deterministic, deterministic",
  ]);
});
