/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */
import type {TrainingConfig} from "./training.ts";

/**
 * bun run bench:train: training throughput per engine and execution provider, PyTorch side by side, and a real accuracy check.
 */
export interface BenchTrainConfig {
  /**
   * What is timed: engines, model cases, steps, the oracle and the grid row
   */
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
     * Engine/device combinations to measure (torch-*: this harness's PyTorch engine); those that do not load on this machine are reported as skipped with the reason.
     */
    engines: ("onnx-cpu" | "onnx-cuda" | "onnx-webgpu" | "tfjs" | "torch-cpu" | "torch-cuda")[];
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
    /**
     * Several small runs sharing one GPU, as --gpus 0 --jobs-per-gpu N runs them: N processes each train the first case with the torch engine on CUDA at once; their images per second together against one alone. Skipped without CUDA torch.
     */
    grid: {
      /**
       * Numbers of concurrent runs to measure (1 = the one-at-a-time baseline).
       */
      workers: number[];
      /**
       * Timed steps per run, after the warm-up steps, all runs starting together.
       */
      steps: number;
      /**
       * The device the runs share (cpu only exercises the mechanism: CPU runs compete for the same cores).
       */
      device: string;
    };
  };
  /**
   * The raw PyTorch comparison: whether it runs and which Python
   */
  torch: {
    /**
     * Time the same step in raw PyTorch (bench/torch_train_step.py, no harness) on the CPU, and on CUDA where torch sees a GPU: the reference the torch engine's per-step overhead is judged against.
     */
    enabled: boolean;
    /**
     * Interpreter that imports torch; auto tries $PRUNING_HARNESS_PYTHON, python3, /usr/bin/python3 (as engine.python).
     */
    python: string;
  };
  /**
   * The accuracy check: one short real training run after the timings
   */
  accuracy: {
    /**
     * Train one model to check that training learns.
     */
    enabled: boolean;
    training: TrainingConfig;
  };
}
