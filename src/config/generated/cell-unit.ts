/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */
import type {TrainingConfig} from "./training.ts";
import type {PairMetricsConfig} from "./pair-metrics.ts";

/**
 * LMC and CKA of the two retrained models of one (temperature, density) cell.
 */
export interface CellUnitConfig {
  /**
   * Data and model settings (for loading data and building the model).
   */
  training: TrainingConfig;
  /**
   * The two retrain units compared.
   *
   * @minItems 2
   * @maxItems 2
   */
  models: [string, string];
  metrics: PairMetricsConfig;
}
