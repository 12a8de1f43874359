/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */
import type {OptimConfig, TrainingConfig} from "./training.ts";

/**
 * bun run models:export: trains a dense model, prunes it unstructured and structured to several densities, fine-tunes each, and writes parity-checked inference ONNX files with a manifest.
 */
export interface ModelsExportConfig {
  /**
   * The dense model's training.
   */
  training: TrainingConfig;
  /**
   * Fine-tuning of every pruned model, mask fixed.
   */
  fineTune: OptimConfig;
  /**
   * Fractions of conv weights kept by global magnitude pruning (one model each).
   */
  unstructuredDensities: number[];
  /**
   * Fractions of each residual block's inner channels kept by L1-norm channel pruning (one compacted model each).
   */
  structuredDensities: number[];
  /**
   * How closely each exported ONNX file must match the trainer's outputs before it is written
   */
  parity: {
    /**
     * Images in the export parity check (ONNX Runtime vs the TensorFlow.js oracle).
     */
    batch: number;
    /**
     * Largest allowed |logit difference| in the parity check.
     */
    tolerance: number;
    /**
     * Seed of the parity check's random batch.
     */
    seed: number;
  };
  /**
   * Test images each exported file classifies at export (ORT CPU); the count correct goes into the manifest and bench:sparse-inference requires every session it times to match it.
   */
  checkImages: number;
  /**
   * Structured models aligned to the CPU EP's channel block: do they reach their FLOP speedup where the unaligned ones do not?
   */
  alignedStructured: {
    /**
     * Each block keeps a multiple of this many inner channels: ONNX Runtime's NCHWc block on the CPU that will run the models (16 with AVX-512, 8 with AVX2).
     */
    channelMultiple: number;
    /**
     * Densities of extra structured models whose kept channel counts are rounded to channelMultiple (none by default).
     */
    densities: number[];
  };
}
