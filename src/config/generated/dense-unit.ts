/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */
import type {TrainingConfig} from "./training.ts";

/**
 * A dense training run that keeps snapshots at given epochs (fig2 temperatures).
 */
export interface DenseUnitConfig {
  training: TrainingConfig;
  /**
   * Epochs (completed) at which the weights are kept.
   */
  snapshots: number[];
}
