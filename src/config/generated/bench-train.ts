/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */
import type {TrainingConfig} from "./training.ts";

/**
 * bun run bench:train: training throughput per engine and execution provider, PyTorch side by side, and a real accuracy check.
 */
export interface BenchTrainConfig {
  throughput: {
    /**
     * Untimed steps before measuring (session start, allocator warm-up).
     */
    warmupSteps: number;
    /**
     * Timed steps per engine and case; the median is reported.
     */
    measuredSteps: number;
    /**
     * Timed steps for the pure-JS TensorFlow.js cpu backend, which is orders of magnitude slower.
     */
    oracleSteps: number;
    /**
     * Batch size for the TensorFlow.js cpu backend (about 90 s per step at batch 64 for the w8 model here), so the oracle is timed at all; images/s are reported at this batch.
     */
    oracleBatchSize: number;
    /**
     * Steps under ORT's profiler for the per-op cost table of the first case (0 = skip).
     */
    profileSteps: number;
    /**
     * Engine/EP combinations to measure; those that do not load on this machine are reported as skipped with the reason.
     */
    engines: ("onnx-cpu" | "onnx-cuda" | "onnx-webgpu" | "tfjs")[];
    /**
     * Model and batch shapes to time.
     *
     * @minItems 1
     */
    cases: [
      {
        name: string;
        arch: "preresnet20" | "resnet20a";
        width: number;
        /**
         * @minItems 3
         * @maxItems 3
         */
        inputShape: [number, number, number];
        batchSize: number;
      },
      ...{
        name: string;
        arch: "preresnet20" | "resnet20a";
        width: number;
        /**
         * @minItems 3
         * @maxItems 3
         */
        inputShape: [number, number, number];
        batchSize: number;
      }[]
    ];
  };
  torch: {
    /**
     * Time the same step in PyTorch CPU when `import torch` works.
     */
    enabled: boolean;
    /**
     * Interpreters tried in order.
     */
    pythons: string[];
  };
  accuracy: {
    /**
     * Train one model to check that training learns.
     */
    enabled: boolean;
    training: TrainingConfig;
  };
}
