import type { PruneFinetuneUnitConfig } from "../../config/generated/prune-finetune-unit.ts";
import { maskDensity } from "../../prune/magnitude.ts";
import { loadDepCheckpoint } from "../dependency-error.ts";
import type { UnitKind } from "./kind.ts";
import { oneShotMasks } from "./shared/one-shot-masks.ts";
import { retrainPruned, trainingImages, TRAINED_WEIGHTS } from "./shared/training-run.ts";

/** One-shot pruning of a trained model (unstructured or structured), then fine-tuning with the mask fixed. */
export const pruneFinetuneKind: UnitKind<PruneFinetuneUnitConfig> = {
  name: "prune-finetune",
  schema: "prune-finetune-unit",
  async run(cfg, ctx) {
    const src = loadDepCheckpoint(ctx, cfg.source, TRAINED_WEIGHTS);
    return retrainPruned(cfg.training, ctx, {
      label: `${cfg.method}${cfg.channelMultiple > 1 ? ` x${cfg.channelMultiple}` : ""} d=${cfg.density} fine-tune`,
      start: src,
      masksFor: (spec, data) =>
        oneShotMasks(
          {
            method: cfg.method,
            settings: cfg.methodSettings,
            setting: "method",
            density: cfg.density,
            channelMultiple: cfg.channelMultiple,
            seed: cfg.training.seed,
          },
          { t: cfg.training, ctx, spec, data, start: src.state },
        ),
      extra: (r) => ({ method: cfg.method, density: cfg.density, maskedWeightDensity: maskDensity(r.final.masks) }),
    });
  },
  training: (cfg) => cfg.training,
  estimateImages: (cfg) => trainingImages(cfg.training),
};
