/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */
import type {TrainingConfig} from "./training.ts";
import type {BipConfig} from "./bip-bench.ts";

/**
 * BiP from the pretrained model to one sparsity.
 */
export interface BipUnitConfig {
  /**
   * Data, model, engine and seed (optim is unused: BiP has its own).
   */
  training: TrainingConfig;
  dense: string;
  finalEpoch: number;
  sparsity: number;
  bip: BipConfig;
}
