/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */
import type {TrainingConfig} from "./training.ts";

/**
 * One IMP round: prune rate of the remaining weights by global magnitude, rewind, retrain.
 */
export interface ImpRoundUnitConfig {
  training: TrainingConfig;
  /**
   * The dense unit (snapshots at rewindEpoch and finalEpoch).
   */
  dense: string;
  /**
   * The previous round's unit (absent for round 1, which prunes the dense model).
   */
  previous?: string;
  round: number;
  rate: number;
  rewindEpoch: number;
  finalEpoch: number;
}
