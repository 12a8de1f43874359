import type { BipConfig } from "../config/generated/bip-bench.ts";
import { BatchLoader } from "../data/batches.ts";
import type { Dataset } from "../data/types.ts";
import type { Tensors, Trainer } from "../engine/types.ts";
import { bipMaskGradient, bipThetaGradient, filterMasksFromScores, filterNorms, filterScoreGradient, masksFromScores, updateScores, type BipVariant } from "../prune/bip.ts";
import { evaluate } from "./evaluate.ts";
import { learningRate } from "./schedule.ts";
import { sgdUpdate } from "./sgd.ts";
import type { EpochRecord, TrainOutcome } from "./train-loop.ts";

/** Bumped whenever the loop's semantics change; part of every BiP unit's id (schemas/bip-unit.schema.json). */
export const BIP_REVISION = 2;

/**
 * BiP's alternating optimisation (Zhang et al. 2022, Algorithm A1) on the harness's
 * engine. Scores start as the pretrained weights' magnitudes; each iteration takes one
 * theta-step (lower level: SGD with momentum, cosine-decayed alpha, regularised by
 * weight decay or, with thetaL2 = "gamma", by gamma/2 ||theta||^2 on the pruned layers)
 * on one mini-batch, then one mask-step (upper level:
 * straight-through score update with the implicit-gradient term and momentum, beta
 * decayed x0.1 at 75% and x0.01 at 90%) on another, and re-takes the global top-k of
 * the scores. Revision 2 (after reading OPTML-Group/BiP): two passes per epoch from
 * independent shuffles by default, score momentum, sign(s) in the straight-through step.
 */
export async function bipLoop(o: { trainer: Trainer; data: Dataset; layers: string[]; density: number; cfg: BipConfig; augment: { cropPadding: number; flip: boolean }; seed: number; onStep?: (done: number, total: number) => void }): Promise<TrainOutcome & { masks: Tensors }> {
  const { trainer, data, cfg, layers } = o;
  const variant: BipVariant = cfg.variant === "paper" ? { kind: "paper", gamma: cfg.gamma } : { kind: "code", lr2: cfg.codeLr2 };
  // Filter-wise BiP keeps one score per output filter, per layer.
  const filters = Object.fromEntries(layers.map((l) => [l, trainer.spec.params.find((p) => p.name === l)!.shape[0]!]));
  const shapes = Object.fromEntries(layers.map((l) => [l, trainer.spec.params.find((p) => p.name === l)!.shape]));
  const structured = cfg.structure === "filter";
  const toMasks = (s: Tensors) => (structured ? filterMasksFromScores(s, shapes, o.density) : masksFromScores(s, layers, o.density));
  let scores: Tensors = Object.fromEntries(layers.map((l) => [l, structured ? filterNorms(trainer.state.params[l]!, filters[l]!) : trainer.state.params[l]!.map(Math.abs)]));
  let masks = toMasks(scores);
  const setMasks = () => layers.forEach((l) => (trainer.masks[l] = masks[l]!));
  setMasks();
  const pruned = new Set(layers);
  const epochs: EpochRecord[] = [];
  const twoPasses = cfg.iterations === "two-passes";
  const steps = Math.floor(data.train.count / cfg.batchSize / (twoPasses ? 1 : 2));
  let velocity: Tensors = {};
  for (let epoch = 0; epoch < cfg.epochs; epoch++) {
    const t0 = performance.now();
    const thetaLr = learningRate({ kind: "cosine", milestones: [], gamma: 1, minLr: 0 }, cfg.thetaLr, epoch, cfg.epochs);
    const maskLr = cfg.maskLr * (epoch >= 0.9 * cfg.epochs ? 0.01 : epoch >= 0.75 * cfg.epochs ? 0.1 : 1);
    // two-passes: theta-steps walk one shuffle, mask-steps an independent one; one-pass: alternate batches of one shuffle.
    const loaderFor = (stream?: string) => new BatchLoader(data.train, { batchSize: cfg.batchSize, shuffle: true, seed: o.seed, epoch, augment: o.augment, mean: data.mean, std: data.std, height: data.height, width: data.width, dropLast: true, ...(stream ? { stream } : {}) })[Symbol.iterator]();
    const it = loaderFor();
    const maskIt = twoPasses ? loaderFor("bip-mask") : it;
    let lossSum = 0, correct = 0, seen = 0;
    for (let s = 0; s < steps; s++) {
      const bTheta = it.next().value!, bMask = maskIt.next().value!;
      const g = await trainer.gradients(bTheta);
      if (!Number.isFinite(g.loss)) return { status: "diverged", epochs, resumedFrom: 0, divergedAt: { epoch: epoch + 1, step: s, loss: g.loss }, masks };
      const grads: Tensors = {};
      for (const [name, gz] of Object.entries(g.grads)) {
        const theta = trainer.state.params[name]!;
        grads[name] =
          pruned.has(name) && cfg.thetaL2 === "gamma"
            ? bipThetaGradient(gz, theta, masks[name], cfg.gamma)
            : bipThetaGradient(gz, theta, pruned.has(name) ? masks[name] : undefined, cfg.weightDecay);
      }
      const next = sgdUpdate(trainer.state, grads, {}, { lr: thetaLr, momentum: cfg.momentum, weightDecay: 0 });
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
      ({ scores, velocity } = updateScores(scores, maskGrads, maskLr, cfg.maskMomentum, velocity));
      masks = toMasks(scores);
      setMasks();
      o.onStep?.(epoch * steps + s + 1, cfg.epochs * steps);
    }
    const rec: EpochRecord = { epoch: epoch + 1, lr: thetaLr, trainLoss: lossSum / seen, trainAccuracy: correct / seen, seconds: 0 };
    if (epoch === cfg.epochs - 1) {
      // The subnetwork BiP found: masked weights exactly zero.
      trainer.state = { ...trainer.state, params: Object.fromEntries(Object.entries(trainer.state.params).map(([k, v]) => [k, masks[k] ? v.map((x, i) => x * masks[k]![i]!) : v])) };
      const ev = await evaluate(trainer, data, data.test, 500);
      rec.testLoss = ev.loss;
      rec.testAccuracy = ev.accuracy;
    }
    rec.seconds = (performance.now() - t0) / 1000;
    epochs.push(rec);
  }
  return { status: "done", epochs, resumedFrom: 0, masks };
}
