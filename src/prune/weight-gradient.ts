import type { OneShotWeightGradientSettings } from "../config/generated/one-shot-weight-gradient.ts";
import type { Tensors } from "../engine/types.ts";
import { globalMagnitudeMasks, layerwiseMagnitudeMasks } from "./magnitude.ts";
import type { OneShotMethod } from "./one-shot-method.ts";

/**
 * The README's worked example of a one-shot method: score each weight by |w * dL/dw|,
 * the first-order Taylor estimate of how much the loss moves when the weight is removed
 * (Molchanov et al. 2019; SNIP's score, taken here at the trained weights), and keep the
 * highest scores. The gradient comes from the engine through `gradients`; the ranking
 * reuses the magnitude pruners, whose |.| of a non-negative score is the score itself.
 */
export const weightGradientMethod: OneShotMethod<Required<OneShotWeightGradientSettings>> = {
  label: "weight x gradient",
  description: "unstructured; keeps the weights with the largest |w * dL/dw| (first-order Taylor), per layer or globally.",
  structured: false,
  async masks({ params, layers, density, settings, gradients }) {
    const grads = await gradients(settings.images);
    const scores: Tensors = {};
    for (const l of layers) {
      const w = params[l]!,
        g = grads[l]!;
      scores[l] = w.map((v, i) => Math.abs(v * g[i]!));
    }
    return settings.scope === "global" ? globalMagnitudeMasks(scores, layers, density) : layerwiseMagnitudeMasks(scores, layers, density);
  },
};
