import type { SparseInferenceConfig } from "../../src/config/generated/sparse-inference.ts";
import { validateConfig } from "../../src/config/load.ts";
import { summarise } from "../../src/onnx/session-timing.ts";
import type { InferenceResult, SparseInferenceData, Storage } from "../../src/report/sparse-inference-data.ts";
import { runContext } from "../../src/util/provenance.ts";

/** bench:sparse-inference's default settings (throughput at batches 64 and 128). */
export const siConfig = validateConfig<SparseInferenceConfig>("sparse-inference", {});

/**
 * One measured model: 20 latency runs from `ms` rising evenly by `spread` (default 5%), and
 * at each throughput batch b runs b/8 times as long, so img/s = 8000 / ms at the median.
 */
export function inferenceResult(
  model: string,
  kind: InferenceResult["kind"],
  theory: number,
  ms: number,
  o: { storage?: Storage; spread?: number; channelMultiple?: number } = {},
): InferenceResult {
  const lat = Array.from({ length: 20 }, (_, i) => ms * (1 + ((o.spread ?? 0.05) * i) / 19));
  return {
    model,
    kind,
    storage: o.storage ?? "dense initializers",
    nominalDensity: 1 / theory,
    ...(o.channelMultiple ? { channelMultiple: o.channelMultiple } : {}),
    convWeightDensity: 1 / theory,
    theoreticalSpeedup: theory,
    testAccuracy: 0.9,
    check: { images: 10, correct: 9, expected: 9 },
    bytes: 1000,
    status: "measured",
    latency: summarise([lat], 1, 5),
    throughput: siConfig.throughputBatches.map((b) => summarise([lat.map((x) => (x * b) / 8)], b, 5)),
  };
}

/** A benchmark's data around these results (CPU EP, block 16, no profiles unless given). */
export const inferenceData = (results: InferenceResult[], over: Partial<SparseInferenceData> = {}): SparseInferenceData => ({
  context: runContext(new Date(0)),
  preset: "test",
  provider: "cpu",
  threads: 2,
  nchwcBlock: 16,
  config: siConfig,
  model: { arch: "a", width: 16, inputShape: [1, 28, 28], dataset: "d", manifest: "m" },
  results,
  profiles: [],
  ...over,
});
