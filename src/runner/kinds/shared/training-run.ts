import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../../../util/atomic-write.ts";
import type { TrainingConfig } from "../../../config/generated/training.ts";
import { dataFingerprints } from "../../../data/fingerprint.ts";
import { nominalTrainCount } from "../../../data/resolve.ts";
import type { Dataset } from "../../../data/types.ts";
import type { ModelState, Tensors, Trainer } from "../../../engine/types.ts";
import type { ModelSpec } from "../../../models/spec.ts";
import { rewind } from "../../../prune/imp.ts";
import { saveCheckpoint, type DataRng } from "../../../train/checkpoint.ts";
import { checkBatchSize, engineChoice, loadData, modelFor, trainerFor, trainerOptions } from "../../../train/setup.ts";
import { trainLoop, type EpochRecord, type TrainOutcome } from "../../../train/train-loop.ts";
import type { PackFacts, UnitContext, UnitOutcome } from "../kind.ts";
import type { PackMember } from "../../../engine/types.ts";
import { createPack } from "../../../engine/registry.ts";
import { freshState, zeroMomentum } from "../../../engine/state.ts";
import { trainPack } from "../../../train/pack-loop.ts";
import { canonicalJson } from "../../unit.ts";
import { startWeightsOf } from "../../../weights/import.ts";
import { weightsSha256 } from "./weights.ts";

/** Per-epoch metrics of a unit (one JSON object per line), in the unit's folder while it runs. */
export const EPOCHS_FILE = "epochs.jsonl";

/**
 * Keeps a unit's per-epoch metrics readable while it runs: rewrites epochs.jsonl (an
 * epoch redone after a resume replaces its earlier line) and logs one line to worker.log.
 */
export function recordEpoch(ctx: UnitContext, rec: EpochRecord, totalEpochs: number): void {
  const file = join(ctx.outDir, EPOCHS_FILE);
  const kept = existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l.trim() && (JSON.parse(l) as EpochRecord).epoch < rec.epoch)
    : [];
  writeFileAtomic(file, [...kept, JSON.stringify(rec)].join("\n") + "\n");
  const test = rec.testAccuracy !== undefined ? ` test acc ${rec.testAccuracy.toFixed(4)} loss ${rec.testLoss?.toFixed(4)}` : "";
  ctx.log(
    `epoch ${rec.epoch}/${totalEpochs} lr ${rec.lr.toPrecision(3)} train loss ${rec.trainLoss.toFixed(4)} acc ${rec.trainAccuracy.toFixed(4)}${test} ${rec.seconds.toFixed(1)} s`,
  );
}

/** Final weights of a training unit, for units that build on it. */
export const TRAINED_WEIGHTS = "model.ckpt";

export interface TrainingRun {
  out: TrainOutcome;
  /** Weights, BN statistics, momentum and masks as training left them. */
  final: PackMember;
  engine: string;
  provider: string;
  data: Dataset;
  /** Its data randomness: seed and named stream. */
  rng: DataRng;
  /** Trained in a pack (runTrainingPack). */
  pack?: PackFacts;
}

/** A unit's start (weights, BN statistics, momentum and masks) for its model and data, when it does not start fresh. */
export type StartFor = (spec: ModelSpec, data: Dataset) => Start | Promise<Start>;
type Start = { state: ModelState; masks?: Tensors };

/**
 * What every training unit kind does: load data, build the model (from `init` when the
 * unit starts from another unit's weights, else from the config's startWeights file,
 * else from its seed), train with a per-epoch checkpoint in the unit's
 * work dir (so a killed attempt resumes), report progress, keep the final weights.
 */
export async function runTraining(
  t: TrainingConfig,
  ctx: UnitContext,
  o: {
    label: string;
    init?: StartFor;
    evalAt?: (epoch: number) => boolean;
    onEpoch?: (r: EpochRecord, trainer: Trainer) => void;
  },
): Promise<TrainingRun> {
  const data = await loadData(t, ctx.log);
  // Where the plan could not know the dataset's size (auto, npy): a ConfigError, not retried.
  checkBatchSize("optim.batchSize", t.optim.batchSize, data.train.count);
  const spec = modelFor(t, data);
  const start = (await o.init?.(spec, data)) ?? startWeightsOf(t, spec);
  const trainer = await trainerFor(t, spec, { threads: ctx.threads, log: ctx.log, state: start?.state });
  for (const [name, mask] of Object.entries(start?.masks ?? {})) trainer.masks[name] = mask;
  const total = Math.ceil(data.train.count / t.optim.batchSize) * t.optim.epochs;
  let test = "";
  const out = await trainLoop({
    trainer,
    data,
    optim: t.optim,
    augment: t.data,
    seed: t.seed,
    stream: t.stream,
    checkpointPath: join(ctx.workDir, "checkpoint.ckpt"),
    log: ctx.log,
    evalAt: o.evalAt,
    meta: { unit: ctx.unit.id },
    onStep: (p) =>
      ctx.progress((p.epoch - 1) * p.stepsPerEpoch + p.step, total, `${o.label} epoch ${p.epoch}/${t.optim.epochs} loss ${p.loss.toFixed(3)}${test}`),
    onEpoch: (r, tr) => {
      if (r.testAccuracy !== undefined) test = ` test acc ${r.testAccuracy.toFixed(3)}`;
      recordEpoch(ctx, r, t.optim.epochs);
      o.onEpoch?.(r, tr);
    },
  });
  const final = { state: trainer.state, masks: { ...trainer.masks } };
  saveTrainedWeights(ctx, final, out.epochs.length, dataRngOf(t));
  await trainer.dispose();
  return { out, final, engine: trainer.engine, provider: trainer.provider, data, rng: dataRngOf(t) };
}

/** The unit's output model (TRAINED_WEIGHTS): weights, momentum, BN statistics and masks as training left them. */
export function saveTrainedWeights(ctx: UnitContext, m: PackMember, epochs: number, rng: DataRng): void {
  saveCheckpoint(join(ctx.outDir, TRAINED_WEIGHTS), { epoch: epochs, state: m.state, masks: m.masks, rng, meta: { unit: ctx.unit.id } });
}

/**
 * What units that may train together share: their training config but the seed, plus
 * `extra` (settings of the kind that change how they train). null for SAM, which the
 * pack loop does not run: such units train alone.
 */
export function trainingPackKey(t: TrainingConfig, extra: unknown = {}): string | null {
  if (t.optim.samRho > 0) return null;
  const { seed: _, stream: __, ...rest } = t;
  return canonicalJson({ training: rest, extra });
}

/**
 * runTraining for units that train together (equal trainingPackKey): one dataset, one
 * pack (src/train/pack-loop.ts) of their models, each with its own seed, start, resume
 * checkpoint in its own work dir (the same file runTraining uses, so a unit resumes
 * across pack sizes), progress, per-epoch record and final weights.
 */
export async function runTrainingPack(
  runs: { t: TrainingConfig; ctx: UnitContext; init?: StartFor }[],
  o: { label: string; evalAt?: (epoch: number) => boolean },
): Promise<TrainingRun[]> {
  const { t: t0, ctx: c0 } = runs[0]!;
  const data = await loadData(t0, c0.log);
  checkBatchSize("optim.batchSize", t0.optim.batchSize, data.train.count);
  const spec = modelFor(t0, data);
  const options = { ...trainerOptions(t0, spec), threads: c0.threads };
  const total = Math.ceil(data.train.count / t0.optim.batchSize) * t0.optim.epochs;
  const seen = { engine: "", provider: "", formulation: "" };
  // One after another: a start may build a trainer of its own (a method's gradients).
  const starts: (Start | undefined)[] = [];
  for (const { t, init } of runs) starts.push((await init?.(spec, data)) ?? startWeightsOf(t, spec));
  const results = await trainPack({
    makePack: async (members) => {
      const p = await createPack(engineChoice(t0, c0.log), options, members);
      Object.assign(seen, { engine: p.engine, provider: p.provider, formulation: p.formulation });
      return p;
    },
    members: runs.map(({ t, ctx }, k) => {
      const start = starts[k];
      let test = "";
      return {
        seed: t.seed,
        stream: t.stream,
        start: { state: start?.state ?? freshState(spec, t.seed), masks: start?.masks ?? {} },
        checkpointPath: join(ctx.workDir, "checkpoint.ckpt"),
        meta: { unit: ctx.unit.id },
        onStep: (p) =>
          ctx.progress(
            (p.epoch - 1) * p.stepsPerEpoch + p.step,
            total,
            `${o.label} epoch ${p.epoch}/${t.optim.epochs} loss ${p.loss.toFixed(3)}${test} (pack of ${runs.length})`,
          ),
        onEpoch: (r) => {
          if (r.testAccuracy !== undefined) test = ` test acc ${r.testAccuracy.toFixed(3)}`;
          recordEpoch(ctx, r, t.optim.epochs);
        },
      };
    }),
    data,
    optim: t0.optim,
    augment: t0.data,
    evalAt: o.evalAt,
    log: c0.log,
  });
  const members = runs.map((r) => r.ctx.unit.id);
  return results.map((res, k) => {
    const { t, ctx } = runs[k]!;
    saveTrainedWeights(ctx, res.final, res.outcome.epochs.length, dataRngOf(t));
    return {
      out: res.outcome,
      final: res.final,
      engine: seen.engine,
      provider: seen.provider,
      data,
      rng: dataRngOf(t),
      pack: { members, size: runs.length, formulation: seen.formulation },
    };
  });
}

/** A training config's data randomness (checkpoint.ts DataRng). */
export const dataRngOf = (t: TrainingConfig): DataRng => (t.stream ? { seed: t.seed, stream: t.stream } : { seed: t.seed });

/** Which data order and augmentation a unit drew, as its record names it: units that must not share one can be checked. */
export const dataStreamMetric = (rng: DataRng) => ({ seed: rng.seed, stream: rng.stream ?? null });

/** What a unit records of its data: provenance and fingerprints, so units meant to share data can be checked to. */
export function dataMetrics(data: Dataset): Record<string, unknown> {
  return { dataset: { name: data.name, source: data.source, train: data.train.count, test: data.test.count }, ...dataFingerprints(data) };
}

/** The metrics every training unit records. */
export function trainingMetrics(r: TrainingRun): Record<string, unknown> {
  return {
    ...dataMetrics(r.data),
    epochs: r.out.epochs,
    finalTestAccuracy: r.out.epochs.at(-1)?.testAccuracy ?? null,
    weightsSha256: weightsSha256(r.final.state.params),
    dataStream: dataStreamMetric(r.rng),
    ...(r.out.status === "diverged" ? { divergedAt: r.out.divergedAt } : {}),
  };
}

/** Training images a training unit processes: its epochs times the dataset's nominal size. */
export function trainingImages(t: TrainingConfig): number {
  return t.optim.epochs * nominalTrainCount(t.data.dataset, t.data.trainLimit, t.data.dataDir);
}

/**
 * The starting state of a pruned model: `weights` with pruned entries set to zero,
 * the given BN statistics, fresh momentum.
 */
export function prunedStart(weights: Tensors, buffers: Tensors, masks: Tensors): { state: ModelState; masks: Tensors } {
  const params = rewind(weights, masks);
  return { state: { params, buffers, momentum: zeroMomentum(params) }, masks };
}

/**
 * Trains a pruned model with its mask fixed, from `start` (trained weights for OMP,
 * fine-tuning and the phase diagram's retraining, an early snapshot for IMP's
 * rewinding) with the masks `masksFor` picks, evaluating in the last `evalLastEpochs`
 * epochs (default 1); the outcome's metrics add `extra(run)`.
 */
export async function retrainPruned(t: TrainingConfig, ctx: UnitContext, o: RetrainOptions): Promise<UnitOutcome> {
  const r = await runTraining(t, ctx, { label: o.label, init: retrainStart(o), evalAt: retrainEvalAt(t, o) });
  return retrainOutcome(r, o);
}

/** How retrainPruned trains one unit. */
export interface RetrainOptions {
  label: string;
  start: { state: Pick<ModelState, "params" | "buffers"> };
  masksFor: (spec: ModelSpec, data: Dataset) => Tensors | Promise<Tensors>;
  evalLastEpochs?: number;
  extra: (r: TrainingRun) => Record<string, unknown>;
}

/** retrainPruned for units that train together (equal trainingPackKey and evalLastEpochs): one outcome each, in order. */
export async function retrainPrunedPack(items: { t: TrainingConfig; ctx: UnitContext; o: RetrainOptions }[]): Promise<UnitOutcome[]> {
  const runs = await runTrainingPack(
    items.map(({ t, ctx, o }) => ({ t, ctx, init: retrainStart(o) })),
    { label: items[0]!.o.label, evalAt: retrainEvalAt(items[0]!.t, items[0]!.o) },
  );
  return runs.map((r, k) => retrainOutcome(r, items[k]!.o));
}

const retrainStart =
  (o: RetrainOptions): StartFor =>
  async (spec, data) =>
    prunedStart(o.start.state.params, o.start.state.buffers, await o.masksFor(spec, data));
const retrainEvalAt = (t: TrainingConfig, o: RetrainOptions) => {
  const first = t.optim.epochs - (o.evalLastEpochs ?? 1);
  return (e: number) => e > first;
};

function retrainOutcome(r: TrainingRun, o: RetrainOptions): UnitOutcome {
  return {
    status: r.out.status,
    engine: r.engine,
    provider: r.provider,
    metrics: { ...trainingMetrics(r), ...o.extra(r) },
    ...(r.pack ? { pack: r.pack } : {}),
  };
}
