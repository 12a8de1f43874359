import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { BipBenchConfig } from "../../src/config/generated/bip-bench.ts";
import type { BipConfig } from "../../src/config/generated/bip.ts";
import { validateConfig } from "../../src/config/load.ts";
import type { BatchPlan } from "../../src/data/batches.ts";
import { trainBatches } from "../../src/data/batches.ts";
import { makeSynthetic } from "../../src/data/synthetic.ts";
import { OnnxTrainer } from "../../src/engine/onnx/onnx-trainer.ts";
import { freshState } from "../../src/engine/state.ts";
import type { Batch, BipSetup, BipStepsRequest, GradientResult, Tensors, Trainer } from "../../src/engine/types.ts";
import { buildModel } from "../../src/models/registry.ts";
import { bipScoredLayers, filterKeepCount } from "../../src/prune/bip.ts";
import { keepCount } from "../../src/prune/magnitude.ts";
import { bipLoop, bipStepRates } from "../../src/train/bip-loop.ts";
import { residentSlots, withCapability } from "../helpers/host-resident.ts";
import { optim } from "../helpers/tiny-models.ts";

setDefaultTimeout(60_000);

/**
 * What bipLoop (src/train/bip-loop.ts) asks of its engine, iteration by iteration: which
 * batches the theta- and mask-steps take, at which learning rates, how the epoch's record
 * and the progress count them, and what a divergence records. On the host path a
 * recording wrapper around the ONNX trainer sees each gradient request; on the resident
 * path a scripted engine sees each request. (bip-loop.test.ts checks the arithmetic of
 * an iteration; test/engine/torch-resident.test.ts the torch engine's own iterations.)
 */
// 48 images in batches of 8: 6 batches, so 6 iterations with two passes and 3 with one.
const data = makeSynthetic({ count: 48, testCount: 12, channels: 2, size: 8, numClasses: 3, seed: 2 });
const spec = buildModel("resnet20a", { width: 4, inputShape: [2, 8, 8], numClasses: 3 });
const augment = { cropPadding: 1, flip: true };
const SEED = 4;

const bipConfig = (over: Partial<BipConfig> = {}): BipConfig => ({ ...validateConfig<BipBenchConfig>("bip-bench", {}).bip, epochs: 2, batchSize: 8, ...over });

const loader = (epoch: number, stream?: string) => trainBatches(data, { batchSize: 8, seed: SEED, epoch, augment, dropLast: true, stream });
const sameX = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => v === b[i]);

/** The ONNX trainer with every gradients() call recorded: its batch, its loss, and the masks the forward used. */
async function recording(cfg: BipConfig, lossAt?: (call: number, real: number) => number) {
  const layers = bipScoredLayers(spec, cfg);
  const t = await OnnxTrainer.create({ spec, ...optim, threads: 1, maskedParams: layers }, freshState(spec, 3));
  const calls: { batch: Batch; loss: number; correct: number; masks: Tensors }[] = [];
  const gradients = t.gradients.bind(t);
  t.gradients = async (batch): Promise<GradientResult> => {
    const g = await gradients(batch);
    const loss = lossAt ? lossAt(calls.length, g.loss) : g.loss;
    calls.push({ batch, loss, correct: g.correct, masks: Object.fromEntries(layers.map((l) => [l, t.masks[l]!.slice()])) });
    return { ...g, loss };
  };
  return { t, layers, calls };
}

describe("bipLoop on the host", () => {
  for (const iterations of ["two-passes", "one-pass"] as const) {
    test(`${iterations}: theta- and mask-steps take the batches the setting names; records and progress count the theta-steps`, async () => {
      const cfg = bipConfig({ iterations, maskLr: 5 });
      const { t, layers, calls } = await recording(cfg);
      const progress: [number, number][] = [];
      const out = await bipLoop({ trainer: t, data, layers, density: 0.3, cfg, augment, seed: SEED, onStep: (d, n) => progress.push([d, n]) });
      expect(out.status).toBe("done");
      const steps = iterations === "two-passes" ? 6 : 3;
      // Two gradient requests per iteration (theta, then mask), then none: evaluation and BN use other calls.
      expect(calls).toHaveLength(2 * 2 * steps);
      expect(progress).toEqual(Array.from({ length: 2 * steps }, (_, i) => [i + 1, 2 * steps]));
      for (let epoch = 0; epoch < 2; epoch++) {
        const theta = loader(epoch),
          mask = iterations === "two-passes" ? loader(epoch, "bip-mask") : theta;
        let lossSum = 0,
          correct = 0,
          seen = 0;
        for (let s = 0; s < steps; s++) {
          const [a, b] = [calls[2 * (epoch * steps + s)]!, calls[2 * (epoch * steps + s) + 1]!];
          expect(sameX(a.batch.x, theta.batch(iterations === "two-passes" ? s : 2 * s).x)).toBe(true);
          expect(sameX(b.batch.x, mask.batch(iterations === "two-passes" ? s : 2 * s + 1).x)).toBe(true);
          lossSum += a.loss * a.batch.size;
          correct += a.correct;
          seen += a.batch.size;
        }
        const rec = out.epochs[epoch]!;
        expect(rec.epoch).toBe(epoch + 1);
        expect(rec.trainLoss).toBeCloseTo(lossSum / seen, 6);
        expect(rec.trainAccuracy).toBeCloseTo(correct / seen, 12);
        expect(rec.lr).toBe(bipStepRates(cfg, epoch * steps, 2 * steps).thetaLr);
        expect(rec.seconds).toBeGreaterThanOrEqual(0);
        expect(rec.seconds).toBeLessThan(60);
      }
      // The forward follows the scores: the masks it used changed during the run, and it ends on the final ones.
      expect(calls.some((c) => layers.some((l) => !sameX(c.masks[l]!, calls[0]!.masks[l]!)))).toBe(true);
      for (const l of layers) expect(sameX(t.masks[l]!, out.masks[l]!)).toBe(true);
      await t.dispose();
    });
  }

  test("a theta-step with a non-finite loss ends the run as diverged at its 1-based iteration, with the scores and masks so far", async () => {
    const cfg = bipConfig();
    // Calls 0-1: iteration 1 (theta, mask); call 2: iteration 2's theta-step.
    const { t, layers, calls } = await recording(cfg, (call, real) => (call === 2 ? Number.NaN : real));
    const out = await bipLoop({ trainer: t, data, layers, density: 0.3, cfg, augment, seed: SEED });
    expect(out.status).toBe("diverged");
    if (out.status === "diverged") {
      expect(out.divergedAt.epoch).toBe(1);
      expect(out.divergedAt.step).toBe(2);
      expect(Number.isNaN(out.divergedAt.loss)).toBe(true);
    }
    expect(calls).toHaveLength(3);
    expect(out.epochs).toEqual([]);
    expect(Object.keys(out.scores)).toEqual(layers);
    await t.dispose();
  });
});

/**
 * An engine that runs BiP iterations itself, scripted: it records each request, sets the
 * trainer's masks to a pattern of its own after each (as an engine deriving them from its
 * scores does), and returns the losses it is told to.
 */
async function scriptedResident(cfg: BipConfig, stepsPerRequest: number, losses: (request: number, i: number) => number) {
  const layers = bipScoredLayers(spec, cfg);
  const t = await OnnxTrainer.create({ spec, ...optim, threads: 1, maskedParams: layers }, freshState(spec, 3));
  const start = Object.fromEntries(layers.map((l) => [l, t.state.params[l]!.slice()]));
  const slots = residentSlots((x, size) => t.predict(x, size));
  const rec = {
    setups: [] as BipSetup[],
    requests: [] as BipStepsRequest[],
    get loads() {
      return slots.loaded.map((l) => [l.slot, l.split.cropPadding] as const);
    },
  };
  const engineScores = Object.fromEntries(layers.map((l, k) => [l, new Float32Array(t.masks[l]!.length).fill(k + 1)]));
  const resident = {
    stepsPerRequest,
    loadSplit: slots.loadSplit,
    predictSplit: slots.predictSplit,
    bipStart: (s: BipSetup) => void rec.setups.push(s),
    bipSteps: async (r: BipStepsRequest) => {
      const n = rec.requests.push(r) - 1;
      // Request n keeps every (n + 2)-th weight of each layer.
      for (const l of layers) t.masks[l] = t.masks[l]!.map((_, i) => (i % (n + 2) === 0 ? 1 : 0));
      const out = r.thetaPlans.map((_, i) => losses(n, i));
      const stop = out.findIndex((x) => !Number.isFinite(x));
      const done = stop < 0 ? out : out.slice(0, stop + 1);
      return { losses: Float32Array.from(done), correct: Float32Array.from(done.map((_, i) => i + 1)) };
    },
    bipScores: () => engineScores,
  };
  const trainer: Trainer = withCapability(t, resident, {});
  return { trainer, t, layers, rec, start, engineScores };
}

describe("bipLoop on an engine that holds the data", () => {
  test("two passes, 4 iterations per request: each request carries the iterations' theta and mask plans and rates; records count the engine's losses", async () => {
    const cfg = bipConfig({ iterations: "two-passes" });
    const e = await scriptedResident(cfg, 4, (n, i) => 1 + n + i / 10);
    const progress: number[] = [];
    const out = await bipLoop({
      trainer: e.trainer,
      data,
      layers: e.layers,
      density: 0.3,
      cfg,
      augment,
      seed: SEED,
      onStep: (d, n) => (progress.push(d), expect(n).toBe(12)),
    });
    expect(out.status).toBe("done");
    expect(e.rec.loads[0]).toEqual(["train", 1]);
    // The setup: the weights' magnitudes as scores, one global keep count over conv and fc, the config's hyper-parameters.
    const setup = e.rec.setups[0]!;
    expect(e.rec.setups).toHaveLength(1);
    expect(setup.layers).toEqual(e.layers);
    expect(setup.structured).toBe(false);
    for (const l of e.layers) expect(sameX(setup.scores[l]!, e.start[l]!.map(Math.abs))).toBe(true);
    expect(setup.keep).toBe(
      keepCount(
        e.layers.reduce((n, l) => n + e.start[l]!.length, 0),
        0.3,
      ),
    );
    expect(setup.hyper).toEqual({
      variant: { kind: "paper", gamma: cfg.gamma },
      thetaL2: cfg.thetaL2,
      gamma: cfg.gamma,
      weightDecay: cfg.weightDecay,
      momentum: cfg.momentum,
      maskMomentum: cfg.maskMomentum,
      scoreWeightDecay: cfg.scoreWeightDecay,
    });
    // Per epoch, iterations 0-3 then 4-5.
    expect(e.rec.requests.map((r) => r.thetaPlans.map((p) => p.index))).toEqual([
      [0, 1, 2, 3],
      [4, 5],
      [0, 1, 2, 3],
      [4, 5],
    ]);
    e.rec.requests.forEach((r, n) => {
      const epoch = n < 2 ? 0 : 1;
      const first = n % 2 === 0 ? 0 : 4;
      const indices = (p: BatchPlan) => [...p.indices];
      r.thetaPlans.forEach((p, i) => expect(indices(p)).toEqual(indices(loader(epoch).plan(first + i))));
      r.maskPlans.forEach((p, i) => expect(indices(p)).toEqual(indices(loader(epoch, "bip-mask").plan(first + i))));
      expect(r.thetaLrs).toEqual(r.thetaPlans.map((_, i) => bipStepRates(cfg, epoch * 6 + first + i, 12).thetaLr));
      expect(r.maskLrs).toEqual(r.thetaPlans.map((_, i) => bipStepRates(cfg, epoch * 6 + first + i, 12).maskLr));
      expect(r.slot).toBe("train");
    });
    expect(progress).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    // Epoch 1: losses 1.0-1.3 and 2.0-2.1 on batches of 8; correct 1-4 and 1-2.
    const l = (x: number) => Math.fround(x);
    expect(out.epochs[0]!.trainLoss).toBeCloseTo((l(1) + l(1.1) + l(1.2) + l(1.3) + l(2) + l(2.1)) / 6, 6);
    expect(out.epochs[0]!.trainAccuracy).toBeCloseTo((1 + 2 + 3 + 4 + 1 + 2) / 48, 12);
    // The engine's scores, and the masks it derived last (request 3: every 5th weight), masking the final weights.
    expect(out.scores).toBe(e.engineScores);
    for (const name of e.layers) {
      expect([...out.masks[name]!]).toEqual([...e.t.masks[name]!]);
      expect(out.masks[name]![1]).toBe(0);
      expect(out.masks[name]![5]).toBe(1);
      expect(Math.abs(e.t.state.params[name]![1]!)).toBe(0);
    }
    expect(out.epochs[1]!.testAccuracy).toBeGreaterThanOrEqual(0);
    await e.t.dispose();
  });

  test("one pass, filter-wise: theta-steps on even batches, mask-steps on odd ones of one shuffle; per-layer keep counts; the code variant", async () => {
    const cfg = bipConfig({ iterations: "one-pass", structure: "filter", variant: "code", codeLr2: 0.25 });
    // 3 iterations per request, exactly an epoch's: no empty request after them.
    const e = await scriptedResident(cfg, 3, () => 1);
    const out = await bipLoop({ trainer: e.trainer, data, layers: e.layers, density: 0.5, cfg, augment, seed: SEED });
    expect(out.status).toBe("done");
    const setup = e.rec.setups[0]!;
    expect(setup.structured).toBe(true);
    expect(setup.hyper.variant).toEqual({ kind: "code", lr2: 0.25 });
    const filters = (l: string) => spec.params.find((p) => p.name === l)!.shape[0]!;
    expect(setup.keep).toEqual(Object.fromEntries(e.layers.map((l) => [l, filterKeepCount(filters(l), 0.5)])));
    for (const l of e.layers) expect(setup.scores[l]!.length).toBe(filters(l));
    // 3 iterations an epoch, all in one request.
    expect(e.rec.requests.map((r) => r.thetaPlans.map((p) => p.index))).toEqual([
      [0, 2, 4],
      [0, 2, 4],
    ]);
    expect(e.rec.requests.map((r) => r.maskPlans.map((p) => p.index))).toEqual([
      [1, 3, 5],
      [1, 3, 5],
    ]);
    const indices = (p: BatchPlan) => [...p.indices];
    e.rec.requests[1]!.maskPlans.forEach((p, i) => expect(indices(p)).toEqual(indices(loader(1).plan(2 * i + 1))));
  });

  test("a non-finite loss inside a request ends the run as diverged at that 1-based iteration, with the engine's masks and scores", async () => {
    const cfg = bipConfig({ iterations: "two-passes" });
    // Request 1 (iterations 4 and 5 of epoch 1): iteration 5 (0-based 4) is not finite.
    const e = await scriptedResident(cfg, 4, (n, i) => (n === 1 && i === 0 ? Infinity : 0.5));
    const out = await bipLoop({ trainer: e.trainer, data, layers: e.layers, density: 0.3, cfg, augment, seed: SEED });
    expect(out.status).toBe("diverged");
    if (out.status === "diverged") expect(out.divergedAt).toEqual({ epoch: 1, step: 5, loss: Infinity });
    expect(e.rec.requests).toHaveLength(2);
    expect(out.scores).toBe(e.engineScores);
    for (const l of e.layers) expect([...out.masks[l]!]).toEqual([...e.t.masks[l]!]);
    expect(out.epochs).toEqual([]);
    await e.t.dispose();
  });
});
