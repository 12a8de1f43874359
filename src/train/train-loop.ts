import type { OptimConfig } from "../config/generated/training.ts";
import { trainBatches } from "../data/batches.ts";
import type { Dataset } from "../data/types.ts";
import type { Trainer } from "../engine/types.ts";
import { renameSync } from "node:fs";
import { CheckpointError, checkpointExists, checkResumeRng, loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import { evaluate } from "../metrics/evaluate.ts";
import { epochSteps } from "./epoch-steps.ts";
import { learningRate } from "./schedule.ts";

export interface EpochRecord {
  epoch: number;
  lr: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss?: number;
  testAccuracy?: number;
  seconds: number;
}

export type TrainOutcome =
  | { status: "done"; epochs: EpochRecord[]; resumedFrom: number }
  /** divergedAt: the 1-based epoch and step of the epoch whose loss was not finite, and that loss. */
  | { status: "diverged"; epochs: EpochRecord[]; resumedFrom: number; divergedAt: { epoch: number; step: number; loss: number } };

export interface TrainLoopOptions {
  trainer: Trainer;
  data: Dataset;
  optim: OptimConfig;
  augment: { cropPadding: number; flip: boolean };
  seed: number;
  /** The named data stream of the seed (checkpoint.ts DataRng); absent: the default stream. */
  stream?: string;
  /** Evaluate on the test split after these epochs (1-based); default: every epoch. */
  evalAt?: (epoch: number) => boolean;
  /** Resume from / save to this file after every epoch. */
  checkpointPath?: string;
  /** Called after each epoch, after the checkpoint is written (e.g. to save epoch snapshots). */
  onEpoch?: (rec: EpochRecord, trainer: Trainer) => void | Promise<void>;
  onStep?: (p: { epoch: number; step: number; stepsPerEpoch: number; loss: number }) => void;
  /** Stops after this many epochs in this call (tests simulate a kill); the run stays resumable. */
  stopAfterEpochs?: number;
  meta?: Record<string, unknown>;
  log?: (line: string) => void;
}

/**
 * The checkpoint to resume from, if one is there and intact. A damaged one (a crash
 * while the disk filled, a flipped bit) is set aside as `<path>.corrupt` and the run
 * starts over from its initial state: retrying would meet the same damage every time.
 */
export function resumePoint(path: string, log?: (line: string) => void): ReturnType<typeof loadCheckpoint> | null {
  if (!checkpointExists(path)) return null;
  try {
    return loadCheckpoint(path);
  } catch (e) {
    if (!(e instanceof CheckpointError)) throw e;
    renameSync(path, `${path}.corrupt`);
    (log ?? ((l: string) => process.stderr.write(`${l}\n`)))(
      `notice: resume checkpoint ${path} is damaged (${e.message.split("\n")[0]}); kept as ${path}.corrupt, training starts over`,
    );
    return null;
  }
}

/**
 * SGD over the training split for optim.epochs. A non-finite loss stops the run and
 * returns status "diverged" with the epoch and step, never an exception.
 */
export async function trainLoop(o: TrainLoopOptions): Promise<TrainOutcome> {
  const { trainer, data, optim } = o;
  let start = 0;
  const history: EpochRecord[] = [];
  const ck = o.checkpointPath ? resumePoint(o.checkpointPath, o.log) : null;
  if (ck && o.checkpointPath) {
    checkResumeRng(o.checkpointPath, ck.rng, { seed: o.seed, stream: o.stream });
    trainer.state = ck.state;
    for (const [k, m] of Object.entries(ck.masks)) trainer.masks[k] = m;
    start = ck.epoch;
    history.push(...((ck.meta.history as EpochRecord[] | undefined) ?? []));
  }
  const resumedFrom = start;
  const stopAt = o.stopAfterEpochs === undefined ? optim.epochs : Math.min(optim.epochs, start + o.stopAfterEpochs);
  for (let epoch = start; epoch < stopAt; epoch++) {
    const t0 = performance.now();
    const lr = learningRate(optim.schedule, optim.lr, epoch, optim.epochs);
    const loader = trainBatches(data, { batchSize: optim.batchSize, seed: o.seed, stream: o.stream, epoch, augment: o.augment, dropLast: false });
    const stepsPerEpoch = Math.ceil(data.train.count / optim.batchSize);
    let lossSum = 0,
      correct = 0,
      seen = 0,
      step = 0;
    const sgd = { lr, samRho: optim.samRho, momentum: optim.momentum, weightDecay: optim.weightDecay };
    for await (const r of epochSteps(trainer, data, loader, sgd)) {
      if (!Number.isFinite(r.loss)) {
        return { status: "diverged", epochs: history, resumedFrom, divergedAt: { epoch: epoch + 1, step: step + 1, loss: r.loss } };
      }
      lossSum += r.loss * r.size;
      correct += r.correct;
      seen += r.size;
      step++;
      o.onStep?.({ epoch: epoch + 1, step, stepsPerEpoch, loss: r.loss });
    }
    const rec: EpochRecord = { epoch: epoch + 1, lr, trainLoss: lossSum / seen, trainAccuracy: correct / seen, seconds: 0 };
    if (o.evalAt?.(epoch + 1) ?? true) {
      const ev = await evaluate(trainer, data, data.test, Math.max(optim.batchSize, 256));
      rec.testLoss = ev.loss;
      rec.testAccuracy = ev.accuracy;
    }
    rec.seconds = (performance.now() - t0) / 1000;
    history.push(rec);
    if (o.checkpointPath) {
      saveCheckpoint(o.checkpointPath, {
        epoch: epoch + 1,
        state: trainer.state,
        masks: trainer.masks,
        rng: { seed: o.seed, stream: o.stream },
        meta: { ...o.meta, history },
      });
    }
    await o.onEpoch?.(rec, trainer);
  }
  return { status: "done", epochs: history, resumedFrom };
}
