import { join } from "node:path";
import type { RetrainUnitConfig } from "../../config/generated/retrain-unit.ts";
import { nominalTrainCount } from "../../data/resolve.ts";
import { prunableLayers } from "../../models/spec.ts";
import { layerwiseMagnitudeMasks, maskDensity } from "../../prune/magnitude.ts";
import { loadCheckpoint, saveCheckpoint } from "../../train/checkpoint.ts";
import { loadData, modelFor, trainerFor } from "../../train/setup.ts";
import { trainLoop } from "../../train/train-loop.ts";
import { snapshotFile } from "./dense.ts";
import type { UnitKind } from "./kind.ts";
import { TRAINED_WEIGHTS, weightsSha256 } from "./train.ts";

/**
 * One cell of the phase diagram for one seed: one-shot layer-wise L1 magnitude pruning
 * of every conv layer of a dense snapshot (fc and BN untouched), then retraining with
 * the mask fixed and the learning rate rewound to the start of the retrain schedule.
 */
export const retrainKind: UnitKind<RetrainUnitConfig> = {
  name: "retrain",
  schema: "retrain-unit",
  async run(cfg, ctx) {
    const t = cfg.training;
    const source = loadCheckpoint(join(ctx.dep(cfg.source.unit).dir, snapshotFile(cfg.source.epoch)));
    const data = await loadData(t, ctx.log);
    const spec = modelFor(t, data);
    const layers = prunableLayers(spec).map((l) => l.name);
    const masks = layerwiseMagnitudeMasks(source.state.params, layers, cfg.density);
    const params = { ...source.state.params };
    for (const l of layers) params[l] = params[l]!.map((v, i) => v * masks[l]![i]!);
    const momentum = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, new Float32Array(v.length)]));
    const trainer = await trainerFor({ ...t, engine: { ...t.engine, threads: ctx.threads } }, spec, { log: ctx.log, state: { params, buffers: source.state.buffers, momentum } });
    for (const l of layers) trainer.masks[l] = masks[l]!;
    const epochs = t.optim.epochs;
    const total = Math.ceil(data.train.count / t.optim.batchSize) * epochs;
    const out = await trainLoop({
      trainer,
      data,
      optim: t.optim,
      augment: t.data,
      seed: t.seed,
      checkpointPath: join(ctx.workDir, "checkpoint.ckpt"),
      evalAt: (e) => e > epochs - cfg.lastEpochs,
      meta: { unit: ctx.unit.id },
      onStep: (p) => ctx.progress((p.epoch - 1) * p.stepsPerEpoch + p.step, total, `retrain epoch ${p.epoch}/${epochs}`),
    });
    saveCheckpoint(join(ctx.outDir, TRAINED_WEIGHTS), { epoch: out.epochs.length, state: trainer.state, masks: trainer.masks, rng: { seed: t.seed }, meta: { unit: ctx.unit.id } });
    const last = out.epochs.filter((e) => e.testAccuracy !== undefined).slice(-cfg.lastEpochs);
    await trainer.dispose();
    return {
      status: out.status,
      engine: trainer.engine,
      provider: trainer.provider,
      metrics: {
        epochs: out.epochs,
        testError: last.length ? last.reduce((s, e) => s + (1 - e.testAccuracy!), 0) / last.length : null,
        density: maskDensity(trainer.masks),
        weightsSha256: weightsSha256(trainer.state.params),
        ...(out.status === "diverged" ? { divergedAt: out.divergedAt } : {}),
      },
    };
  },
  estimateImages: (cfg) => cfg.training.optim.epochs * nominalTrainCount(cfg.training.data.dataset, cfg.training.data.trainLimit),
};
