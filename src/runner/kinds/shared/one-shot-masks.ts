import type { TrainingConfig } from "../../../config/generated/training.ts";
import { subStream, trainBatches } from "../../../data/batches.ts";
import { balancedSubset } from "../../../data/subset.ts";
import type { Dataset } from "../../../data/types.ts";
import { zeroMomentum } from "../../../engine/state.ts";
import type { Batch, ModelState, Tensors, Trainer } from "../../../engine/types.ts";
import { prunableLayers, type ModelSpec } from "../../../models/spec.ts";
import { oneShotMethod, oneShotSettings } from "../../../prune/one-shot.ts";
import { trainerFor } from "../../../train/setup.ts";
import type { UnitContext } from "../kind.ts";

/** The mean gradient of the training loss over `batches` at the trainer's state, per layer (each batch weighted by its size). */
export async function meanGradient(trainer: Trainer, batches: Batch[], layers: string[]): Promise<Tensors> {
  const sum: Tensors = Object.fromEntries(layers.map((l) => [l, new Float32Array(trainer.state.params[l]!.length)]));
  let n = 0;
  for (const b of batches) {
    const g = await trainer.gradients(b);
    for (const l of layers) sum[l]!.forEach((_, i, a) => (a[i]! += g.grads[l]![i]! * b.size));
    n += b.size;
  }
  for (const l of layers) sum[l] = sum[l]!.map((v) => v / n);
  return sum;
}

/** Unaugmented batches of a seeded, class-balanced draw of `images` training images (every image when the split is smaller), shuffled on `stream`. */
export function gradientSample(data: Dataset, images: number, o: { batchSize: number; seed: number; stream?: string }): Batch[] {
  const sample = { ...data, train: balancedSubset(data.train, images, data.numClasses, o.seed) };
  return [...trainBatches(sample, { batchSize: o.batchSize, seed: o.seed, epoch: 0, stream: o.stream, dropLast: false })];
}

/** How a unit prunes one trained model once: the method and its settings as the unit config names them. */
export interface OneShotRequest {
  method: string;
  settings: Record<string, unknown> | undefined;
  /** The unit config field that names the method (its settings: the same name + "Settings"), for errors. */
  setting: string;
  density: number;
  channelMultiple: number;
  seed: number;
}

/**
 * The masks a registered one-shot method (src/prune/one-shot.ts) gives the trained
 * weights `start` of the unit's model. A method that asks for gradients gets them from a
 * trainer of the unit's engine at those weights, built only then.
 */
export async function oneShotMasks(
  r: OneShotRequest,
  o: { t: TrainingConfig; ctx: UnitContext; spec: ModelSpec; data: Dataset; start: Pick<ModelState, "params" | "buffers"> },
): Promise<Tensors> {
  const method = oneShotMethod(r.method, r.setting);
  const settings = oneShotSettings(r.method, r.settings, `${r.setting}Settings`);
  const layers = prunableLayers(o.spec).map((l) => l.name);
  return method.masks({
    spec: o.spec,
    params: o.start.params,
    layers,
    density: r.density,
    channelMultiple: r.channelMultiple,
    seed: r.seed,
    settings,
    async gradients(images) {
      const batches = gradientSample(o.data, images, { batchSize: o.t.optim.batchSize, seed: r.seed, stream: subStream(o.t.stream, "one-shot-gradient") });
      const trainer = await trainerFor(o.t, o.spec, {
        state: { params: o.start.params, buffers: o.start.buffers, momentum: zeroMomentum(o.start.params) },
        threads: o.ctx.threads,
        log: o.ctx.log,
      });
      try {
        o.ctx.log(`${r.method}: mean gradient over ${batches.reduce((n, b) => n + b.size, 0)} training images (${batches.length} batches)`);
        return await meanGradient(trainer, batches, layers);
      } finally {
        await trainer.dispose();
      }
    },
  });
}
