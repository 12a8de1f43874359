/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */
import type {TrainingConfig} from "./training.ts";

/**
 * One-shot global magnitude pruning of the pretrained model, then fine-tuning.
 */
export interface OmpUnitConfig {
  training: TrainingConfig;
  dense: string;
  finalEpoch: number;
  sparsity: number;
}
