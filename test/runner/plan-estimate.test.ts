import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateConfig } from "../../src/config/load.ts";
import type { TrainingConfig } from "../../src/config/generated/training.ts";
import { engineKey, measuredThroughput } from "../../src/runner/plan.ts";

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
