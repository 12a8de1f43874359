/**
 * The Figure 2 grid as runner units: dense runs per temperature and dense seed, and per
 * cell its retrained models and the unit that compares them.
 */
import type { Fig2Config } from "../config/generated/fig2.ts";
import type { TrainingConfig } from "../config/generated/training.ts";
import { validateConfig } from "../config/load.ts";
import { mkUnit, type Unit } from "../runner/unit.ts";
import { errorWindow } from "../train/schedule.ts";
import type { Fig2GridCell, Fig2SeedCell } from "./fig2-cells.ts";
import { PAPER_PRUNE_METHOD, resolvePrune } from "./fig2-settings.ts";

interface Temperature {
  value: number;
  dense: Unit<unknown>;
  epoch: number;
}

/**
 * The data stream of each role (TrainingConfig.stream): the dense runs draw theirs, and
 * the retraining under each dense seed its own, so no retrain seed replays a dense run's
 * order and augmentation. Retrain seed r is one stream across the cells of a dense seed,
 * as the authors' seeded retraining is (common random numbers across cells).
 */
export const DENSE_STREAM = "dense";
export const retrainStream = (denseSeed: number | "d") => `retrain-of-dense-seed-${denseSeed}`;

/** Dense units of one dense seed and the snapshot each temperature uses, hottest first. */
function temperatures(cfg: Fig2Config, trainCount: number, seed: number): Temperature[] {
  const t = cfg.temperature;
  const denseDefaults = { training: validateConfig("training", {}) };
  const curve = cfg.denseTestEveryEpoch ? { testEveryEpoch: true } : {};
  const seedTag = cfg.seeds.dense.length > 1 ? ` seed ${seed}` : "";
  const dense = (training: TrainingConfig, snapshots: number[], label: string) =>
    mkUnit("dense", { training: { ...training, seed, stream: DENSE_STREAM }, snapshots, ...curve }, [], label + seedTag, denseDefaults);
  if (t.axis === "epochs") {
    const epochs = [...new Set(t.epochs)].sort((a, b) => a - b);
    const training = { ...cfg.dense, optim: { ...cfg.dense.optim, epochs: Math.max(...epochs) } };
    const u = dense(training, epochs, `dense ${training.optim.epochs} epochs`);
    return epochs.map((e) => ({ value: e, dense: u, epoch: e }));
  }
  if (t.axis === "batch-size") {
    return [...new Set(t.batchSizes)]
      .sort((a, b) => a - b)
      .map((b) => {
        const epochs = Math.max(1, Math.round((t.iterations * b) / trainCount));
        const u = dense({ ...cfg.dense, optim: { ...cfg.dense.optim, batchSize: b, epochs } }, [epochs], `dense batch ${b}`);
        return { value: b, dense: u, epoch: epochs };
      });
  }
  return [...new Set(t.samRhos)]
    .sort((a, b) => b - a)
    .map((rho) => {
      const u = dense({ ...cfg.dense, optim: { ...cfg.dense.optim, samRho: rho } }, [cfg.dense.optim.epochs], `dense SAM rho ${rho}`);
      return { value: rho, dense: u, epoch: cfg.dense.optim.epochs };
    });
}

/** Every unit of the grid, in the order they are listed to the runner, and the grid they make. */
export function planFig2(
  cfg: Fig2Config,
  trainImages: number,
): { units: Unit<unknown>[]; grid: Fig2GridCell[]; temperatures: number[]; window: ReturnType<typeof errorWindow> } {
  const perSeed = cfg.seeds.dense.map((d) => ({ d, temps: temperatures(cfg, trainImages, d) }));
  const units: Unit<unknown>[] = [...new Map(perSeed.flatMap((p) => p.temps.map((t) => [t.dense.id, t.dense] as const))).values()];
  const retrainOptim = cfg.retrain;
  const window = errorWindow(retrainOptim.schedule, retrainOptim.lr, retrainOptim.epochs, cfg.metrics.errorWindow);
  const retrainDefaults = { training: validateConfig("training", {}) };
  const prune = resolvePrune(cfg);
  const cellDefaults = { training: validateConfig("training", {}), metrics: validateConfig<Fig2Config>("fig2", {}).metrics };
  const values = perSeed[0]!.temps.map((t) => t.value);
  const grid: Fig2GridCell[] = [];
  values.forEach((value, rank) => {
    for (const density of cfg.densities) {
      const bySeed = perSeed.map(({ d, temps }): Fig2SeedCell => {
        const t = temps[rank]!;
        const tag = cfg.seeds.dense.length > 1 ? ` dense seed ${d}` : "";
        const retrains = cfg.seeds.retrain.map((seed) => ({
          seed,
          unit: mkUnit(
            "retrain",
            {
              training: { ...cfg.dense, seed, stream: retrainStream(d), optim: retrainOptim },
              source: { unit: t.dense.id, epoch: t.epoch },
              density,
              lastEpochs: window.count,
              // The paper's method stays out of the config, so its units keep the ids they had before the choice existed.
              // Every retraining of one dense snapshot is pruned with the dense seed: one mask, however a method draws.
              ...(prune.method === PAPER_PRUNE_METHOD ? {} : { method: prune.method, methodSettings: prune.settings, maskSeed: d }),
            },
            [t.dense.id],
            `retrain T=${value} d=${density}${prune.method === PAPER_PRUNE_METHOD ? "" : ` ${prune.method}`}${tag} seed ${seed}`,
            retrainDefaults,
          ),
        }));
        const ids = retrains.map((r) => r.unit.id);
        const cell = mkUnit("cell", { training: cfg.dense, models: ids, metrics: cfg.metrics }, ids, `cell T=${value} d=${density}${tag}`, cellDefaults);
        units.push(...retrains.map((r) => r.unit), cell);
        return { denseSeed: d, dense: t.dense, retrains, cell };
      });
      grid.push({ value, rank, density, bySeed });
    }
  });
  return { units, grid, temperatures: values, window };
}
