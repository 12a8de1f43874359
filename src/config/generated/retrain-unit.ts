/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */
import type {TrainingConfig} from "./training.ts";

/**
 * Prune a dense snapshot one-shot (layer-wise L1 magnitude unless `method` says otherwise) and retrain it with the mask fixed.
 */
export interface RetrainUnitConfig {
  /**
   * Retraining: data, model, retrain optimiser and the retrain seed.
   */
  training: TrainingConfig;
  /**
   * The dense unit and the snapshot epoch to prune.
   */
  source: {
    unit: string;
    epoch: number;
  };
  density: number;
  /**
   * The one-shot pruning method: any name registered in src/prune/one-shot.ts (layerwise-magnitude, the paper's, global-magnitude, random, block-channels-l1, weight-gradient, ...).
   */
  method?: string;
  /**
   * The method's own settings, checked against schemas/one-shot-<method>.schema.json (found by the method's name; a method without that file takes none).
   */
  methodSettings?: {};
  /**
   * Seed of methods that draw (random) or sample (weight-gradient's images). The grid gives every retraining of one dense snapshot the same one, so they start from one mask; absent: the training seed.
   */
  maskSeed?: number;
  /**
   * Test error = mean over this many last epochs (the planner keeps them in the final learning-rate phase).
   */
  lastEpochs: number;
}
