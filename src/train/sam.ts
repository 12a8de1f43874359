import type { Batch, StepResult, Trainer } from "../engine/types.ts";
import { sgdUpdate } from "../engine/sgd.ts";

/**
 * One sharpness-aware minimisation step (Foret et al. 2021), as the common PyTorch
 * implementations do it: the gradient g at w, a step to w + rho * g / ||g||, the
 * gradient there, and the base SGD update of w with that second gradient. BN running
 * statistics come from the first pass only. Pruned weights stay at zero: g is masked.
 */
export async function samStep(trainer: Trainer, batch: Batch, lr: number, rho: number, sgd: { momentum: number; weightDecay: number }): Promise<StepResult> {
  const start = trainer.state;
  const first = await trainer.gradients(batch);
  let sq = 0;
  const g: Record<string, Float32Array> = {};
  for (const [name, grad] of Object.entries(first.grads)) {
    const m = trainer.masks[name];
    g[name] = m ? grad.map((v, i) => v * m[i]!) : grad;
    for (const v of g[name]!) sq += v * v;
  }
  // Stryker disable next-line ArithmeticOperator: equivalent: the 1e-12 matters only for a gradient norm near 1e-12, in practice g = 0, where the perturbation scale * g is 0 either way
  const norm = Math.sqrt(sq) + 1e-12;
  const scale = rho / norm;
  const perturbed = Object.fromEntries(Object.entries(start.params).map(([k, w]) => [k, w.map((v, i) => v + scale * g[k]![i]!)]));
  trainer.state = { ...start, params: perturbed };
  const second = await trainer.gradients(batch);
  const { params, momentum } = sgdUpdate(start, second.grads, trainer.masks, { lr, ...sgd });
  trainer.state = { params, momentum, buffers: first.buffers };
  return { loss: first.loss, correct: first.correct };
}
