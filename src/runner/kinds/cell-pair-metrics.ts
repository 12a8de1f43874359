import type { CellUnitConfig } from "../../config/generated/cell-unit.ts";
import { dataFingerprints } from "../../data/fingerprint.ts";
import { balancedSubset } from "../../data/subset.ts";
import type { Split } from "../../data/types.ts";
import { ckaBootstrapStdErr, ckaOfOutputs, lmcBetween, softmaxOutputs } from "../../metrics/pair-metrics.ts";
import type { Checkpoint } from "../../train/checkpoint.ts";
import { loadData, modelFor, trainerFor } from "../../train/setup.ts";
import { loadDepCheckpoint } from "../dependency-error.ts";
import type { UnitKind } from "./kind.ts";
import { TRAINED_WEIGHTS } from "./shared/training-run.ts";

/**
 * LMC and CKA of one (temperature, density) cell, from its first two retrained models.
 * The path's error and the BN re-estimation use training images without augmentation
 * (fixed, class-balanced subsets); CKA compares softmax outputs on training images.
 */
export const cellKind: UnitKind<CellUnitConfig> = {
  name: "cell",
  schema: "cell-unit",
  async run(cfg, ctx) {
    const t = cfg.training;
    const m = cfg.metrics;
    const data = await loadData(t, ctx.log);
    const spec = modelFor(t, data);
    const [a, b] = cfg.models.map((id) => loadDepCheckpoint(ctx, id, TRAINED_WEIGHTS)) as [Checkpoint, Checkpoint];
    const trainer = await trainerFor(t, spec, { threads: ctx.threads, log: ctx.log, state: a.state });
    const subset = (n: number, salt: number): Split =>
      n >= data.train.count ? data.train : balancedSubset(data.train, n, data.numClasses, t.data.subsetSeed * 1000 + salt);
    ctx.progress(0, m.lmcPoints + 2, "CKA");
    const ckaSplit = subset(m.ckaImages, 1);
    const outA = await softmaxOutputs(trainer, data, ckaSplit, m.batchSize);
    trainer.state = b.state;
    const outB = await softmaxOutputs(trainer, data, ckaSplit, m.batchSize);
    const cka = ckaOfOutputs(outA, outB, ckaSplit.count);
    const ckaStdErr = ckaBootstrapStdErr(outA, outB, ckaSplit.count, m.ckaBootstrap, t.data.subsetSeed);
    ctx.progress(2, m.lmcPoints + 2, "LMC path");
    const lmc = await lmcBetween(trainer, a.state.params, b.state.params, data, {
      points: m.lmcPoints,
      bnSplit: subset(m.bnImages, 2),
      evalSplit: subset(m.lmcImages, 3),
      batchSize: m.batchSize,
    });
    await trainer.dispose();
    return {
      status: "done",
      engine: trainer.engine,
      provider: trainer.provider,
      metrics: {
        cka,
        ckaStdErr: Number.isFinite(ckaStdErr) ? ckaStdErr : null,
        lmcBarrier: lmc.barrier,
        lmcTStar: lmc.tStar,
        lmcPath: lmc.path,
        ...dataFingerprints(data),
      },
    };
  },
  training: (cfg) => cfg.training,
  estimateImages: (cfg) => Math.round((cfg.metrics.lmcPoints * (cfg.metrics.lmcImages + cfg.metrics.bnImages) + 2 * cfg.metrics.ckaImages) / 3),
};
