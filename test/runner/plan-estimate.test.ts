import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateConfig } from "../../src/config/load.ts";
import type { TrainingConfig } from "../../src/config/generated/training.ts";
import { engineKey, macsPerImage, measuredThroughput, plannedModel, rowSettings } from "../../src/runner/plan.ts";

const bench = (rows: [string, number][], grid: [number, number][] = []) => ({
  context: { date: "2026-11-28T00:00:00Z" },
  config: { throughput: { cases: [{ name: "paper", arch: "preresnet20", width: 16 }] } },
  throughput: rows.map(([engine, ips]) => ({ case: "paper", engine, status: "measured", imagesPerSecond: ips })),
  grid: grid.map(([workers, ips]) => ({ case: "paper", workers, status: "measured", imagesPerSecond: ips })),
});

test("the estimate uses the engine the units would train on, and with --gpus the grid row for jobs-per-GPU runs times the GPUs", () => {
  const dir = mkdtempSync(join(tmpdir(), "plan-"));
  writeFileSync(
    join(dir, "train-throughput.json"),
    JSON.stringify(
      bench([
        ["onnx-cpu", 300],
        ["torch-cpu", 500],
      ]),
    ),
  );
  writeFileSync(
    join(dir, "train-throughput-gpu.json"),
    JSON.stringify(
      bench(
        [
          ["onnx-cpu", 800],
          ["torch-cuda", 15000],
        ],
        [
          [1, 15000],
          [4, 40000],
        ],
      ),
    ),
  );
  const model = { arch: "preresnet20", width: 16 };
  expect(measuredThroughput(dir, model, "onnx-cpu")!.imagesPerSecond).toBe(300);
  expect(measuredThroughput(dir, model, "torch-cpu")!.imagesPerSecond).toBe(500);
  expect(measuredThroughput(dir, model, "torch-cuda")!.imagesPerSecond).toBe(15000);
  const grid = measuredThroughput(dir, model, "torch-cuda", { count: 2, jobsPerGpu: 4 })!;
  expect(grid.imagesPerSecond).toBe(80000);
  expect(grid.source).toContain("4 runs sharing a GPU x 2 GPU(s)");
  // No grid row for 3 runs: one run's rate per GPU, said so.
  expect(measuredThroughput(dir, model, "torch-cuda", { count: 2, jobsPerGpu: 3 })!.source).toContain("no grid row for 3 runs");
  expect(measuredThroughput(dir, model, "onnx-webgpu")).toBeNull();
});

test("engine keys: auto is onnx on the CPU EP without an NVIDIA driver; explicit settings map directly", async () => {
  const engine = (e: Record<string, unknown>) => validateConfig<TrainingConfig>("training", { engine: e }).engine;
  expect(await engineKey(engine({ name: "onnx", provider: "webgpu" }))).toBe("onnx-webgpu");
  expect(await engineKey(engine({ name: "torch", device: "cuda:1" }))).toBe("torch-cuda");
  expect(await engineKey(engine({ name: "torch", device: "cpu" }))).toBe("torch-cpu");
  expect(await engineKey(engine({ name: "tfjs" }))).toBe("tfjs");
  if (!(await import("../../src/engine/torch/detect.ts")).nvidiaDriverPresent()) expect(await engineKey(engine({}))).toBe("onnx-cpu");
});

test("a report that does not match its schema costs the estimate, not the run", () => {
  const dir = mkdtempSync(join(tmpdir(), "plan-bad-"));
  writeFileSync(join(dir, "train-throughput.json"), JSON.stringify({ throughput: [{ engine: "onnx-cpu", imagesPerSecond: "fast" }] }));
  expect(measuredThroughput(dir, { arch: "preresnet20", width: 16 }, "onnx-cpu")).toBeNull();
});

test("a model bench:train did not time is estimated from the case nearest in MACs per image, scaled by the ratio of MACs", () => {
  const dir = mkdtempSync(join(tmpdir(), "plan-scale-"));
  const cases = [
    { name: "paper", arch: "preresnet20", width: 16, inputShape: [3, 32, 32] },
    { name: "tiny", arch: "preresnet20", width: 4, inputShape: [3, 16, 16] },
  ];
  writeFileSync(
    join(dir, "train-throughput.json"),
    JSON.stringify({
      context: { date: "2026-11-28T00:00:00Z" },
      config: { throughput: { cases } },
      throughput: [
        { case: "paper", engine: "onnx-cpu", status: "measured", imagesPerSecond: 300 },
        { case: "tiny", engine: "onnx-cpu", status: "measured", imagesPerSecond: 9000 },
      ],
    }),
  );
  const macs = (w: number, s: number) => macsPerImage({ arch: "preresnet20", width: w, inputShape: [3, s, s] });
  // Convs dominate: half the width is about a quarter of the MACs.
  expect(macs(16, 32) / macs(8, 32)).toBeGreaterThan(3.5);
  expect(macs(16, 32) / macs(8, 32)).toBeLessThan(4.1);
  // Timed: the measurement itself.
  expect(measuredThroughput(dir, { arch: "preresnet20", width: 16, inputShape: [3, 32, 32] }, "onnx-cpu")!.imagesPerSecond).toBe(300);
  // Width 8 at 32x32 is nearer the paper case in MACs than the tiny one: 300 img/s times its MAC ratio.
  const w8 = measuredThroughput(dir, { arch: "preresnet20", width: 8, inputShape: [3, 32, 32] }, "onnx-cpu")!;
  expect(w8.imagesPerSecond).toBeCloseTo((300 * macs(16, 32)) / macs(8, 32), 6);
  expect(w8.source).toMatch(/paper, onnx-cpu, 2026-11-28; no measurement of preresnet20 w8 3x32x32: scaled by MACs per image \(x3\.\d+\)/);
  // With only the tiny case, a large model is scaled down from it rather than given its raw (much higher) rate.
  const onlyTiny = mkdtempSync(join(tmpdir(), "plan-tiny-"));
  writeFileSync(
    join(onlyTiny, "train-throughput.json"),
    JSON.stringify({
      context: { date: "2026-11-28T00:00:00Z" },
      config: { throughput: { cases } },
      throughput: [{ case: "tiny", engine: "onnx-cpu", status: "measured", imagesPerSecond: 9000 }],
    }),
  );
  const big = measuredThroughput(onlyTiny, { arch: "preresnet20", width: 16, inputShape: [3, 32, 32] }, "onnx-cpu")!;
  expect(big.imagesPerSecond).toBeCloseTo((9000 * macs(4, 16)) / macs(16, 32), 6);
  expect(big.imagesPerSecond).toBeLessThan(300);
});

test("the planned model's images follow its dataset: Fashion-MNIST is one channel, padded to data.padTo", () => {
  const t = (data: Record<string, unknown>) => validateConfig<TrainingConfig>("training", { model: { width: 8 }, data });
  expect(plannedModel(t({ dataset: "fashion-mnist-embedded" })).inputShape).toEqual([1, 32, 32]);
  expect(plannedModel(t({ dataset: "fashion-mnist", padTo: 1 })).inputShape).toEqual([1, 28, 28]);
  expect(plannedModel(t({ dataset: "cifar10" }))).toEqual({ arch: "preresnet20", width: 8, inputShape: [3, 32, 32] });
});

test("torch rows measured in several variants: the estimate takes the row of the units' own engine settings", () => {
  const dir = mkdtempSync(join(tmpdir(), "plan-"));
  const row = (ips: number, precision: string, cudaGraphs: boolean) => ({
    case: "paper",
    engine: "torch-cuda",
    status: "measured",
    imagesPerSecond: ips,
    precision,
    cudaGraphs,
    channelsLast: false,
  });
  writeFileSync(
    join(dir, "train-throughput-gpu.json"),
    JSON.stringify({ ...bench([]), throughput: [row(14000, "fp32", false), row(45000, "fp32", true), row(60000, "bf16", true)] }),
  );
  const model = { arch: "preresnet20", width: 16 };
  const engine = validateConfig<TrainingConfig>("training", {}).engine;
  const graphs = rowSettings({ ...engine, device: "cuda" }, "torch-cuda")!;
  expect(graphs).toEqual({ precision: "fp32", cudaGraphs: true, channelsLast: false });
  expect(measuredThroughput(dir, model, "torch-cuda", undefined, graphs)!.imagesPerSecond).toBe(45000);
  expect(measuredThroughput(dir, model, "torch-cuda", undefined, { ...graphs, cudaGraphs: false })!.imagesPerSecond).toBe(14000);
  expect(measuredThroughput(dir, model, "torch-cuda", undefined, { ...graphs, precision: "bf16" })!.imagesPerSecond).toBe(60000);
  // Settings no row was measured with, or none given: the slowest row, as before.
  expect(measuredThroughput(dir, model, "torch-cuda", undefined, { ...graphs, channelsLast: true })!.imagesPerSecond).toBe(14000);
  expect(measuredThroughput(dir, model, "torch-cuda")!.imagesPerSecond).toBe(14000);
  // On the CPU, the CUDA-only settings come to nothing.
  expect(rowSettings({ ...engine, precision: "tf32" }, "torch-cpu")).toEqual({ precision: "fp32", cudaGraphs: false, channelsLast: false });
  expect(rowSettings(engine, "onnx-cpu")).toBeUndefined();
});
