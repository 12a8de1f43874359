import { createHash } from "node:crypto";
import { join } from "node:path";
import type { TrainingConfig } from "../../config/generated/training.ts";
import { nominalTrainCount } from "../../data/resolve.ts";
import { saveCheckpoint } from "../../train/checkpoint.ts";
import { loadData, modelFor, trainerFor } from "../../train/setup.ts";
import { trainLoop } from "../../train/train-loop.ts";
import { validateConfig } from "../../config/load.ts";
import { unitId, type Unit } from "../unit.ts";
import type { UnitKind } from "./kind.ts";

/** Final weights of a train unit, for units that build on it. */
export const TRAINED_WEIGHTS = "model.ckpt";

/** Hash of the final parameters: equal hashes mean bit-identical models (resume tests). */
export function weightsSha256(params: Record<string, Float32Array>): string {
  const h = createHash("sha256");
  for (const k of Object.keys(params).sort()) {
    const v = params[k]!;
    h.update(k);
    h.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  }
  return h.digest("hex");
}

/** Trains one model from a TrainingConfig, resuming from its per-epoch checkpoint. */
export const trainKind: UnitKind<TrainingConfig> = {
  name: "train",
  schema: "training",
  async run(cfg, ctx) {
    const data = await loadData(cfg, ctx.log);
    const spec = modelFor(cfg, data);
    const trainer = await trainerFor({ ...cfg, engine: { ...cfg.engine, threads: ctx.threads } }, spec, { log: ctx.log });
    const stepsPerEpoch = Math.ceil(data.train.count / cfg.optim.batchSize);
    const total = stepsPerEpoch * cfg.optim.epochs;
    let test = "";
    const out = await trainLoop({
      trainer,
      data,
      optim: cfg.optim,
      augment: cfg.data,
      seed: cfg.seed,
      checkpointPath: join(ctx.workDir, "checkpoint.ckpt"),
      meta: { unit: ctx.unit.id },
      onStep: (p) => ctx.progress((p.epoch - 1) * p.stepsPerEpoch + p.step, total, `epoch ${p.epoch}/${cfg.optim.epochs} loss ${p.loss.toFixed(3)}${test}`),
      onEpoch: (r) => void (r.testAccuracy !== undefined && (test = ` test acc ${r.testAccuracy.toFixed(3)}`)),
    });
    saveCheckpoint(join(ctx.outDir, TRAINED_WEIGHTS), { epoch: out.epochs.length, state: trainer.state, masks: trainer.masks, rng: { seed: cfg.seed }, meta: { unit: ctx.unit.id } });
    const last = out.epochs.at(-1);
    await trainer.dispose();
    return {
      status: out.status,
      engine: trainer.engine,
      provider: trainer.provider,
      metrics: {
        dataset: { name: data.name, source: data.source, train: data.train.count, test: data.test.count },
        epochs: out.epochs,
        finalTestAccuracy: last?.testAccuracy ?? null,
        weightsSha256: weightsSha256(trainer.state.params),
        ...(out.status === "diverged" ? { divergedAt: out.divergedAt } : {}),
      },
    };
  },
  estimateImages(cfg) {
    return cfg.optim.epochs * nominalTrainCount(cfg.data.dataset, cfg.data.trainLimit);
  },
};

/** A train unit; ids drop default-valued settings, so new settings never orphan old runs. */
export function trainUnit(cfg: TrainingConfig, label: string): Unit<TrainingConfig> {
  const spec = { kind: "train", config: cfg, deps: [], label };
  return { ...spec, id: unitId(spec, validateConfig("training", {})) };
}
