import type { PruneFinetuneUnitConfig } from "../config/generated/prune-finetune-unit.ts";
import type { Tensors } from "../engine/types.ts";
import type { ModelSpec } from "../models/spec.ts";
import { prunableLayers } from "../models/spec.ts";
import { blockChannelMasks } from "./channels.ts";
import { globalMagnitudeMasks, layerwiseMagnitudeMasks } from "./magnitude.ts";

export type OneShotMethodName = PruneFinetuneUnitConfig["method"];

export interface OneShotMethod {
  /** Removes whole channels (the export compacts them away) rather than single weights. */
  structured: boolean;
  /** 0/1 masks of the pruned layers that keep `density` of what the method counts (weights or channels). */
  masks(spec: ModelSpec, params: Tensors, o: { density: number; channelMultiple: number }): Tensors;
}

/**
 * One-shot pruning methods of a trained model, by the name a config uses
 * (schemas/prune-finetune-unit.schema.json `method`). Typed by that enum, so a method
 * added to the schema does not compile until it is registered here: one line.
 */
export const ONE_SHOT_METHODS: Record<OneShotMethodName, OneShotMethod> = {
  "global-magnitude": {
    structured: false,
    masks: (spec, params, o) =>
      globalMagnitudeMasks(
        params,
        prunableLayers(spec).map((l) => l.name),
        o.density,
      ),
  },
  "layerwise-magnitude": {
    structured: false,
    masks: (spec, params, o) =>
      layerwiseMagnitudeMasks(
        params,
        prunableLayers(spec).map((l) => l.name),
        o.density,
      ),
  },
  "block-channels-l1": {
    structured: true,
    masks: (spec, params, o) => blockChannelMasks(spec, params, o.density, o.channelMultiple),
  },
};
