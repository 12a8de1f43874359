import type { RetrainUnitConfig } from "../../config/generated/retrain-unit.ts";
import { maskDensity } from "../../prune/magnitude.ts";
import { loadSnapshot } from "./dense.ts";
import type { UnitContext, UnitKind } from "./kind.ts";
import { oneShotMasks } from "./shared/one-shot-masks.ts";
import { retrainPruned, retrainPrunedPack, trainingImages, trainingPackKey, type RetrainOptions } from "./shared/training-run.ts";

/**
 * One cell of the phase diagram for one seed: one-shot pruning of every conv layer of a
 * dense snapshot (fc and BN untouched; layer-wise L1 magnitude, the paper's, unless
 * `method` names another registered method), then retraining with the mask fixed and the
 * learning rate rewound to the start of the retrain schedule.
 */
export const retrainKind: UnitKind<RetrainUnitConfig> = {
  name: "retrain",
  schema: "retrain-unit",
  run: (cfg, ctx) => retrainPruned(cfg.training, ctx, retrainOptions(cfg, ctx)),
  // Cells of the grid differ in seed, density and source snapshot: masks and start weights.
  packKey: (cfg) => trainingPackKey(cfg.training, { kind: "retrain", lastEpochs: cfg.lastEpochs }),
  runPack: (cfgs, ctxs) => retrainPrunedPack(cfgs.map((cfg, k) => ({ t: cfg.training, ctx: ctxs[k]!, o: retrainOptions(cfg, ctxs[k]!) }))),
  training: (cfg) => cfg.training,
  estimateImages: (cfg) => trainingImages(cfg.training),
};

function retrainOptions(cfg: RetrainUnitConfig, ctx: UnitContext): RetrainOptions {
  const source = loadSnapshot(ctx, cfg.source.unit, cfg.source.epoch);
  return {
    label: "retrain",
    start: source,
    masksFor: (spec, data) =>
      oneShotMasks(
        {
          method: cfg.method ?? "layerwise-magnitude",
          settings: cfg.methodSettings,
          setting: "method",
          density: cfg.density,
          channelMultiple: 1,
          seed: cfg.maskSeed ?? cfg.training.seed,
        },
        { t: cfg.training, ctx, spec, data, start: source.state },
      ),
    evalLastEpochs: cfg.lastEpochs,
    extra: (r) => {
      const last = r.out.epochs.filter((e) => e.testAccuracy !== undefined).slice(-cfg.lastEpochs);
      return { testError: last.length ? last.reduce((s, e) => s + (1 - e.testAccuracy!), 0) / last.length : null, density: maskDensity(r.final.masks) };
    },
  };
}
