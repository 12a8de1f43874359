import type { Tensors } from "../engine/types.ts";
import type { ModelSpec } from "../models/spec.ts";

/** What a one-shot method is given to prune one trained model. */
export interface OneShotInput<S = Record<string, unknown>> {
  spec: ModelSpec;
  /** The trained weights being pruned. */
  params: Tensors;
  /** The layers to prune: the model's prunable layers (every conv; fc and BN stay dense). */
  layers: string[];
  /** Fraction of what the method counts (weights, or channels for a structured method) to keep. */
  density: number;
  /** Structured methods: keep a multiple of this many channels. */
  channelMultiple: number;
  /** For methods that draw: models meant to start from one mask are given one seed. */
  seed: number;
  /** The method's own settings, checked against its schema and defaults filled in (oneShotSettings). */
  settings: S;
  /**
   * The mean gradient of the training loss at `params` over `images` training images
   * (a seeded, class-balanced draw, unaugmented, BN in training mode), per layer to
   * prune: computed on the unit's engine only when a method asks for it.
   */
  gradients(images: number): Promise<Tensors>;
}

export interface OneShotMethod<S = Record<string, unknown>> {
  /** Name in reports ("layer-wise L1 magnitude"). */
  label: string;
  /** One sentence for --help and the README. */
  description: string;
  /** Removes whole channels (the export compacts them away) rather than single weights. */
  structured: boolean;
  /** 0/1 masks of `layers` that keep `density` of what the method counts. */
  masks(input: OneShotInput<S>): Tensors | Promise<Tensors>;
}
