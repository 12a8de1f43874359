/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */
import type {OptimConfig, TrainingConfig} from "./training.ts";
import type {BipConfig} from "./bip.ts";

/**
 * bun run bench:bip-vs-imp: pruning methods (BiP, IMP, OMP by default) from one pretrained dense model to the same sparsities; accuracy and wall-clock time.
 */
export interface BipBenchConfig {
  /**
   * Target sparsities: the paper's accuracies are at 20%, 59%, 74%, 89%, 94.5% and its speedups at 59%, 74%, 87% (IMP rounds 1, 4, 6, 9, 10, 13).
   *
   * @minItems 1
   */
  sparsities: [number, ...number[]];
  /**
   * Seeds of the pruning runs (accuracy mean and spread over them); the dense model is shared.
   *
   * @minItems 1
   */
  seeds: [number, ...number[]];
  /**
   * Pretraining of the dense model shared by every method (the paper preset: the speedup figure's CIFAR-10 ResNet-18; --model and --dataset choose others).
   */
  dense: TrainingConfig;
  /**
   * IMP rewinds weights to the dense run's weights after this many epochs.
   */
  rewindEpoch: number;
  /**
   * Fraction of the remaining weights IMP removes per round.
   */
  impRate: number;
  /**
   * IMP retraining per round (the paper: 160 epochs).
   */
  imp: OptimConfig;
  /**
   * OMP fine-tuning after one-shot global magnitude pruning.
   */
  omp: OptimConfig;
  /**
   * GraSP (method grasp): pruning at initialisation, then the dense run's training schedule from that initialisation.
   */
  grasp: {
    /**
     * Training images per class the scores are computed on (the authors' 10).
     */
    samplesPerClass: number;
    /**
     * Step of the Hessian-gradient product's central difference, relative to 1 + ||theta|| of the prunable weights (the scores of a quadratic loss are exact at any step; float32 rounding grows below ~1e-4).
     */
    relStep: number;
  };
  /**
   * Hydra (method hydra): importance scores learned for the frozen pretrained weights (straight-through top-k per layer), then fine-tuning of the subnetwork.
   */
  hydra: {
    /**
     * SGD on the scores (Hydra's CIFAR setting: 20 epochs, lr 0.1, cosine); the weights and BN's affine parameters stay frozen, BN's running statistics follow the batches.
     */
    scores: OptimConfig;
    /**
     * Fine-tuning of the weights with the learned mask fixed.
     */
    finetune: OptimConfig;
  };
  bip: BipConfig;
  /**
   * Pruning methods to run, by their names in the method registry (src/runner/kinds/methods/registry.ts): imp, omp, bip (unstructured BiP), bip-filter (filter-wise BiP: reported, not part of the paper's unstructured claims), random (a random mask, fine-tuned as OMP), grasp (GraSP at initialisation, then trained as the dense model) and hydra (scores learned for the frozen pretrained weights, then fine-tuned). Each reads its own settings: imp reads imp, impRate and rewindEpoch; omp and random read omp; grasp reads grasp (and trains with dense.optim); hydra reads hydra; bip and bip-filter read bip. Any one-shot method registered in src/prune/one-shot.ts (global-magnitude, layerwise-magnitude, block-channels-l1, weight-gradient, ...) may be named too: it prunes the pretrained model once and fine-tunes as omp does (reads omp, and its own settings under oneShot). The claims need imp and bip.
   *
   * @minItems 1
   */
  methods: [string, ...string[]];
  /**
   * Settings of the one-shot methods named in methods, by method name (e.g. --set oneShot.weight-gradient.images=256); each is checked against schemas/one-shot-<method>.schema.json, found by the method's name.
   */
  oneShot?: {
    [k: string]: {};
  };
  /**
   * How the paper's claims are judged against measured noise (the report prints these).
   */
  verdicts: {
    /**
     * A difference (or a distance from a threshold) counts only beyond this many standard errors (seed spread of the methods compared); within it the verdict is INCONCLUSIVE.
     */
    noiseMultiple: number;
    /**
     * Test accuracy (fraction) by which BiP may trail IMP and still match it: the paper calls its own -0.19 points at 59% a match.
     */
    accuracyTolerance: number;
    /**
     * The speedup claim is judged at every target sparsity at or above this one: the paper gives its speedups from 59% up, where IMP needs several rounds.
     */
    speedupFromSparsity: number;
  };
}
