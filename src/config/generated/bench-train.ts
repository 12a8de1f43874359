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
     * Untimed training steps before the timed epoch (session start, allocator warm-up, the split sent to a resident engine, CUDA graph capture), taken from an epoch of the same data.
     */
    warmupSteps: number;
    /**
     * Steps of the one timed epoch per engine and case: the timed dataset holds this many batches, and images/s is that epoch's images over its wall time.
     */
    measuredSteps: number;
    /**
     * Timed epochs per row (engine rows and raw PyTorch rows alike); a row reports the median one, so a burst of load from elsewhere on a shared machine moves one epoch, not the row. The TF.js oracle times one.
     */
    timedEpochs: number;
    /**
     * Steps of the timed epoch for the pure-JS TensorFlow.js cpu backend, which is orders of magnitude slower.
     */
    oracleSteps: number;
    /**
     * Batch size for the TensorFlow.js cpu backend (about 90 s per step at batch 64 for the w8 model here), so the oracle is timed at all; images/s are reported at this batch.
     */
    oracleBatchSize: number;
    /**
     * Augmentation of the timed epochs, as training applies it (training.schema.json data.cropPadding and data.flip): random crops and flips, built where the engine builds batches.
     */
    augment: {
      /**
       * Zero padding (px) of random crops at images of cropPaddingImageSize px (CIFAR's 4 px at 32 px); 0 disables cropping.
       */
      cropPadding: number;
      /**
       * Image side (the shorter one) at which cropPadding applies; a smaller case's padding is scaled down in proportion and rounded, so a 16x16 smoke case crops by 2 px, not by half its size.
       */
      cropPaddingImageSize: number;
      /**
       * Random horizontal flips.
       */
      flip: boolean;
    };
    /**
     * Steps under ORT's profiler for the per-op cost table of the first case (0 = skip).
     */
    profileSteps: number;
    /**
     * Engine/device combinations to measure (torch-*: this harness's PyTorch engine); those that do not load on this machine are reported as skipped with the reason.
     */
    engines: ("onnx-cpu" | "onnx-cuda" | "onnx-webgpu" | "tfjs" | "torch-cpu" | "torch-cuda")[];
    /**
     * One torch-* row per variant of the engine's GPU settings (the default: fp32 eager, the raw PyTorch goal's row, and fp32 with CUDA graphs, the graph goal's row). Settings that do nothing on a device are dropped there (the CPU has no TF32, CUDA graphs or channels_last), so variants that become the same are measured once.
     *
     * @minItems 1
     */
    torchVariants: [
      {
        /**
         * engine.precision of the row.
         */
        precision: "fp32" | "tf32" | "bf16";
        /**
         * engine.cudaGraphs of the row.
         */
        cudaGraphs: boolean;
        /**
         * engine.channelsLast of the row.
         */
        channelsLast: boolean;
      },
      ...{
        /**
         * engine.precision of the row.
         */
        precision: "fp32" | "tf32" | "bf16";
        /**
         * engine.cudaGraphs of the row.
         */
        cudaGraphs: boolean;
        /**
         * engine.channelsLast of the row.
         */
        channelsLast: boolean;
      }[]
    ];
    /**
     * Model and batch shapes to time.
     *
     * @minItems 1
     */
    cases: [
      {
        name: string;
        arch: "preresnet20" | "resnet20a" | "resnet56a" | "resnet18" | "vgg16" | "resnet50";
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
        arch: "preresnet20" | "resnet20a" | "resnet56a" | "resnet18" | "vgg16" | "resnet50";
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
     * Several small runs sharing one GPU, as --gpus 0 --jobs-per-gpu N runs them: N processes each train the first case with the torch engine on CUDA at once, each timing one epoch through the same path as training; their images per second together against one alone. Skipped without CUDA torch.
     */
    grid: {
      /**
       * Numbers of concurrent runs to measure (1 = the one-at-a-time baseline).
       */
      workers: number[];
      /**
       * Steps of each run's timed epoch, after its warm-up steps, all runs starting together.
       */
      steps: number;
      /**
       * The device the runs share (cpu only exercises the mechanism: CPU runs compete for the same cores).
       */
      device: string;
    };
    /**
     * Packed training rows (runner.pack): K models of one case trained together, each on its own batches, through the same pack loop as training (src/train/pack-loop.ts); images/s in total and per model, beside the same engine at K=1.
     */
    packs: {
      /**
       * Pack sizes K (1: the pack path with one member).
       */
      sizes: number[];
      /**
       * Engine/device combinations with packed rows (those that do not load here are reported skipped).
       */
      engines: ("onnx-cpu" | "torch-cpu" | "torch-cuda")[];
      /**
       * engine.packFormulation values measured; loop rows are left out for torch, where they are K unpacked trainers in turn (the engine row's rate).
       *
       * @minItems 1
       */
      formulations: ["grouped" | "loop", ...("grouped" | "loop")[]];
      /**
       * Cases of throughput.cases (matched by arch, width and batch) that get packed rows; the default is the quick preset's model, the unit of the default grid.
       */
      cases: {
        arch: "preresnet20" | "resnet20a" | "resnet56a" | "resnet18" | "vgg16" | "resnet50";
        width: number;
        batchSize: number;
      }[];
      /**
       * Steps of each timed epoch of a packed row (every member takes this many).
       */
      steps: number;
      /**
       * Rounds of timed epochs: each round times one epoch of every pack size in turn, so drift on a shared machine falls on all sizes alike; a row reports its median epoch.
       */
      timedEpochs: number;
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
  /**
   * The throughput goals the report checks (issue 24), each computed from this run's rows or reported as not measured here
   */
  goals: {
    /**
     * CPU: the torch engine's epoch (batches built on the device, augmentation included) at least this fraction of raw PyTorch's epoch with the data already in memory (bench/torch_train_step.py --epoch), same device, same run.
     */
    torchEngineVsRawMin: number;
    /**
     * The same on CUDA, against raw PyTorch eager.
     */
    torchEngineVsRawMinCuda: number;
    /**
     * The torch engine's host time per step (everything outside the model's own computation: plans, requests, the pipe, and on the CPU building batches) at most this share of the step.
     */
    hostShareMax: number;
    /**
     * Images/s the torch engine reaches on graphCase with CUDA graphs on one of graphGpus.
     */
    graphImagesPerSecond: number;
    /**
     * The case the CUDA-graph goal is judged on (the first of throughput.cases that matches).
     */
    graphCase: {
      arch: "preresnet20" | "resnet20a" | "resnet56a" | "resnet18" | "vgg16" | "resnet50";
      width: number;
      batchSize: number;
    };
    /**
     * GPUs the CUDA-graph goal is set for (a substring of torch's device name); on another GPU the rate is shown, not judged.
     *
     * @minItems 1
     */
    graphGpus: [string, ...string[]];
    /**
     * A grid of small runs on one GPU: all runs together at least this many times one run alone.
     */
    gridSpeedupMin: number;
    /**
     * Packed training: the best pack size's images/s in total at least this many times the same engine's K=1 pack, same case, device and threads (torch-cpu and torch-cuda, grouped).
     */
    packSpeedupMin: number;
  };
}
