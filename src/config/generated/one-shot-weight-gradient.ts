/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */

/**
 * Settings of the one-shot method weight-gradient (src/prune/weight-gradient.ts), the README's worked example.
 */
export interface OneShotWeightGradientSettings {
  /**
   * Training images the gradient is averaged over (a seeded, class-balanced draw; all of them when the split is smaller).
   */
  images?: number;
  /**
   * layer: every layer keeps the same fraction of its weights; global: one score threshold over all layers.
   */
  scope?: "layer" | "global";
}
