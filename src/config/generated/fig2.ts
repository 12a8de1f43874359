/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */
import type {OptimConfig, TrainingConfig} from "./training.ts";
import type {PairMetricsConfig} from "./pair-metrics.ts";

/**
 * bun run repro:fig2: the three-regime phase diagram (temperature x load) of one-shot magnitude pruning with retraining.
 */
export interface Fig2Config {
  /**
   * The temperature axis of the phase diagram: training epochs, batch size or SAM rho, and the values of each.
   */
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
   * How each dense snapshot is pruned to a density (the load axis): one-shot, by a method registered in src/prune/one-shot.ts.
   */
  prune?: {
    /**
     * The one-shot method: layerwise-magnitude (the paper's: every conv layer keeps the same fraction of its largest |w|), global-magnitude, random, block-channels-l1, weight-gradient, or any method registered in src/prune/one-shot.ts. Part of every retrained unit's identity and named in the report.
     */
    method?: string;
    /**
     * The method's own settings, checked against schemas/one-shot-<method>.schema.json (found by the method's name; a method without that file takes none), e.g. --set prune.settings.images=256 for weight-gradient.
     */
    settings?: {};
  };
  /**
   * Seeds of the grid. Every dense seed trains its own dense models; every cell retrains each pruned model once per retrain seed, and LMC and CKA are averaged over every pair of retrain seeds under each dense seed (the authors' figure: 3 dense x 3 pairs = 9 values per cell).
   */
  seeds: {
    /**
     * Dense seeds: each trains the dense models (weights init, data order and augmentation) the grid prunes. Replaces dense.seed, which the grid sets itself.
     *
     * @minItems 1
     */
    dense: [number, ...number[]];
    /**
     * Retrain seeds per cell and dense seed (data order and augmentation of the retraining); LMC and CKA use every pair of them.
     *
     * @minItems 2
     */
    retrain: [number, number, ...number[]];
  };
  /**
   * Dense (pre-pruning) training. The temperature axis sets some of its optim settings itself (epochs axis: optim.epochs; batch-size: optim.batchSize and optim.epochs; sam: optim.samRho): changing one of those from the preset's value is an error that says what to set instead.
   */
  dense: TrainingConfig;
  /**
   * The dense runs evaluate on the test split after every epoch (a test-error curve in their records). false: only at the temperature snapshots and the last epoch, which is all the report reads.
   */
  denseTestEveryEpoch: boolean;
  /**
   * Retraining of each pruned model, mask fixed, learning rate rewound to the start of this schedule.
   */
  retrain: OptimConfig;
  metrics: PairMetricsConfig;
  /**
   * Thresholds that classify a cell into regime I, II-A or II-B from its LMC barrier and CKA.
   */
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
  /**
   * How the paper's claims are judged against measured noise (the report prints these).
   */
  verdicts: {
    /**
     * A difference (or a distance from a threshold) counts only beyond this many standard errors of the cells compared; within it the verdict is INCONCLUSIVE.
     */
    noiseMultiple: number;
    /**
     * How far each end of the measured CKA range may lie from the paper's (about 0.88 and 0.99, read off its colour bar) and still match.
     */
    ckaTolerance: number;
    /**
     * The corner of the grid where the paper puts LMC barriers (epochs >= 90 of 160 at densities <= 10%), for the LMC claim on any grid: the lowest densities and the coldest temperatures, each as a share of the grid's values (rounded up). A clear barrier outside it contradicts the claim.
     */
    barrierCorner: {
      /**
       * Share of the grid's densities, lowest first, in the corner.
       */
      densityShare: number;
      /**
       * Share of the grid's temperatures, coldest first, in the corner.
       */
      temperatureShare: number;
    };
    /**
     * How far the measured test errors may lie from the paper's (about 7.6% at 80% density, 17.5% at 5%, coldest) and still match; judged only at the paper's scale.
     */
    errorRangeTolerance: {
      /**
       * Tolerance (error fraction) of the best error at the highest density.
       */
      highDensity: number;
      /**
       * Tolerance (error fraction) of the coldest model's error at the lowest density.
       */
      lowDensity: number;
    };
  };
}
