import type { GraspUnitConfig } from "../../../config/generated/grasp-unit.ts";
import type { TrainingConfig } from "../../../config/generated/training.ts";
import { subStream } from "../../../data/batches.ts";
import { freshState } from "../../../engine/state.ts";
import type { Tensors } from "../../../engine/types.ts";
import { prunableLayers } from "../../../models/spec.ts";
import { graspMasks, graspScores } from "../../../prune/grasp.ts";
import { maskDensity } from "../../../prune/magnitude.ts";
import { loadData, modelFor, trainerFor } from "../../../train/setup.ts";
import type { UnitKind } from "../kind.ts";
import { gradientSample, meanGradient } from "../shared/one-shot-masks.ts";
import { runTraining, trainingImages, trainingMetrics } from "../shared/training-run.ts";
import { onePerTarget, type PruningMethod } from "./method.ts";

/**
 * GraSP: scores of the freshly initialised model (the unit's seed) on samplesPerClass
 * training images per class (a seeded, class-balanced draw, unaugmented, BN in training
 * mode), the masks that keep the lowest scores, then the whole training schedule from
 * that initialisation with the masks fixed. The authors' softmax temperature (200) in
 * the first gradient is left out: the engines have no temperature (a stated difference).
 */
export const graspKind: UnitKind<GraspUnitConfig> = {
  name: "grasp",
  schema: "grasp-unit",
  async run(cfg, ctx) {
    const t = cfg.training;
    const data = await loadData(t, ctx.log);
    const spec = modelFor(t, data);
    const init = freshState(spec, t.seed);
    const layers = prunableLayers(spec).map((l) => l.name);
    const batches = gradientSample(data, cfg.samplesPerClass * data.numClasses, {
      batchSize: t.optim.batchSize,
      seed: t.seed,
      stream: subStream(t.stream, "grasp-sample"),
    });
    const images = batches.reduce((n, b) => n + b.size, 0);
    const trainer = await trainerFor(t, spec, { state: init, threads: ctx.threads, log: ctx.log });
    let masks: Tensors;
    try {
      // The mean gradient over the sample, at the given weights.
      const grad = (params: Tensors): Promise<Tensors> => {
        trainer.state = { ...init, params };
        return meanGradient(trainer, batches, layers);
      };
      ctx.log(`GraSP: scoring ${layers.length} layers on ${images} images (${batches.length} batches, 3 gradient passes)`);
      masks = graspMasks(await graspScores(init.params, layers, grad, { relStep: cfg.relStep }), layers, 1 - cfg.sparsity);
    } finally {
      await trainer.dispose();
    }
    const r = await runTraining(t, ctx, { label: "GraSP training", init: () => ({ state: init, masks }), evalAt: (e) => e === t.optim.epochs });
    return {
      status: r.out.status,
      engine: r.engine,
      provider: r.provider,
      metrics: { ...trainingMetrics(r), sparsity: 1 - maskDensity(r.final.masks), graspImages: images },
    };
  },
  training: (cfg) => cfg.training,
  // The three gradient passes over the sample are negligible beside the training.
  estimateImages: (cfg) => trainingImages(cfg.training),
};

/** GraSP's settings in an experiment config. */
export interface GraspSettings {
  grasp: { samplesPerClass: number; relStep: number };
}

/** GraSP: one unit per target and seed, from a fresh initialisation (no dependency on the dense run), trained as the dense model is. */
export const graspMethod: PruningMethod<GraspSettings> = {
  name: "grasp",
  label: "GraSP",
  kinds: [graspKind as UnitKind<never>],
  plan(p) {
    const training: TrainingConfig = p.training;
    return onePerTarget(p.sparsities, (s) => p.unit("grasp", { training, sparsity: s, ...p.settings.grasp }, [], `GraSP ${s} seed ${training.seed}`));
  },
  describe: (s) =>
    `GraSP at initialisation (scores -theta * Hg on ${s.grasp.samplesPerClass} training images per class, Hg by a central difference of gradients; the largest scores removed globally; no softmax temperature), then the dense run's whole training schedule with the mask fixed.`,
};
