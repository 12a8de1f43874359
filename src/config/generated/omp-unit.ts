/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */
import type {TrainingConfig} from "./training.ts";

/**
 * One-shot pruning of the pretrained model (global magnitude: OMP; or random), then fine-tuning.
 */
export interface OmpUnitConfig {
  training: TrainingConfig;
  dense: string;
  finalEpoch: number;
  sparsity: number;
  /**
   * How the pretrained model is pruned: global magnitude (OMP, the default when absent) or uniformly random in every layer (the random baseline, drawn from the training seed).
   */
  method?: "global-magnitude" | "random";
}
