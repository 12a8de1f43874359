import { join } from "node:path";
import type { BipUnitConfig } from "../../config/generated/bip-unit.ts";
import type { ImpRoundUnitConfig } from "../../config/generated/imp-round-unit.ts";
import type { OmpUnitConfig } from "../../config/generated/omp-unit.ts";
import { prunableLayers } from "../../models/spec.ts";
import { createTrainer } from "../../engine/registry.ts";
import { bipScoredLayers } from "../../prune/bip.ts";
import { bipLoop } from "../../train/bip-loop.ts";
import { loadCheckpoint } from "../../train/checkpoint.ts";
import { impNextMasks } from "../../prune/imp.ts";
import { globalMagnitudeMasks, maskDensity } from "../../prune/magnitude.ts";
import { engineChoice, loadData, modelFor, trainerOptions } from "../../train/setup.ts";
import { snapshotFile } from "./dense.ts";
import type { UnitContext, UnitKind } from "./kind.ts";
import { dataMetrics, prunedStart, retrainPruned, saveTrainedWeights, trainingImages, TRAINED_WEIGHTS } from "./shared/training-run.ts";

const snapshot = (ctx: UnitContext, dense: string, epoch: number) => loadCheckpoint(join(ctx.dep(dense).dir, snapshotFile(epoch)));

/**
 * One IMP round (BiP paper's baseline): prune `rate` of the remaining weights of the
 * previous round's trained model (round 1: the pretrained model) by global magnitude,
 * rewind the survivors to the dense run's early snapshot, retrain with the mask fixed.
 * Rounds are chained units, so IMP's cumulative time is the sum of its rounds.
 */
export const impRoundKind: UnitKind<ImpRoundUnitConfig> = {
  name: "imp-round",
  schema: "imp-round-unit",
  async run(cfg, ctx) {
    const prev = cfg.previous ? loadCheckpoint(join(ctx.dep(cfg.previous).dir, TRAINED_WEIGHTS)) : snapshot(ctx, cfg.dense, cfg.finalEpoch);
    const early = snapshot(ctx, cfg.dense, cfg.rewindEpoch);
    return retrainPruned(cfg.training, ctx, {
      label: `IMP round ${cfg.round}`,
      start: early,
      masksFor: (spec) => {
        const layers = prunableLayers(spec).map((l) => l.name);
        const current = cfg.previous ? prev.masks : Object.fromEntries(layers.map((l) => [l, new Float32Array(prev.state.params[l]!.length).fill(1)]));
        return impNextMasks(prev.state.params, layers, current, cfg.rate);
      },
      extra: (r) => ({ sparsity: 1 - maskDensity(r.trainer.masks), round: cfg.round }),
    });
  },
  training: (cfg) => cfg.training,
  estimateImages: (cfg) => trainingImages(cfg.training),
};

/** OMP: one-shot global magnitude pruning of the pretrained model, then fine-tuning. */
export const ompKind: UnitKind<OmpUnitConfig> = {
  name: "omp",
  schema: "omp-unit",
  async run(cfg, ctx) {
    const dense = snapshot(ctx, cfg.dense, cfg.finalEpoch);
    return retrainPruned(cfg.training, ctx, {
      label: "OMP fine-tune",
      start: dense,
      masksFor: (spec) =>
        globalMagnitudeMasks(
          dense.state.params,
          prunableLayers(spec).map((l) => l.name),
          1 - cfg.sparsity,
        ),
      extra: (r) => ({ sparsity: 1 - maskDensity(r.trainer.masks) }),
    });
  },
  training: (cfg) => cfg.training,
  estimateImages: (cfg) => trainingImages(cfg.training),
};

/** BiP from the pretrained model to one sparsity (no retraining afterwards). */
export const bipKind: UnitKind<BipUnitConfig> = {
  name: "bip",
  schema: "bip-unit",
  async run(cfg, ctx) {
    const dense = snapshot(ctx, cfg.dense, cfg.finalEpoch);
    const t = cfg.training;
    const data = await loadData(t, ctx.log);
    const spec = modelFor(t, data);
    const layers = bipScoredLayers(spec, cfg.bip);
    // The trainer masks exactly the scored layers (the fc too when it is scored); trainerFor masks the convs only.
    const trainer = await createTrainer(
      engineChoice(t, ctx.log),
      { ...trainerOptions(t, spec), threads: ctx.threads, maskedParams: layers },
      prunedStart(dense.state.params, dense.state.buffers, {}).state,
    );
    const out = await bipLoop({
      trainer,
      data,
      layers,
      density: 1 - cfg.sparsity,
      cfg: cfg.bip,
      augment: t.data,
      seed: t.seed,
      onStep: (d, n) => ctx.progress(d, n, `BiP ${(100 * cfg.sparsity).toFixed(1)}%`),
    });
    // Kept with the BN statistics re-estimated under the final mask: the model the headline accuracy is of.
    saveTrainedWeights(ctx, trainer, out.epochs.length, t.seed);
    await trainer.dispose();
    const convs = new Set(prunableLayers(spec).map((l) => l.name));
    return {
      status: out.status,
      engine: trainer.engine,
      provider: trainer.provider,
      metrics: {
        ...dataMetrics(data),
        epochs: out.epochs,
        // After BN re-estimation under the final mask (bnReestimateImages training images).
        finalTestAccuracy: out.epochs.at(-1)?.testAccuracy ?? null,
        testAccuracyRunningBn: out.runningBn?.accuracy ?? null,
        testLossRunningBn: out.runningBn?.loss ?? null,
        bnReestimateImages: out.bnImages ?? null,
        // Over the scored layers (convs, and the fc when scored): what the target constrains.
        sparsity: 1 - maskDensity(out.masks),
        // Over the convs only, the layers IMP and OMP prune.
        convSparsity: 1 - maskDensity(Object.fromEntries(Object.entries(out.masks).filter(([l]) => convs.has(l)))),
        scoredLayers: layers,
        variant: cfg.bip.variant,
        ...(out.status === "diverged" ? { divergedAt: out.divergedAt } : {}),
      },
    };
  },
  training: (cfg) => cfg.training,
  // Two gradient evaluations per iteration: two passes, about two training epochs' work per epoch (one-pass: about one).
  estimateImages: (cfg) =>
    (cfg.bip.iterations === "two-passes" ? 2 : 1) * trainingImages({ ...cfg.training, optim: { ...cfg.training.optim, epochs: cfg.bip.epochs } }),
};
