/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */
import type {TrainingConfig} from "./training.ts";
import type {BipConfig} from "./bip.ts";

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
  /**
   * Revision of the BiP loop (src/train/bip-loop.ts BIP_REVISION). It has no default, so it is always part of the unit id: results of an older loop are never reused for a newer one.
   */
  revision: number;
}
