import type { TrainingConfig } from "../../config/generated/training.ts";
import { validateConfig } from "../../config/load.ts";
import { mkUnit, type Unit } from "../unit.ts";
import type { UnitKind } from "./kind.ts";
import { runTraining, trainingImages, trainingMetrics } from "./shared/training-run.ts";

/** Trains one model from a TrainingConfig, resuming from its per-epoch checkpoint. */
export const trainKind: UnitKind<TrainingConfig> = {
  name: "train",
  schema: "training",
  async run(cfg, ctx) {
    const r = await runTraining(cfg, ctx, { label: "train" });
    return { status: r.out.status, engine: r.trainer.engine, provider: r.trainer.provider, metrics: trainingMetrics(r) };
  },
  training: (cfg) => cfg,
  estimateImages: (cfg) => trainingImages(cfg),
};

/** A train unit; ids drop default-valued settings, so new settings never orphan old runs. */
export function trainUnit(cfg: TrainingConfig, label: string): Unit<TrainingConfig> {
  return mkUnit("train", cfg, [], label, validateConfig("training", {}));
}
