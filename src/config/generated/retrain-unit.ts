/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */
import type {TrainingConfig} from "./training.ts";

/**
 * Prune a dense snapshot one-shot by layer-wise L1 magnitude and retrain it with the mask fixed.
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
   * Test error = mean over this many last epochs (the planner keeps them in the final learning-rate phase).
   */
  lastEpochs: number;
}
