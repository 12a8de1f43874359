/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */

/**
 * How the metrics of a pair of models are measured (LMC barrier, CKA, their images and noise estimates): the metrics' own settings, used by the fig2 cell unit.
 */
export interface PairMetricsConfig {
  /**
   * Test error of a cell = mean over the last ceil(errorWindow x retrain epochs) epochs (at least one, and only epochs of the final learning-rate phase), then over seeds. Default 5/160: the paper's last 5 of 160 epochs, all at lr 0.001.
   */
  errorWindow: number;
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
   * Bootstrap resamples of the CKA images, for CKA's standard error (the noise the CKA claim is judged against); 0 = none.
   */
  ckaBootstrap: number;
  /**
   * Batch size of metric computations (no effect on results).
   */
  batchSize: number;
}
