/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */
import type {TrainingConfig} from "./training.ts";
import type {PairMetricsConfig} from "./pair-metrics.ts";

/**
 * LMC and CKA of every pair of the retrained models of one (temperature, density, dense seed) cell.
 */
export interface CellUnitConfig {
  /**
   * Data and model settings (for loading data and building the model).
   */
  training: TrainingConfig;
  /**
   * The retrain units compared: every pair of them.
   *
   * @minItems 2
   */
  models: [string, string, ...string[]];
  metrics: PairMetricsConfig;
}
