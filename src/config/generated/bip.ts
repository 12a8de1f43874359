/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */

/**
 * BiP (bi-level pruning) settings: the building block's own, used by src/train/bip-loop.ts and referenced by the bip-vs-imp benchmark and the bip unit.
 */
export interface BipConfig {
  /**
   * BiP epochs (each iteration: one theta-step and one mask-step on different mini-batches).
   */
  epochs: number;
  batchSize: number;
  /**
   * alpha: lower-level learning rate, cosine-decayed per iteration over all iterations of the run (so the decay has the same shape for any epoch count).
   */
  thetaLr: number;
  /**
   * beta: upper-level (score) learning rate, multiplied by maskLrDecay at each of maskLrMilestones.
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
  /**
   * Fractions of all iterations (not epochs) at which the score learning rate is multiplied by maskLrDecay: the spec's reading of the public code, x0.1 at 75% and x0.01 at 90%. Counted per iteration, so a short run (5 epochs) also reaches the last phase. Note: the public code's train.py builds its mask schedule with get_lr_policy instead of get_mask_lr_policy, so what it actually runs is the theta schedule's step: x0.1 at 50% and x0.01 at 75% of the epochs ([0.5, 0.75] here).
   */
  maskLrMilestones: number[];
  /**
   * Factor applied to the score learning rate at each of maskLrMilestones (cumulative: x0.1, then x0.01).
   */
  maskLrDecay: number;
  /**
   * L2 weight decay of the score (mask-step) SGD, added to the score gradient before momentum (PyTorch's coupled weight_decay): the paper is silent; the public code's mask optimizer is torch.optim.SGD(weight_decay=args.wd), wd = 0.0001 in configs/CIFAR10/bip.yml.
   */
  scoreWeightDecay: number;
  /**
   * Unstructured BiP: the fc weight gets scores and joins the global top-k with the conv weights, as in the public code (SubnetLinear for layer_type unstructured; every conv and the fc in one top-k). The sparsity then counts conv and fc weights; metrics.convSparsity gives the conv-only figure IMP and OMP are pruned to. Filter-wise BiP never scores the fc (the public code keeps nn.Linear for filter pruning).
   */
  includeFc: boolean;
  /**
   * Training images (with the training augmentation, in a seeded random order, in batches of the training batch size) on which BN statistics are re-estimated under BiP's final mask before the headline test accuracy is taken: "all" for the whole training (sub)set, or a count. The mask changes at every iteration, so the running statistics mix many masks (whole channels switched off and on, in filter-wise BiP); the accuracy with them is kept too (metrics.testAccuracyRunningBn).
   */
  bnReestimateImages: number | "all";
}
