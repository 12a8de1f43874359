/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */

/**
 * bun run repro:fig2: the three-regime phase diagram (temperature x load) of one-shot magnitude pruning with retraining.
 */
export interface Fig2Config {
  temperature: {
    /**
     * What sets the temperature of the dense model: training epochs (checkpoints of one run; fewer = hotter), batch size at a fixed iteration count (smaller = hotter), or SAM rho (larger = hotter).
     */
    axis: "epochs" | "batch-size" | "sam";
    /**
     * epochs axis: dense checkpoints (epochs completed) used as temperatures; the dense run lasts the largest.
     *
     * @minItems 1
     */
    epochs: [number, ...number[]];
    /**
     * batch-size axis: one dense run per batch size.
     *
     * @minItems 1
     */
    batchSizes: [number, ...number[]];
    /**
     * batch-size axis: SGD steps of every dense run (the paper holds 62,400 fixed); epochs = round(iterations * batch / training images).
     */
    iterations: number;
    /**
     * sam axis: one dense run per SAM radius.
     *
     * @minItems 1
     */
    samRhos: [number, ...number[]];
  };
  /**
   * Load axis: fraction of every conv layer's weights kept (the paper's prune ratios 0.95 ... 0.2).
   *
   * @minItems 1
   */
  densities: [number, ...number[]];
  /**
   * Retrain seeds per cell; LMC and CKA use the first two.
   *
   * @minItems 2
   */
  retrainSeeds: [number, number, ...number[]];
  dense: TrainingConfig;
  retrain: OptimConfig1;
  metrics: {
    /**
     * Test error of a cell = mean over the last this many retrain epochs (and over seeds).
     */
    lastEpochs: number;
    /**
     * Points on the linear path between the two retrained models (t = 0, 0.1, ..., 1).
     */
    lmcPoints: number;
    /**
     * Training images on which the path's error is measured (the paper: the training set).
     */
    lmcImages: number;
    /**
     * Training images used to re-estimate BN statistics at every point of the path.
     */
    bnImages: number;
    /**
     * Training images on which the two models' softmax outputs are compared by linear CKA (the paper: 6,464).
     */
    ckaImages: number;
    /**
     * Batch size of metric computations (no effect on results).
     */
    batchSize: number;
  };
  regimes: {
    /**
     * Regime I (poorly connected) when the LMC barrier is below this (the paper draws boundaries by hand; this makes them explicit).
     */
    lmcBarrier: number;
    /**
     * Among connected cells: regime II-A when CKA is below this, II-B otherwise.
     */
    cka: number;
  };
}
/**
 * Dense (pre-pruning) training; its optim.epochs is replaced by the temperature axis where that axis sets it.
 */
export interface TrainingConfig {
  /**
   * Seed of weight init, data order and augmentation.
   */
  seed: number;
  model: ModelConfig;
  data: DataConfig;
  optim: OptimConfig;
  engine: EngineConfig;
}
export interface ModelConfig {
  /**
   * Architecture: preresnet20 (three-regime paper) or resnet20a (ResNet-20 with option-A shortcuts, BiP paper).
   */
  arch: "preresnet20" | "resnet20a";
  /**
   * Channels of the first stage (16 in both papers); stages use width, 2x, 4x.
   */
  width: number;
}
export interface DataConfig {
  /**
   * auto = CIFAR-10 if cached or downloadable, else the embedded Fashion-MNIST subset.
   */
  dataset: "auto" | "cifar10" | "fashion-mnist" | "fashion-mnist-embedded" | "synthetic";
  /**
   * An existing cifar-10-batches-bin directory (or its parent) or a Fashion-MNIST IDX directory.
   */
  dataDir?: string;
  /**
   * Where downloaded datasets are kept (default: $PRUNING_HARNESS_CACHE, $XDG_CACHE_HOME/pruning-harness or ~/.cache/pruning-harness).
   */
  cacheDir?: string;
  /**
   * Allow downloading CIFAR-10 from its official URL.
   */
  download: boolean;
  /**
   * Use a class-balanced subset of this many training images.
   */
  trainLimit?: number;
  /**
   * Use a class-balanced subset of this many test images.
   */
  testLimit?: number;
  /**
   * Zero-pad smaller images (Fashion-MNIST's 28x28) to this size, so CIFAR-shaped models apply unchanged.
   */
  padTo: number;
  /**
   * Random-crop augmentation: zero padding in pixels (0 disables).
   */
  cropPadding: number;
  /**
   * Random horizontal flip augmentation.
   */
  flip: boolean;
}
export interface OptimConfig {
  /**
   * Training epochs.
   */
  epochs: number;
  /**
   * Mini-batch size.
   */
  batchSize: number;
  /**
   * Initial learning rate.
   */
  lr: number;
  /**
   * SGD momentum (PyTorch convention, no dampening).
   */
  momentum: number;
  /**
   * L2 weight decay added to the gradient, as torch.optim.SGD does.
   */
  weightDecay: number;
  schedule: Schedule;
  /**
   * Weight of the batch statistic in BN running averages (PyTorch convention).
   */
  bnMomentum: number;
  /**
   * BN epsilon.
   */
  bnEps: number;
  /**
   * Sharpness-aware minimisation radius rho; 0 = plain SGD (the three-regime paper's SAM temperature axis uses 0.1 to 0.8).
   */
  samRho: number;
}
/**
 * Learning-rate schedule, evaluated per epoch: step decays at fractions of training, or cosine annealing.
 */
export interface Schedule {
  /**
   * step: multiply by gamma at each milestone; cosine: anneal to minLr.
   */
  kind: "step" | "cosine";
  /**
   * Step schedule: fractions of training at which the rate is multiplied by gamma (0.5, 0.75 = epochs 80 and 120 of 160).
   */
  milestones: number[];
  /**
   * Step schedule: decay factor at each milestone.
   */
  gamma: number;
  /**
   * Cosine schedule: rate at the end of training.
   */
  minLr: number;
}
export interface EngineConfig {
  /**
   * Training engine: onnx (ONNX Runtime, default) or tfjs (TensorFlow.js).
   */
  name: "onnx" | "tfjs";
  /**
   * ONNX Runtime execution provider; auto tries cuda, webgpu, then cpu.
   */
  provider: "auto" | "cpu" | "cuda" | "webgpu";
  /**
   * CPU threads for the engine (0 = all cores).
   */
  threads: number;
  /**
   * ONNX engine on the CPU EP: run convolutions on ONNX Runtime's blocked-layout (NCHWc) kernels, about 2x faster than its plain Conv when the filter is an input (see README, The engine).
   */
  blockedConv: boolean;
}
/**
 * Retraining of each pruned model, mask fixed, learning rate rewound to the start of this schedule.
 */
export interface OptimConfig1 {
  /**
   * Training epochs.
   */
  epochs: number;
  /**
   * Mini-batch size.
   */
  batchSize: number;
  /**
   * Initial learning rate.
   */
  lr: number;
  /**
   * SGD momentum (PyTorch convention, no dampening).
   */
  momentum: number;
  /**
   * L2 weight decay added to the gradient, as torch.optim.SGD does.
   */
  weightDecay: number;
  schedule: Schedule;
  /**
   * Weight of the batch statistic in BN running averages (PyTorch convention).
   */
  bnMomentum: number;
  /**
   * BN epsilon.
   */
  bnEps: number;
  /**
   * Sharpness-aware minimisation radius rho; 0 = plain SGD (the three-regime paper's SAM temperature axis uses 0.1 to 0.8).
   */
  samRho: number;
}
