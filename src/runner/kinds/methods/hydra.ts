import type { HydraUnitConfig } from "../../../config/generated/hydra-unit.ts";
import { subStream, trainBatches } from "../../../data/batches.ts";
import type { Tensors } from "../../../engine/types.ts";
import { prunableLayers } from "../../../models/spec.ts";
import { hydraInitScores, hydraScoreStep } from "../../../prune/hydra.ts";
import { layerwiseMagnitudeMasks, maskDensity } from "../../../prune/magnitude.ts";
import { loadData, modelFor, trainerFor } from "../../../train/setup.ts";
import { learningRate } from "../../../train/schedule.ts";
import { loadSnapshot } from "../dense.ts";
import type { UnitKind } from "../kind.ts";
import { retrainPruned, trainingImages } from "../shared/training-run.ts";
import type { OptimConfig } from "../../../config/generated/training.ts";
import { epochs, onePerTarget, type PruningMethod } from "./method.ts";

/**
 * Hydra: from the pretrained weights (frozen, BN's affine parameters too), scores trained
 * for `scores.epochs` epochs by SGD through the straight-through top-k of each layer (BN's
 * running statistics follow the batches, as they do in the authors' training-mode
 * forward), then the weights fine-tuned (training.optim) under the final mask. The score
 * phase restarts if its attempt is killed; the fine-tuning resumes from its checkpoint.
 */
export const hydraKind: UnitKind<HydraUnitConfig> = {
  name: "hydra",
  schema: "hydra-unit",
  async run(cfg, ctx) {
    const t = cfg.training,
      so = cfg.scores;
    const dense = loadSnapshot(ctx, cfg.dense, cfg.finalEpoch);
    const data = await loadData(t, ctx.log);
    const spec = modelFor(t, data);
    const layers = prunableLayers(spec);
    const names = layers.map((l) => l.name);
    const density = 1 - cfg.sparsity;
    let scores = hydraInitScores(dense.state.params, layers);
    let velocity: Tensors = {};
    const trainer = await trainerFor(t, spec, { state: dense.state, threads: ctx.threads, log: ctx.log });
    let buffers = dense.state.buffers;
    const steps = Math.ceil(data.train.count / so.batchSize) * so.epochs;
    let done = 0;
    try {
      for (let epoch = 0; epoch < so.epochs; epoch++) {
        const lr = learningRate(so.schedule, so.lr, epoch, so.epochs);
        let lossSum = 0,
          seen = 0;
        for (const b of trainBatches(data, {
          batchSize: so.batchSize,
          seed: t.seed,
          epoch,
          stream: subStream(t.stream, "hydra-scores"),
          augment: t.data,
          dropLast: false,
        })) {
          const masks = layerwiseMagnitudeMasks(scores, names, density);
          for (const l of names) trainer.masks[l] = masks[l]!;
          trainer.state = { ...trainer.state, params: dense.state.params, buffers };
          const g = await trainer.gradients(b);
          if (!Number.isFinite(g.loss)) throw new Error(`Hydra score training diverged at epoch ${epoch + 1} (loss ${g.loss}); lower hydra.scores.lr`);
          buffers = g.buffers;
          ({ scores, velocity } = hydraScoreStep(scores, dense.state.params, g.grads, velocity, { lr, momentum: so.momentum, weightDecay: so.weightDecay }));
          lossSum += g.loss * b.size;
          seen += b.size;
          ctx.progress(++done, steps, `Hydra scores epoch ${epoch + 1}/${so.epochs} loss ${(lossSum / seen).toFixed(3)}`);
        }
        ctx.log(`Hydra scores epoch ${epoch + 1}/${so.epochs} lr ${lr.toPrecision(3)} train loss ${(lossSum / seen).toFixed(4)}`);
      }
    } finally {
      await trainer.dispose();
    }
    const masks = layerwiseMagnitudeMasks(scores, names, density);
    return retrainPruned(t, ctx, {
      label: "Hydra fine-tune",
      start: { state: { params: dense.state.params, buffers } },
      masksFor: () => masks,
      extra: (r) => ({ sparsity: 1 - maskDensity(r.final.masks), scoreEpochs: so.epochs }),
    });
  },
  training: (cfg) => cfg.training,
  estimateImages: (cfg) => trainingImages(cfg.training) + trainingImages({ ...cfg.training, optim: cfg.scores }),
};

/** Hydra's settings in an experiment config. */
export interface HydraSettings {
  hydra: { scores: OptimConfig; finetune: OptimConfig };
}

/** Hydra: one unit per target and seed, from the pretrained model. */
export const hydraMethod: PruningMethod<HydraSettings> = {
  name: "hydra",
  label: "Hydra",
  kinds: [hydraKind as UnitKind<never>],
  plan(p) {
    return onePerTarget(p.sparsities, (s) =>
      p.unit(
        "hydra",
        {
          training: { ...p.training, optim: p.settings.hydra.finetune },
          dense: p.dense.id,
          finalEpoch: p.finalEpoch,
          sparsity: s,
          scores: p.settings.hydra.scores,
        },
        [p.dense.id],
        `Hydra ${s} seed ${p.training.seed}`,
      ),
    );
  },
  describe: (s) =>
    `scores learned for the frozen pretrained weights (${epochs(s.hydra.scores.epochs)}, lr ${s.hydra.scores.lr}, straight-through top-k per layer, scaled-magnitude initialisation), then ${epochs(s.hydra.finetune.epochs, "fine-tuning ")} under the learned mask.`,
};
