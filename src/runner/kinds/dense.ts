import { join } from "node:path";
import type { DenseUnitConfig } from "../../config/generated/dense-unit.ts";
import { nominalTrainCount } from "../../data/resolve.ts";
import { saveCheckpoint } from "../../train/checkpoint.ts";
import { loadData, modelFor, trainerFor } from "../../train/setup.ts";
import { trainLoop } from "../../train/train-loop.ts";
import type { UnitKind } from "./kind.ts";
import { weightsSha256 } from "./train.ts";

export const snapshotFile = (epoch: number) => `snapshot-e${epoch}.ckpt`;

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
    const data = await loadData(t, ctx.log);
    const spec = modelFor(t, data);
    const trainer = await trainerFor({ ...t, engine: { ...t.engine, threads: ctx.threads } }, spec, { log: ctx.log });
    const total = Math.ceil(data.train.count / t.optim.batchSize) * t.optim.epochs;
    const out = await trainLoop({
      trainer,
      data,
      optim: t.optim,
      augment: t.data,
      seed: t.seed,
      checkpointPath: join(ctx.workDir, "checkpoint.ckpt"),
      meta: { unit: ctx.unit.id },
      onStep: (p) => ctx.progress((p.epoch - 1) * p.stepsPerEpoch + p.step, total, `dense epoch ${p.epoch}/${t.optim.epochs}`),
      onEpoch: (r, tr) => {
        if (cfg.snapshots.includes(r.epoch)) saveCheckpoint(join(ctx.outDir, snapshotFile(r.epoch)), { epoch: r.epoch, state: tr.state, masks: tr.masks, rng: { seed: t.seed }, meta: { unit: ctx.unit.id } });
      },
    });
    await trainer.dispose();
    return {
      status: out.status,
      engine: trainer.engine,
      provider: trainer.provider,
      metrics: {
        dataset: { name: data.name, source: data.source, train: data.train.count, test: data.test.count },
        epochs: out.epochs,
        finalTestAccuracy: out.epochs.at(-1)?.testAccuracy ?? null,
        snapshots: cfg.snapshots.filter((e) => e <= out.epochs.length),
        weightsSha256: weightsSha256(trainer.state.params),
        ...(out.status === "diverged" ? { divergedAt: out.divergedAt } : {}),
      },
    };
  },
  estimateImages: (cfg) => cfg.training.optim.epochs * nominalTrainCount(cfg.training.data.dataset, cfg.training.data.trainLimit),
};
