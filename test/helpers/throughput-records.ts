import type { BenchTrainConfig } from "../../src/config/generated/bench-train.ts";
import { validateConfig } from "../../src/config/load.ts";
import type { BenchRecord, Measurement, PackResult, TorchResult } from "../../src/report/train-throughput-report.ts";

/** bench:train's records, built by hand: one case, preresnet20 width 16 at 32x32, batch 128. */
export const CASE = "w16 32x32";
export const config = validateConfig<BenchTrainConfig>("bench-train", {
  throughput: { cases: [{ name: CASE, arch: "preresnet20", width: 16, inputShape: [3, 32, 32], batchSize: 128 }] },
});

/** A torch-engine row at `imagesPerSecond`, `hostShare` of whose step is host time. */
export function engine(device: "cpu" | "cuda", imagesPerSecond: number, hostShare: number, extra: Partial<Measurement> = {}): Measurement {
  const msPerStep = (128 / imagesPerSecond) * 1000;
  return {
    case: CASE,
    engine: `torch-${device}`,
    status: "measured",
    provider: device === "cpu" ? "cpu" : "cuda:0",
    threads: 2,
    batchSize: 128,
    steps: 20,
    cropPadding: 4,
    flip: true,
    epochSeconds: (20 * msPerStep) / 1000,
    msPerStep,
    batchMsPerStep: device === "cpu" ? 0.1 * hostShare * msPerStep : null,
    hostMsPerStep: hostShare * msPerStep,
    hostShare,
    imagesPerSecond,
    ...extra,
  } as Measurement;
}

export function raw(device: "cpu" | "cuda", imagesPerSecond: number): TorchResult {
  return {
    case: CASE,
    device,
    status: "measured",
    python: "python3",
    torch: "2.0",
    gpu: device === "cuda" ? "NVIDIA H100 80GB HBM3" : null,
    threads: 2,
    steps: 20,
    epochSeconds: (20 * 128) / imagesPerSecond,
    msPerStep: (128 / imagesPerSecond) * 1000,
    imagesPerSecond,
  };
}

export const record = (throughput: Measurement[], torch: TorchResult[]): BenchRecord => ({
  context: { date: "2024-01-01", commit: "abc", machine: { host: "h", cpu: "cpu", cores: 2, memoryGiB: 4, os: "linux" }, runtime: {} },
  preset: "quick",
  threads: 2,
  config,
  throughput,
  torch,
  grid: [],
  profile: null,
  accuracy: null,
});

/** A grouped torch pack of `size` at `imagesPerSecond` in total. */
export function packRow(engine: "torch-cpu" | "torch-cuda", size: number, imagesPerSecond: number): PackResult {
  return {
    case: CASE,
    engine,
    formulation: "grouped",
    size,
    status: "measured",
    provider: engine === "torch-cpu" ? "cpu" : "cuda:0",
    threads: 2,
    batchSize: 128,
    steps: 10,
    epochSeconds: (10 * 128 * size) / imagesPerSecond,
    imagesPerSecond,
    perModel: imagesPerSecond / size,
  };
}

/** The ONNX step's profile record of the case: `wallMs` of wall time, each op's kernel ms and node count, shares of `kernelMs` (default: the ops' total). */
export function profileRecord(
  wallMs: number,
  ops: [op: string, ms: number, nodes: number][],
  kernelMs = ops.reduce((s, [, ms]) => s + ms, 0),
): NonNullable<BenchRecord["profile"]> {
  return {
    case: CASE,
    profile: { wallMs, kernelMs, byOp: ops.map(([op, ms, nodes]) => ({ op, ms, share: ms / kernelMs, nodes })), topNodes: [] },
  };
}
