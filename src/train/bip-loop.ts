import type { BipConfig } from "../config/generated/bip.ts";
import type { Schedule } from "../config/generated/training.ts";
import { subStream, trainBatches } from "../data/batches.ts";
import type { Dataset } from "../data/types.ts";
import type { Batch, Tensors, Trainer } from "../engine/types.ts";
import { reestimateBatchNorm } from "../metrics/bn-reestimate.ts";
import {
  bipMaskGradient,
  bipThetaGradient,
  filterMasksFromScores,
  filterKeepCount,
  filterNorms,
  filterScoreGradient,
  maskLrFactor,
  masksFromScores,
  updateScores,
  type BipVariant,
} from "../prune/bip.ts";
import { evaluate, type EvalResult } from "../metrics/evaluate.ts";
import { learningRate } from "./schedule.ts";
import { residentSplit } from "../engine/resident.ts";
import { keepCount } from "../prune/magnitude.ts";
import { sgdUpdate } from "../engine/sgd.ts";
import type { EpochRecord, TrainOutcome } from "./train-loop.ts";

/** Bumped whenever the loop's semantics change; part of every BiP unit's id (schemas/bip-unit.schema.json). */
export const BIP_REVISION = 4;

/** Batch size of test evaluation: memory only, no effect on results. */
const EVAL_BATCH = 500;

/** The theta learning rate's cosine annealing to zero, evaluated per iteration (see bipLoop). */
const THETA_COSINE: Schedule = { kind: "cosine", milestones: [], gamma: 1, minLr: 0 };

/** Learning rates of one BiP iteration, reported to onStep. */
export interface BipStepRates {
  thetaLr: number;
  maskLr: number;
}

export type BipOutcome = TrainOutcome & {
  masks: Tensors;
  /** The scores the final masks are the top-k of (per weight, or per filter when structured). */
  scores: Tensors;
  /** Test accuracy and loss of the final subnetwork with BN's running statistics as the loop left them (absent when diverged). */
  runningBn?: EvalResult;
  /** Training images BN was re-estimated on before the headline evaluation (absent when diverged). */
  bnImages?: number;
};

/**
 * Learning rates at iteration `step` (0-based) of `total`: both follow the fraction of
 * iterations done, not the epoch, so a run of any length (5 epochs as well as 100) goes
 * through the whole cosine and reaches every mask phase.
 */
export function bipStepRates(cfg: Pick<BipConfig, "thetaLr" | "maskLr" | "maskLrMilestones" | "maskLrDecay">, step: number, total: number): BipStepRates {
  return {
    thetaLr: learningRate(THETA_COSINE, cfg.thetaLr, step, total),
    maskLr: cfg.maskLr * maskLrFactor(step / total, cfg.maskLrMilestones, cfg.maskLrDecay),
  };
}

/**
 * Training batches for BN re-estimation: the first `images` of a seeded shuffle of the
 * training split ("all": every image), on streams of their own so the subset is a random
 * sample, not the head of a possibly class-ordered file. Batches have the training batch
 * size and the training augmentation, so the averaged statistics are those training-mode
 * BN would compute under the final mask, the distribution the weights were trained with
 * (and the one IMP's and OMP's running statistics come from): unaugmented statistics
 * shifted the accuracy of unstructured BiP by -0.2 to -0.5 points in the quick preset.
 */
export function bnReestimationBatches(
  data: Dataset,
  images: BipConfig["bnReestimateImages"],
  batchSize: number,
  seed: number,
  augment?: { cropPadding: number; flip: boolean },
  stream?: string,
): { count: number; batches: Generator<Batch> } {
  const count = images === "all" ? data.train.count : Math.min(images, data.train.count);
  const loader = trainBatches(data, { batchSize, seed, epoch: 0, stream: subStream(stream, "bip-bn-reestimate"), augment, dropLast: false });
  function* batches(): Generator<Batch> {
    let left = count;
    for (const b of loader) {
      if (left <= 0) return;
      const size = Math.min(b.size, left);
      yield { x: b.x, y: b.y.subarray(0, size), size };
      left -= size;
    }
  }
  return { count, batches: batches() };
}

/**
 * BiP's alternating optimisation (Zhang et al. 2022, Algorithm A1) on the harness's
 * engine. Scores start as the pretrained weights' magnitudes; each iteration takes one
 * theta-step (lower level: SGD with momentum, cosine-decayed alpha, regularised by
 * weight decay or, with thetaL2 = "gamma", by gamma/2 ||theta||^2 on the pruned layers)
 * on one mini-batch, then one mask-step (upper level: straight-through score update
 * with the implicit-gradient term, momentum and weight decay, beta decayed at fractions
 * of the run) on another, and re-takes the top-k of the scores.
 * Revision 2 (after reading OPTML-Group/BiP): two passes per epoch from independent
 * shuffles by default, score momentum, sign(s) in the straight-through step.
 * Revision 3: learning rates follow iterations, not epochs (a 5-epoch run used to skip
 * the x0.01 mask phase); score weight decay; the fc joins unstructured top-k (the
 * caller's `layers`); BN statistics are re-estimated under the final mask before the
 * headline test accuracy, since the running ones mix the masks of the last iterations
 * (the accuracy with those is returned too).
 * Revision 4: that re-estimation uses the training augmentation (see bnReestimationBatches).
 */
export async function bipLoop(o: {
  trainer: Trainer;
  data: Dataset;
  layers: string[];
  density: number;
  cfg: BipConfig;
  augment: { cropPadding: number; flip: boolean };
  seed: number;
  /** The run's data stream (TrainingConfig.stream); its phases draw named streams within it. */
  stream?: string;
  onStep?: (done: number, total: number, rates: BipStepRates) => void;
  /** After every epoch, with its record (the last one after BN re-estimation and evaluation). */
  onEpoch?: (rec: EpochRecord) => void;
}): Promise<BipOutcome> {
  const { trainer, data, cfg, layers } = o;
  const variant: BipVariant = cfg.variant === "paper" ? { kind: "paper", gamma: cfg.gamma } : { kind: "code", lr2: cfg.codeLr2 };
  // Filter-wise BiP keeps one score per output filter, per layer.
  const filters = Object.fromEntries(layers.map((l) => [l, trainer.spec.params.find((p) => p.name === l)!.shape[0]!]));
  const shapes = Object.fromEntries(layers.map((l) => [l, trainer.spec.params.find((p) => p.name === l)!.shape]));
  const structured = cfg.structure === "filter";
  const toMasks = (s: Tensors) => (structured ? filterMasksFromScores(s, shapes, o.density) : masksFromScores(s, layers, o.density));
  let scores: Tensors = Object.fromEntries(
    layers.map((l) => [l, structured ? filterNorms(trainer.state.params[l]!, filters[l]!) : trainer.state.params[l]!.map(Math.abs)]),
  );
  let masks = toMasks(scores);
  const setMasks = () => layers.forEach((l) => (trainer.masks[l] = masks[l]!));
  setMasks();
  const pruned = new Set(layers);
  const epochs: EpochRecord[] = [];
  const twoPasses = cfg.iterations === "two-passes";
  const steps = Math.floor(data.train.count / cfg.batchSize / (twoPasses ? 1 : 2));
  const total = cfg.epochs * steps;
  let velocity: Tensors = {};
  let runningBn: EvalResult | undefined, bnImages: number | undefined;
  // An engine that holds the data runs the iterations itself, scores on its device: same arithmetic, no state round trips.
  const resident = trainer.resident?.bipSteps ? trainer.resident : undefined;
  // The masks the engine derived from its scores (trainer.masks follows them after each request).
  const engineMasks = () => Object.fromEntries(layers.map((l) => [l, trainer.masks[l]!]));
  if (resident) {
    resident.loadSplit("train", residentSplit(data, data.train, o.augment.cropPadding));
    const keep = structured
      ? Object.fromEntries(layers.map((l) => [l, filterKeepCount(filters[l]!, o.density)]))
      : keepCount(
          layers.reduce((a, l) => a + trainer.masks[l]!.length, 0),
          o.density,
        );
    resident.bipStart!({
      layers,
      scores,
      structured,
      keep,
      hyper: {
        variant,
        thetaL2: cfg.thetaL2,
        gamma: cfg.gamma,
        weightDecay: cfg.weightDecay,
        momentum: cfg.momentum,
        maskMomentum: cfg.maskMomentum,
        scoreWeightDecay: cfg.scoreWeightDecay,
      },
    });
    masks = engineMasks();
  }
  for (let epoch = 0; epoch < cfg.epochs; epoch++) {
    const t0 = performance.now();
    // two-passes: theta-steps walk one shuffle, mask-steps an independent one; one-pass: alternate batches of one shuffle.
    const loaderFor = (name?: string) =>
      trainBatches(data, { batchSize: cfg.batchSize, seed: o.seed, epoch, augment: o.augment, dropLast: true, stream: subStream(o.stream, name) });
    const thetaLoader = loaderFor();
    const maskLoader = twoPasses ? loaderFor("bip-mask") : thetaLoader;
    const it = thetaLoader[Symbol.iterator]();
    const maskIt = twoPasses ? maskLoader[Symbol.iterator]() : it;
    let lossSum = 0,
      correct = 0,
      seen = 0;
    const epochLr = bipStepRates(cfg, epoch * steps, total).thetaLr;
    for (let s0 = 0; resident && s0 < steps; s0 += resident.stepsPerRequest) {
      const idx = Array.from({ length: Math.min(resident.stepsPerRequest, steps - s0) }, (_, i) => s0 + i);
      const rates = idx.map((s) => bipStepRates(cfg, epoch * steps + s, total));
      const thetaPlans = idx.map((s) => thetaLoader.plan(twoPasses ? s : 2 * s));
      const r = await resident.bipSteps!({
        slot: "train",
        thetaPlans,
        maskPlans: idx.map((s) => maskLoader.plan(twoPasses ? s : 2 * s + 1)),
        thetaLrs: rates.map((x) => x.thetaLr),
        maskLrs: rates.map((x) => x.maskLr),
      });
      masks = engineMasks();
      for (let i = 0; i < r.losses.length; i++) {
        const loss = r.losses[i]!;
        if (!Number.isFinite(loss))
          return {
            status: "diverged",
            epochs,
            resumedFrom: 0,
            divergedAt: { epoch: epoch + 1, step: idx[i]! + 1, loss },
            masks,
            scores: resident.bipScores!(),
          };
        lossSum += loss * thetaPlans[i]!.size;
        correct += r.correct[i]!;
        seen += thetaPlans[i]!.size;
        o.onStep?.(epoch * steps + idx[i]! + 1, total, rates[i]!);
      }
    }
    for (let s = 0; !resident && s < steps; s++) {
      const step = epoch * steps + s;
      const rates = bipStepRates(cfg, step, total);
      const bTheta = it.next().value!,
        bMask = maskIt.next().value!;
      const g = await trainer.gradients(bTheta);
      if (!Number.isFinite(g.loss))
        return { status: "diverged", epochs, resumedFrom: 0, divergedAt: { epoch: epoch + 1, step: s + 1, loss: g.loss }, masks, scores };
      const grads: Tensors = {};
      for (const [name, gz] of Object.entries(g.grads)) {
        const theta = trainer.state.params[name]!;
        grads[name] =
          pruned.has(name) && cfg.thetaL2 === "gamma"
            ? bipThetaGradient(gz, theta, masks[name], cfg.gamma)
            : bipThetaGradient(gz, theta, pruned.has(name) ? masks[name] : undefined, cfg.weightDecay);
      }
      const next = sgdUpdate(trainer.state, grads, {}, { lr: rates.thetaLr, momentum: cfg.momentum, weightDecay: 0 });
      trainer.state = { ...next, buffers: g.buffers };
      lossSum += g.loss * bTheta.size;
      correct += g.correct;
      seen += bTheta.size;
      const gm = await trainer.gradients(bMask);
      const maskGrads: Tensors = {};
      for (const l of layers) {
        const g = bipMaskGradient(gm.grads[l]!, trainer.state.params[l]!, masks[l]!, variant);
        maskGrads[l] = structured ? filterScoreGradient(g, filters[l]!) : g;
      }
      ({ scores, velocity } = updateScores(scores, maskGrads, rates.maskLr, cfg.maskMomentum, velocity, cfg.scoreWeightDecay));
      masks = toMasks(scores);
      setMasks();
      o.onStep?.(step + 1, total, rates);
    }
    const rec: EpochRecord = { epoch: epoch + 1, lr: epochLr, trainLoss: lossSum / seen, trainAccuracy: correct / seen, seconds: 0 };
    if (epoch === cfg.epochs - 1) {
      // The subnetwork BiP found: masked weights exactly zero.
      trainer.state = {
        ...trainer.state,
        params: Object.fromEntries(Object.entries(trainer.state.params).map(([k, v]) => [k, masks[k] ? v.map((x, i) => x * masks[k]![i]!) : v])),
      };
      runningBn = await evaluate(trainer, data, data.test, EVAL_BATCH);
      // The running statistics average over the masks of the last iterations (a channel
      // switched on late has a shrunken variance, one switched off late a stale mean): the
      // final mask's own statistics are what the pruned model is evaluated and kept with.
      const bn = bnReestimationBatches(data, cfg.bnReestimateImages, cfg.batchSize, o.seed, o.augment, o.stream);
      await reestimateBatchNorm(trainer, bn.batches);
      bnImages = bn.count;
      const ev = await evaluate(trainer, data, data.test, EVAL_BATCH);
      rec.testLoss = ev.loss;
      rec.testAccuracy = ev.accuracy;
    }
    rec.seconds = (performance.now() - t0) / 1000;
    epochs.push(rec);
    o.onEpoch?.(rec);
  }
  if (resident) scores = resident.bipScores!();
  return { status: "done", epochs, resumedFrom: 0, masks, scores, ...(runningBn ? { runningBn } : {}), ...(bnImages !== undefined ? { bnImages } : {}) };
}
