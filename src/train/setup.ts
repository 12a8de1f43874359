import type { AutoProbeSettings } from "../engine/auto-probe.ts";
import { availableParallelism } from "node:os";
import type { TrainingConfig } from "../config/generated/training.ts";
import { ConfigError } from "../config/load.ts";
import { withNormalization } from "../data/normalization.ts";
import { nominalTrainCount, resolveDataset } from "../data/resolve.ts";
import type { Dataset } from "../data/types.ts";
import { createTrainer, engineSettings, type EngineChoice } from "../engine/registry.ts";
import { freshState } from "../engine/state.ts";
import type { ModelState, Trainer, TrainerOptions } from "../engine/types.ts";
import { buildModel } from "../models/registry.ts";
import type { ModelSpec } from "../models/spec.ts";

export async function loadData(cfg: TrainingConfig, log?: (line: string) => void): Promise<Dataset> {
  const data = await resolveDataset({
    dataset: cfg.data.dataset,
    dataDir: cfg.data.dataDir,
    cacheDir: cfg.data.cacheDir,
    download: cfg.data.download,
    padTo: cfg.data.padTo,
    imageSize: cfg.data.imageSize,
    trainLimit: cfg.data.trainLimit,
    testLimit: cfg.data.testLimit,
    subsetSeed: cfg.data.subsetSeed,
    log,
  });
  return withNormalization(data, cfg.data.normalization);
}

/**
 * Training images of a config: the loaded dataset's count when there is one, else (a dry
 * run) the nominal size of its dataset choice, at most data.trainLimit.
 */
export function trainImagesOf(cfg: TrainingConfig, data?: Pick<Dataset, "train"> | null): number {
  return data?.train.count ?? nominalTrainCount(cfg.data.dataset, cfg.data.trainLimit, cfg.data.dataDir);
}

/**
 * A batch larger than the training set is a ConfigError (never retried) naming both
 * numbers: such a run would take one short batch per epoch, or none, not what was asked.
 * `setting` is the batch size's path ("dense.optim.batchSize").
 */
export function checkBatchSize(setting: string, batchSize: number, trainImages: number, data?: { path: string; cfg: TrainingConfig["data"] }): void {
  if (batchSize <= trainImages) return;
  const limit = data?.cfg.trainLimit;
  const why = data ? ` (${limit !== undefined && limit <= trainImages ? `${data.path}.trainLimit=${limit}` : `${data.path}.dataset=${data.cfg.dataset}`})` : "";
  throw new ConfigError(
    `${setting}: ${batchSize} is larger than the ${trainImages} training images${why}; use a batch size of at most ${trainImages}, or more training images`,
  );
}

export function modelFor(cfg: TrainingConfig, data: Pick<Dataset, "channels" | "height" | "width" | "numClasses">): ModelSpec {
  return buildModel(cfg.model.arch, {
    width: cfg.model.width,
    inputShape: [data.channels, data.height, data.width],
    numClasses: data.numClasses,
    ...(cfg.model.depth !== undefined ? { depth: cfg.model.depth } : {}),
  });
}

export function trainerOptions(cfg: TrainingConfig, spec: ModelSpec): TrainerOptions {
  return {
    spec,
    sgd: { momentum: cfg.optim.momentum, weightDecay: cfg.optim.weightDecay },
    bn: { eps: cfg.optim.bnEps, momentum: cfg.optim.bnMomentum },
    threads: cfg.engine.threads > 0 ? cfg.engine.threads : availableParallelism(),
    blockedConv: cfg.engine.blockedConv,
  };
}

/** The engine, execution provider and provider check a config asks for. */
export function engineChoice(cfg: TrainingConfig, log?: (line: string) => void): EngineChoice {
  return {
    engine: cfg.engine.name,
    provider: cfg.engine.provider,
    device: cfg.engine.device,
    python: cfg.engine.python,
    check: cfg.engine.providerCheck,
    ...engineSettings(cfg.engine),
    batchSize: cfg.optim.batchSize,
    autoProbe: cfg.engine.autoProbe as AutoProbeSettings,
    log,
  };
}

/**
 * The trainer a config asks for, with fresh weights from the config's seed unless a
 * state is given; `threads` (a runner's share of the cores) overrides the config's.
 */
export async function trainerFor(
  cfg: TrainingConfig,
  spec: ModelSpec,
  o: { state?: ModelState; log?: (line: string) => void; threads?: number } = {},
): Promise<Trainer> {
  const options = trainerOptions(cfg, spec);
  return createTrainer(engineChoice(cfg, o.log), o.threads ? { ...options, threads: o.threads } : options, o.state ?? freshState(spec, cfg.seed));
}
