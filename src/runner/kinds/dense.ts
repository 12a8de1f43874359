import { join } from "node:path";
import type { DenseUnitConfig } from "../../config/generated/dense-unit.ts";
import { saveCheckpoint } from "../../train/checkpoint.ts";
import { loadDepCheckpoint } from "../dependency-error.ts";
import type { UnitContext, UnitKind } from "./kind.ts";
import { dataRngOf, runTraining, trainingImages, trainingMetrics } from "./shared/training-run.ts";

export const snapshotFile = (epoch: number) => `snapshot-e${epoch}.ckpt`;

/** The snapshot a dense unit (a dependency of the running unit) kept at `epoch`; a damaged or missing one is a DependencyDamaged. */
export const loadSnapshot = (ctx: UnitContext, denseId: string, epoch: number) => loadDepCheckpoint(ctx, denseId, snapshotFile(epoch));

/**
 * A dense training run that keeps its weights at the listed epochs: one run gives the
 * three-regime paper's "early-stopped" dense models (temperatures). Snapshots written
 * before an interruption are kept; the run resumes from its last epoch checkpoint.
 */
export const denseKind: UnitKind<DenseUnitConfig> = {
  name: "dense",
  schema: "dense-unit",
  async run(cfg, ctx) {
    const t = cfg.training;
    const r = await runTraining(t, ctx, {
      label: "dense",
      // A test pass where a result reads it: the snapshots and the final model (testEveryEpoch: a curve).
      evalAt: cfg.testEveryEpoch ? undefined : (e) => cfg.snapshots.includes(e) || e === t.optim.epochs,
      onEpoch: (rec, tr) => {
        if (cfg.snapshots.includes(rec.epoch))
          saveCheckpoint(join(ctx.outDir, snapshotFile(rec.epoch)), {
            epoch: rec.epoch,
            state: tr.state,
            masks: tr.masks,
            rng: dataRngOf(t),
            meta: { unit: ctx.unit.id },
          });
      },
    });
    return {
      status: r.out.status,
      engine: r.engine,
      provider: r.provider,
      metrics: { ...trainingMetrics(r), snapshots: cfg.snapshots.filter((e) => e <= r.out.epochs.length) },
    };
  },
  training: (cfg) => cfg.training,
  estimateImages: (cfg) => trainingImages(cfg.training),
};
