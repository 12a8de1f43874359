/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */
import type {OptimConfig, TrainingConfig} from "./training.ts";

/**
 * Hydra: scores learned for the frozen pretrained weights, the top-k mask per layer, then fine-tuning (training.optim).
 */
export interface HydraUnitConfig {
  training: TrainingConfig;
  dense: string;
  finalEpoch: number;
  sparsity: number;
  scores: OptimConfig;
}
