import type { BatchLoader } from "../data/batches.ts";
import type { Dataset } from "../data/types.ts";
import { residentSplit } from "../engine/resident.ts";
import type { Trainer } from "../engine/types.ts";
import { samStep } from "./sam.ts";

/** One training step's outcome, as the loop accounts for it. */
export interface StepOutcome {
  size: number;
  loss: number;
  correct: number;
}

export interface SgdSettings {
  lr: number;
  /** > 0: a SAM step with this rho (src/train/sam.ts). */
  samRho: number;
  momentum: number;
  weightDecay: number;
}

/**
 * The steps of one epoch from batch `from` on. An engine that holds the data
 * (Trainer.resident) gets the split once and then `stepsPerRequest` batch plans per
 * request; the others get batches built here, one step per call. Both see the same
 * pixels (BatchLoader.plan), so both train the same model; outcomes arrive in step
 * order, and after a non-finite loss no more are yielded.
 */
export async function* epochSteps(trainer: Trainer, data: Dataset, loader: BatchLoader, sgd: SgdSettings, from = 0): AsyncGenerator<StepOutcome> {
  const sam = sgd.samRho > 0 ? { rho: sgd.samRho, momentum: sgd.momentum, weightDecay: sgd.weightDecay } : undefined;
  const resident = trainer.resident;
  if (!resident) {
    for (const batch of loader.from(from)) {
      const r = sam ? await samStep(trainer, batch, sgd.lr, sam.rho, sam) : await trainer.trainStep(batch, sgd.lr);
      yield { size: batch.size, loss: r.loss, correct: r.correct };
      if (!Number.isFinite(r.loss)) return;
    }
    return;
  }
  resident.loadSplit("train", residentSplit(data, data.train, loader.cropPadding));
  const per = Math.max(1, resident.stepsPerRequest);
  for (let b = from; b < loader.numBatches; b += per) {
    const plans = Array.from({ length: Math.min(per, loader.numBatches - b) }, (_, i) => loader.plan(b + i));
    const r = await resident.trainSteps({ slot: "train", plans, lr: sgd.lr, ...(sam ? { sam } : {}) });
    for (let i = 0; i < r.losses.length; i++) {
      yield { size: plans[i]!.size, loss: r.losses[i]!, correct: r.correct[i]! };
      if (!Number.isFinite(r.losses[i]!)) return;
    }
  }
}
