/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */
import type {TrainingConfig} from "./training.ts";

/**
 * Prunes a trained model once (unstructured or structured) and fine-tunes it with the mask fixed: the pruned models that bun run models:export exports.
 */
export interface PruneFinetuneUnitConfig {
  /**
   * Fine-tuning run (same model and data as the source, its own optim).
   */
  training: TrainingConfig;
  /**
   * Id of the train unit whose final weights are pruned.
   */
  source: string;
  /**
   * Any one-shot method registered in src/prune/one-shot.ts, e.g. global-magnitude: unstructured, one |w| threshold over all conv layers. layerwise-magnitude: unstructured, each conv layer keeps the same fraction (the three-regime paper's pruning). block-channels-l1: structured, each residual block keeps the inner channels whose filters have the largest L1 norm (Li et al. 2017).
   */
  method: string;
  /**
   * The method's own settings, checked against schemas/one-shot-<method>.schema.json (found by the method's name; a method without that file takes none).
   */
  methodSettings?: {};
  /**
   * global-magnitude: fraction of conv weights kept. block-channels-l1: fraction of each block's inner channels kept.
   */
  density: number;
  /**
   * block-channels-l1 only: each block keeps a multiple of this many inner channels (at least one multiple), e.g. ONNX Runtime's NCHWc block (16 with AVX-512, 8 with AVX2) so that no padded channel is computed.
   */
  channelMultiple: number;
}
