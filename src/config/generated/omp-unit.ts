/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */
import type {TrainingConfig} from "./training.ts";

/**
 * One-shot pruning of the pretrained model (global magnitude: OMP; or any registered one-shot method), then fine-tuning.
 */
export interface OmpUnitConfig {
  training: TrainingConfig;
  dense: string;
  finalEpoch: number;
  sparsity: number;
  /**
   * How the pretrained model is pruned: any one-shot method registered in src/prune/one-shot.ts; global magnitude (OMP) when absent. random draws from the training seed.
   */
  method?: string;
  /**
   * The method's own settings, checked against schemas/one-shot-<method>.schema.json (found by the method's name; a method without that file takes none).
   */
  methodSettings?: {};
}
