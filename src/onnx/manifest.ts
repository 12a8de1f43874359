import type { ModelsExportConfig } from "../config/generated/models-export.ts";
import type { PruneFinetuneUnitConfig } from "../config/generated/prune-finetune-unit.ts";
import type { TrainingConfig } from "../config/generated/training.ts";
import type { RunContext } from "../util/provenance.ts";
import type { MacLayer } from "./flops.ts";

/**
 * models/<preset>/manifest.json: what models:export wrote and bench:sparse-inference
 * times (schemas/models-manifest.schema.json checks the fields it reads when loaded).
 */
export type ModelKind = "dense" | "unstructured" | "structured";

export interface ManifestModel {
  name: string;
  file: string;
  kind: ModelKind;
  method: "none" | PruneFinetuneUnitConfig["method"];
  /** The density setting it was pruned with (unstructured: weights; structured: block inner channels). */
  nominalDensity: number;
  /** Structured: kept channel counts are multiples of this (1: not aligned). */
  channelMultiple: number;
  /** Non-zero conv weights in the file / conv weights of the dense model. */
  convWeightDensity: number;
  /** Conv+fc multiply-accumulates per image: the dense model's, and those of non-zero weights in this file. */
  macs: { dense: number; remaining: number };
  /** Conv/fc layer sizes of the file, to count the work a runtime does with its own padding (flops.ts paddedMacs). */
  macLayers: MacLayer[];
  parameters: number;
  removedConvChannels: number;
  foldedChannels: number;
  /** Final test accuracy of the training or fine-tuning run (whole test split). */
  testAccuracy: number | null;
  /** Top-1 correct on the first `images` test images, by this file on ORT CPU at export: the benchmark re-checks it. */
  check: { images: number; correct: number };
  parityMaxAbsDiff: number;
  bytes: number;
  sha256: string;
  unit: string;
}

export interface Manifest {
  preset: string;
  arch: string;
  width: number;
  inputShape: [number, number, number];
  dataset: { name: string; source: string; testImages: number };
  training: TrainingConfig;
  fineTune: ModelsExportConfig["fineTune"];
  context: RunContext;
  models: ManifestModel[];
}
