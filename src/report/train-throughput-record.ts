/** bench:train's record: what the benchmark measured (schemas/train-throughput.schema.json checks what the planner reads). */
import type { BenchTrainConfig } from "../config/generated/bench-train.ts";
import type { StepProfile } from "../engine/onnx/profile.ts";
import type { EpochRecord } from "../train/train-loop.ts";
import type { RunContext } from "../util/provenance.ts";

export type Case = BenchTrainConfig["throughput"]["cases"][number];
export type EngineKey = BenchTrainConfig["throughput"]["engines"][number];

export type Measurement =
  | {
      case: string;
      engine: EngineKey;
      status: "measured";
      provider: string;
      threads: number;
      batchSize: number;
      /** Steps of the timed epoch (the median of throughput.timedEpochs). */
      steps: number;
      /** The epoch's augmentation: crop padding in px (scaled to the case's image size) and flips. */
      cropPadding: number;
      flip: boolean;
      epochSeconds: number;
      /** epochSeconds / steps, in ms: single steps are not observable when many go in one request. */
      msPerStep: number;
      /** Building batches per step: on the engine's device (torch, CPU only: null on CUDA, where it overlaps the steps) or in JS (onnx, tfjs). */
      batchMsPerStep: number | null;
      /** torch engine: ms per step outside its own computation (JS side, requests, pipe; on the CPU building batches too); null elsewhere. */
      hostMsPerStep: number | null;
      /** hostMsPerStep / msPerStep. */
      hostShare: number | null;
      /** The epoch's images over its wall time. */
      imagesPerSecond: number;
      /** torch engine: the server's device, and the settings it applied (engine.precision, cudaGraphs, channelsLast). */
      gpu?: string | null;
      precision?: string;
      cudaGraphs?: boolean;
      channelsLast?: boolean;
    }
  | { case: string; engine: EngineKey; status: "skipped"; reason: string };

/** Raw PyTorch (bench/torch_train_step.py) on one device. */
export type TorchResult =
  | {
      case: string;
      device: "cpu" | "cuda";
      status: "measured";
      python: string;
      torch: string;
      gpu: string | null;
      threads: number;
      /** One epoch of this many batches, the data already on the device (torch_train_step.py --epoch). */
      steps: number;
      epochSeconds: number;
      msPerStep: number;
      imagesPerSecond: number;
      /** Timed epochs this row is the median of, each run just after one of the torch engine's (absent: timed by itself). */
      interleavedEpochs?: number;
    }
  | { case: string; device: "cpu" | "cuda"; status: "skipped"; reason: string };

/** N runs of the torch engine sharing one GPU, timed over the same window. */
export type GridResult =
  | { case: string; workers: number; status: "measured"; provider: string; imagesPerSecond: number; perRun: number[] }
  | { case: string; workers: number; status: "skipped"; reason: string };

/** K models of one case trained as a pack (throughput.packs), timed over whole packed epochs. */
export type PackResult =
  | {
      case: string;
      engine: EngineKey;
      formulation: "grouped" | "loop";
      size: number;
      status: "measured";
      provider: string;
      threads: number;
      batchSize: number;
      /** Steps of the timed epoch (every member takes each). */
      steps: number;
      epochSeconds: number;
      /** All members' images over the epoch's wall time. */
      imagesPerSecond: number;
      /** imagesPerSecond / size. */
      perModel: number;
    }
  | { case: string; engine: EngineKey; formulation: "grouped" | "loop"; size: number; status: "skipped"; reason: string };

export interface AccuracyResult {
  dataset: string;
  source: string;
  arch: string;
  width: number;
  trainImages: number;
  testImages: number;
  epochs: EpochRecord[];
  status: string;
  finalTestAccuracy: number | null;
  wallSeconds: number;
  engine: string;
  provider: string;
  /** What its trainers computed in (engine.precision): fp32, tf32, bf16, several joined by "or". */
  precision: string;
}

export interface BenchRecord {
  context: RunContext;
  preset: string;
  threads: number;
  config: BenchTrainConfig;
  throughput: Measurement[];
  torch: TorchResult[];
  grid: GridResult[];
  /** Absent in records from before packed rows existed. */
  packs?: PackResult[];
  profile: { case: string; profile: StepProfile } | null;
  accuracy: AccuracyResult | null;
}
