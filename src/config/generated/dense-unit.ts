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
  /**
   * Evaluate on the test split after every epoch (a test-error curve). Absent or false: only after the snapshot epochs and the last, where a result reads it (each evaluation is a pass over the test split). No default on purpose: units planned before the setting keep their ids.
   */
  testEveryEpoch?: boolean;
}
