import type { TrainingConfig } from "../../config/generated/training.ts";
import { validateConfig } from "../../config/load.ts";
import { mkUnit, type Unit } from "../unit.ts";
import type { UnitKind } from "./kind.ts";
import { runTraining, runTrainingPack, trainingImages, trainingMetrics, trainingPackKey } from "./shared/training-run.ts";

/** Trains one model from a TrainingConfig, resuming from its per-epoch checkpoint. */
export const trainKind: UnitKind<TrainingConfig> = {
  name: "train",
  schema: "training",
  async run(cfg, ctx) {
    const r = await runTraining(cfg, ctx, { label: "train" });
    return { status: r.out.status, engine: r.engine, provider: r.provider, metrics: trainingMetrics(r) };
  },
  // Seeds of one training config train together.
  packKey: (cfg) => trainingPackKey(cfg, { kind: "train" }),
  async runPack(cfgs, ctxs) {
    const runs = await runTrainingPack(
      cfgs.map((t, k) => ({ t, ctx: ctxs[k]! })),
      { label: "train" },
    );
    return runs.map((r) => ({
      status: r.out.status,
      engine: r.engine,
      provider: r.provider,
      metrics: trainingMetrics(r),
      ...(r.pack ? { pack: r.pack } : {}),
    }));
  },
  training: (cfg) => cfg,
  estimateImages: (cfg) => trainingImages(cfg),
};

/** A train unit; ids drop default-valued settings, so new settings never orphan old runs. */
export function trainUnit(cfg: TrainingConfig, label: string): Unit<TrainingConfig> {
  return mkUnit("train", cfg, [], label, validateConfig("training", {}));
}
