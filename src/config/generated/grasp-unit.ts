/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */
import type {TrainingConfig} from "./training.ts";

/**
 * GraSP: prune the freshly initialised model by gradient-signal preservation, then train the subnetwork from that initialisation.
 */
export interface GraspUnitConfig {
  training: TrainingConfig;
  sparsity: number;
  /**
   * Training images per class the scores are computed on (the authors' 10).
   */
  samplesPerClass: number;
  /**
   * Step of the Hessian-gradient product's central difference, relative to 1 + ||theta|| of the prunable weights.
   */
  relStep: number;
}
