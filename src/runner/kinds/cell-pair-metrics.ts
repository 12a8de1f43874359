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

/** LMC and CKA of one pair of a cell's retrained models, as a cell unit records it. */
export interface CellPairMetrics {
  /** The two retrain units compared (their ids). */
  models: [string, string];
  cka: number;
  ckaStdErr: number | null;
  lmcBarrier: number;
  lmcTStar: number;
  lmcPath: { t: number; error: number }[];
  /** Images each path point's error was measured on (absent in records made before it was kept: see metricImages). */
  lmcImages?: number;
}

/**
 * The images a metric setting (metrics.lmcImages, bnImages, ckaImages) comes to on a
 * training split of `trainCount`: all of them when it asks for as many or more. The cell
 * unit draws its subsets by this rule, and a report that needs the count (a barrier's
 * binomial error) takes it from here.
 */
export const metricImages = (asked: number, trainCount: number) => Math.min(asked, trainCount);

/** Every unordered pair of indices 0..n-1, in lexicographic order. */
export const indexPairs = (n: number): [number, number][] =>
  Array.from({ length: n }, (_, i) => Array.from({ length: n - i - 1 }, (_, d) => [i, i + d + 1] as [number, number])).flat();

/**
 * LMC and CKA of one (temperature, density, dense seed) cell, between every pair of its
 * retrained models (the authors average every pair of 3 retrain seeds). The path's error
 * and the BN re-estimation use training images without augmentation (fixed,
 * class-balanced subsets, the same for every pair); CKA compares softmax outputs on
 * training images. Each model's outputs, and its error at a path's end, are measured once.
 */
export const cellKind: UnitKind<CellUnitConfig> = {
  name: "cell",
  schema: "cell-unit",
  async run(cfg, ctx) {
    const t = cfg.training;
    const m = cfg.metrics;
    const data = await loadData(t, ctx.log);
    const spec = modelFor(t, data);
    const models = cfg.models.map((id) => loadDepCheckpoint(ctx, id, TRAINED_WEIGHTS)) as Checkpoint[];
    const trainer = await trainerFor(t, spec, { threads: ctx.threads, log: ctx.log, state: models[0]!.state });
    const subset = (n: number, salt: number): Split =>
      metricImages(n, data.train.count) === data.train.count ? data.train : balancedSubset(data.train, n, data.numClasses, t.data.subsetSeed * 1000 + salt);
    const pairs = indexPairs(models.length);
    const steps = models.length + pairs.length * m.lmcPoints;
    ctx.progress(0, steps, "CKA outputs");
    const ckaSplit = subset(m.ckaImages, 1);
    const outputs: Float64Array[] = [];
    for (const ck of models) {
      trainer.state = ck.state;
      outputs.push(await softmaxOutputs(trainer, data, ckaSplit, m.batchSize));
    }
    const bnSplit = subset(m.bnImages, 2),
      evalSplit = subset(m.lmcImages, 3);
    const endError: (number | undefined)[] = models.map(() => undefined);
    const results: CellPairMetrics[] = [];
    for (const [k, [i, j]] of pairs.entries()) {
      ctx.progress(models.length + k * m.lmcPoints, steps, `LMC path ${k + 1}/${pairs.length}`);
      const [a, b] = [outputs[i]!, outputs[j]!];
      const ckaStdErr = ckaBootstrapStdErr(a, b, ckaSplit.count, m.ckaBootstrap, t.data.subsetSeed);
      trainer.state = models[i]!.state;
      const lmc = await lmcBetween(trainer, models[i]!.state.params, models[j]!.state.params, data, {
        points: m.lmcPoints,
        bnSplit,
        evalSplit,
        batchSize: m.batchSize,
        endErrors: { a: endError[i], b: endError[j] },
      });
      endError[i] = lmc.path[0]!.error;
      endError[j] = lmc.path.at(-1)!.error;
      results.push({
        models: [cfg.models[i]!, cfg.models[j]!],
        cka: ckaOfOutputs(a, b, ckaSplit.count),
        ckaStdErr: Number.isFinite(ckaStdErr) ? ckaStdErr : null,
        lmcBarrier: lmc.barrier,
        lmcTStar: lmc.tStar,
        lmcPath: lmc.path,
        lmcImages: evalSplit.count,
      });
    }
    await trainer.dispose();
    return {
      status: "done",
      engine: trainer.engine,
      provider: trainer.provider,
      metrics: { pairs: results, ...dataFingerprints(data) },
    };
  },
  training: (cfg) => cfg.training,
  estimateImages: (cfg) => {
    const n = cfg.models.length,
      pairs = (n * (n - 1)) / 2,
      m = cfg.metrics;
    return Math.round((pairs * m.lmcPoints * (m.lmcImages + m.bnImages) + n * m.ckaImages) / 3);
  },
};
