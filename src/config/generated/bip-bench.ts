/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */
import type {OptimConfig, TrainingConfig} from "./training.ts";

/**
 * bun run bench:bip-vs-imp: BiP, IMP and OMP from one pretrained dense model to the same sparsities; accuracy and wall-clock time.
 */
export interface BipBenchConfig {
  /**
   * Target sparsities (the paper's 20%, 59%, 74%, 89%, 94.5%: IMP rounds 1, 4, 6, 10, 13).
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
   * Pretraining of the dense ResNet-20 (option A) shared by every method.
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
  bip: BipConfig;
  /**
   * Also run filter-wise (structured) BiP at every target (reported, not part of the paper's unstructured claims).
   */
  structured: boolean;
}
export interface BipConfig {
  /**
   * BiP epochs (each iteration: one theta-step and one mask-step on different mini-batches).
   */
  epochs: number;
  batchSize: number;
  /**
   * alpha: lower-level learning rate, cosine-decayed.
   */
  thetaLr: number;
  /**
   * beta: upper-level (score) learning rate, x0.1 at 75% and x0.01 at 90% of training.
   */
  maskLr: number;
  /**
   * Lower-level convexification gamma (paper variant: implicit term -(1/gamma) g_z * g_theta).
   */
  gamma: number;
  /**
   * Implicit-gradient term: the paper's Algorithm A1, or the public code's -lr2 * mask_grad * param_grad (OPTML-Group/BiP#3).
   */
  variant: "paper" | "code";
  /**
   * lr2 of the code variant.
   */
  codeLr2: number;
  /**
   * SGD momentum of the theta-step.
   */
  momentum: number;
  /**
   * Weight decay of the theta-step (every parameter with thetaL2 = weight-decay; the unpruned ones with thetaL2 = gamma).
   */
  weightDecay: number;
  /**
   * Regulariser of the theta-step: weight-decay (weightDecay on every parameter; gamma enters only the implicit gradient, as in practice), or gamma (gamma/2 ||theta||^2 on the pruned layers, Algorithm A1 literally). With momentum, gamma = 1 shrinks the conv weights until BN's statistics lag and the subnetwork collapses (seen in the first quick run).
   */
  thetaL2: "weight-decay" | "gamma";
  /**
   * unstructured: global top-k of per-weight scores; filter: per-layer top-k of per-filter scores (structured BiP).
   */
  structure: "unstructured" | "filter";
  /**
   * two-passes: each epoch takes floor(N/B) iterations, theta-steps on one shuffle of the training set and mask-steps on an independent one, as the public code's two loaders do (a BiP epoch then costs about two training epochs, as the paper's reported times imply: 86 min for 100 BiP epochs vs 69 min per 160-epoch IMP round). one-pass: the mini-batches of one shuffle alternate between theta- and mask-steps (half the work).
   */
  iterations: "two-passes" | "one-pass";
  /**
   * Momentum of the score (mask-step) SGD; the paper gives only beta, the public code's mask optimizer uses 0.9.
   */
  maskMomentum: number;
}
