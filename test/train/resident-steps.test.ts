import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { TrainingConfig } from "../../src/config/generated/training.ts";
import { validateConfig } from "../../src/config/load.ts";
import { trainBatches } from "../../src/data/batches.ts";
import { makeSynthetic } from "../../src/data/synthetic.ts";
import { createTrainer } from "../../src/engine/registry.ts";
import { freshState } from "../../src/engine/state.ts";
import { cloneState, type Batch, type StepResult, type Tensors, type Trainer } from "../../src/engine/types.ts";
import { buildModel } from "../../src/models/registry.ts";
import { epochSteps, type StepOutcome } from "../../src/train/epoch-steps.ts";
import { samStep } from "../../src/train/sam.ts";
import { trainLoop } from "../../src/train/train-loop.ts";
import { withHostResident } from "../helpers/host-resident.ts";
import { optim } from "../helpers/tiny-models.ts";

// Real (tiny) ONNX trainers: a few dozen steps of a width-4 model.
setDefaultTimeout(60_000);

/**
 * The two ways an epoch's steps reach an engine (src/train/epoch-steps.ts): batches built
 * here one step per call, or plans sent to an engine that holds the data, several steps
 * per request. The resident engine here is the ONNX trainer behind a host-side stand-in
 * (test/helpers/host-resident.ts) that builds each batch from its plan by the plan's
 * documented meaning, so the two paths must train the same model bit for bit.
 */
const data = makeSynthetic({ count: 37, testCount: 10, channels: 3, size: 8, numClasses: 4, seed: 9 });
const spec = buildModel("preresnet20", { width: 4, inputShape: [3, 8, 8], numClasses: 4 });
const augment = { cropPadding: 2, flip: true };
// 37 images in batches of 8: four full batches and a short one of 5.
const loader = () => trainBatches(data, { batchSize: 8, seed: 4, epoch: 1, augment, dropLast: false });
const plain = { lr: 0.05, samRho: 0, momentum: optim.sgd.momentum, weightDecay: optim.sgd.weightDecay };

const trainer = (seed = 2) => createTrainer({ engine: "onnx", provider: "cpu" }, { spec, ...optim, threads: 1 }, freshState(spec, seed));

async function collect(it: AsyncGenerator<StepOutcome>): Promise<StepOutcome[]> {
  const out: StepOutcome[] = [];
  for await (const s of it) out.push(s);
  return out;
}

const same = (a: Tensors, b: Tensors) => Object.keys(b).every((k) => Buffer.from(a[k]!.buffer).equals(Buffer.from(b[k]!.buffer)));

describe("epochSteps", () => {
  for (const per of [1, 3, 7]) {
    test(`an engine holding the data, ${per} step(s) per request, trains the model per-batch steps train, from batch 1 on`, async () => {
      const a = await trainer(),
        b = withHostResident(await trainer(), per);
      try {
        const want = await collect(epochSteps(a, data, loader(), plain, 1));
        const got = await collect(epochSteps(b, data, loader(), plain, 1));
        expect(want.map((s) => s.size)).toEqual([8, 8, 8, 5]);
        expect(got).toEqual(want);
        expect(same(b.state.params, a.state.params)).toBe(true);
        expect(same(b.state.momentum, a.state.momentum)).toBe(true);
        // Batches 1..4 in requests of `per`, in order, each at the epoch's learning rate.
        const groups = [1, 2, 3, 4].reduce<number[][]>((g, i) => ((g.at(-1)?.length ?? per) < per ? g.at(-1)!.push(i) : g.push([i]), g), []);
        expect(b.requests.map((r) => r.plans.map((p) => p.index))).toEqual(groups);
        expect(b.requests.every((r) => r.lr === plain.lr && r.slot === b.loads[0] && r.sam === undefined)).toBe(true);
      } finally {
        await a.dispose();
        await b.dispose();
      }
    });
  }

  test("an engine asking for 0 steps per request gets one", async () => {
    const b = withHostResident(await trainer(), 0);
    try {
      const got = await collect(epochSteps(b, data, loader(), plain));
      expect(got).toHaveLength(5);
      expect(b.requests.map((r) => r.plans.length)).toEqual([1, 1, 1, 1, 1]);
    } finally {
      await b.dispose();
    }
  });

  test("samRho > 0: each step is src/train/sam.ts's step, on either path, and not a plain SGD step", async () => {
    const sam = { ...plain, samRho: 0.05 };
    const a = await trainer(),
      b = withHostResident(await trainer(), 2),
      byHand = await trainer(),
      sgd = await trainer();
    try {
      const want: StepResult[] = [];
      for (const batch of loader()) want.push(await samStep(byHand, batch, sam.lr, sam.samRho, optim.sgd));
      const got = await collect(epochSteps(a, data, loader(), sam));
      expect(got.map((s) => [s.loss, s.correct])).toEqual(want.map((s) => [s.loss, s.correct]));
      expect(same(a.state.params, byHand.state.params)).toBe(true);
      const resident = await collect(epochSteps(b, data, loader(), sam));
      expect(resident).toEqual(got);
      expect(same(b.state.params, byHand.state.params)).toBe(true);
      expect(b.requests[0]!.sam).toEqual({ rho: 0.05, momentum: optim.sgd.momentum, weightDecay: optim.sgd.weightDecay });
      await collect(epochSteps(sgd, data, loader(), plain));
      expect(same(sgd.state.params, byHand.state.params)).toBe(false);
    } finally {
      for (const t of [a, b, byHand, sgd]) await t.dispose();
    }
  });

  test("no outcome after a non-finite loss: per-batch steps, and within a resident request", async () => {
    const losses = [0.7, 0.6, Number.NaN, 0.5, 0.4];
    let calls = 0;
    const scripted = {
      spec,
      trainStep: async (b: Batch) => ({ loss: losses[calls++]!, correct: b.size }),
    } as unknown as Trainer;
    const perBatch = await collect(epochSteps(scripted, data, loader(), plain));
    expect(perBatch.map((s) => s.loss)).toEqual([0.7, 0.6, Number.NaN]);
    expect(calls).toBe(3);

    const requests: number[] = [];
    const resident = {
      spec,
      resident: {
        stepsPerRequest: 2,
        loadSplit: () => {},
        // The engine stops a request at the first non-finite loss: [0.9, 0.8] then [Infinity].
        trainSteps: async (r: { plans: unknown[] }) => {
          requests.push(r.plans.length);
          return requests.length === 1
            ? { losses: Float32Array.of(0.9, 0.8), correct: Float32Array.of(3, 4) }
            : { losses: Float32Array.of(Infinity), correct: Float32Array.of(0) };
        },
      },
    } as unknown as Trainer;
    const got = await collect(epochSteps(resident, data, loader(), plain));
    expect(got.map((s) => [s.size, s.loss, s.correct])).toEqual([
      [8, Math.fround(0.9), 3],
      [8, Math.fround(0.8), 4],
      [8, Infinity, 0],
    ]);
    expect(requests).toEqual([2, 2]);
  });
});

describe("trainLoop's bookkeeping", () => {
  const optimCfg = (over: Partial<TrainingConfig["optim"]> = {}) => ({
    ...validateConfig<TrainingConfig>("training", {}).optim,
    epochs: 3,
    batchSize: 8,
    lr: 0.1,
    schedule: { kind: "step" as const, milestones: [], gamma: 1, minLr: 0 },
    ...over,
  });

  /** A trainer whose step i (over the run) has loss i + 1 and i % 3 correct; logits all zero. */
  function scripted() {
    let i = 0;
    const predicted: number[] = [];
    const t = {
      spec,
      masks: {},
      state: cloneState(freshState(spec, 1)),
      trainStep: async () => ({ loss: ++i, correct: (i - 1) % 3 }),
      predict: async (_x: Float32Array, size: number) => (predicted.push(size), new Float32Array(size * 4)),
    } as unknown as Trainer;
    return { t, predicted };
  }

  test("an epoch's loss and accuracy weigh each step by its images; onStep counts steps from 1; evaluation only where evalAt says", async () => {
    const { t, predicted } = scripted();
    const steps: { epoch: number; step: number; stepsPerEpoch: number; loss: number }[] = [];
    const out = await trainLoop({ trainer: t, data, optim: optimCfg(), augment, seed: 1, evalAt: (e) => e !== 2, onStep: (s) => steps.push(s) });
    expect(out.status).toBe("done");
    // Epoch 1: losses 1..5 on 8, 8, 8, 8, 5 images; correct 0, 1, 2, 0, 1.
    expect(out.epochs[0]!.trainLoss).toBeCloseTo((8 * (1 + 2 + 3 + 4) + 5 * 5) / 37, 12);
    expect(out.epochs[0]!.trainAccuracy).toBeCloseTo(4 / 37, 12);
    expect(out.epochs[1]!.trainLoss).toBeCloseTo((8 * (6 + 7 + 8 + 9) + 5 * 10) / 37, 12);
    expect(steps.slice(0, 6)).toEqual([
      { epoch: 1, step: 1, stepsPerEpoch: 5, loss: 1 },
      { epoch: 1, step: 2, stepsPerEpoch: 5, loss: 2 },
      { epoch: 1, step: 3, stepsPerEpoch: 5, loss: 3 },
      { epoch: 1, step: 4, stepsPerEpoch: 5, loss: 4 },
      { epoch: 1, step: 5, stepsPerEpoch: 5, loss: 5 },
      { epoch: 2, step: 1, stepsPerEpoch: 5, loss: 6 },
    ]);
    // Zero logits: every class equally likely, loss ln 4 on the 10 test images.
    expect(out.epochs.map((r) => r.testLoss)).toEqual([Math.log(4), undefined, Math.log(4)]);
    expect(out.epochs.map((r) => r.epoch)).toEqual([1, 2, 3]);
    // Evaluation batches hold at least 256 images (all 10 at once), whatever the training batch.
    expect(predicted).toEqual([10, 10]);
    for (const r of out.epochs) (expect(r.seconds).toBeGreaterThanOrEqual(0), expect(r.seconds).toBeLessThan(60));
  });

  test("a divergence is recorded at its epoch and its 1-based step, with the epochs before it", async () => {
    let i = 0;
    const t = {
      spec,
      masks: {},
      state: freshState(spec, 1),
      trainStep: async () => ({ loss: ++i === 8 ? Number.NaN : 1, correct: 0 }),
      predict: async (_x: Float32Array, size: number) => new Float32Array(size * 4),
    } as unknown as Trainer;
    const out = await trainLoop({ trainer: t, data, optim: optimCfg(), augment, seed: 1 });
    expect(out.status).toBe("diverged");
    if (out.status === "diverged") {
      expect(out.divergedAt.epoch).toBe(2);
      expect(out.divergedAt.step).toBe(3);
      expect(Number.isNaN(out.divergedAt.loss)).toBe(true);
    }
    expect(out.epochs).toHaveLength(1);
  });
});
