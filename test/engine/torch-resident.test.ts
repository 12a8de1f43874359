import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { trainBatches } from "../../src/data/batches.ts";
import { makeSynthetic } from "../../src/data/synthetic.ts";
import type { Dataset } from "../../src/data/types.ts";
import { residentSplit } from "../../src/engine/resident.ts";
import { freshState } from "../../src/engine/state.ts";
import { probeTorch } from "../../src/engine/torch/detect.ts";
import { TorchTrainer } from "../../src/engine/torch/torch-trainer.ts";
import { cloneState, type ModelState, type Trainer } from "../../src/engine/types.ts";
import { evaluate } from "../../src/metrics/evaluate.ts";
import { buildModel } from "../../src/models/registry.ts";
import { prunableLayers, type ModelSpec } from "../../src/models/spec.ts";
import { samStep } from "../../src/train/sam.ts";
import { bipLoop } from "../../src/train/bip-loop.ts";
import { bipScoredLayers, masksFromScores } from "../../src/prune/bip.ts";
import { validateConfig } from "../../src/config/load.ts";
import type { BipBenchConfig } from "../../src/config/generated/bip-bench.ts";
import { trainLoop } from "../../src/train/train-loop.ts";
import { optim, setRandomMasks } from "../helpers/tiny-models.ts";

// Every test here starts a Python torch server (about a second on a quiet machine, several in
// a loaded CI container): the 5 s default timed out on a fresh clone.
setDefaultTimeout(60_000);

/**
 * The torch engine with its data resident: batches built on the device, many steps per
 * request, SAM on the server. Each is checked bit for bit against the path it replaces
 * (batches built by BatchLoader, one trainStep per request, SAM in TypeScript), on the CPU.
 */
const probe = await probeTorch();
const python = "found" in probe ? probe.found.python : null;
if (!python) console.warn(`skipping the resident torch suite: ${"missing" in probe ? probe.missing : ""}`);

const data: Dataset = makeSynthetic({ count: 40, testCount: 12, channels: 3, size: 8, numClasses: 5, seed: 3 });
const spec: ModelSpec = buildModel("preresnet20", { width: 4, inputShape: [3, 8, 8], numClasses: 5 });
const augment = { cropPadding: 2, flip: true };

const torch = (state: ModelState, stepsPerRequest = 64) =>
  TorchTrainer.create({ spec, ...optim, threads: 1, python: python!, device: "cpu", stepsPerRequest }, cloneState(state));

/** The same trainer seen without its resident capability: the per-step path the loop used before. */
function perStep(t: Trainer): Trainer {
  return new Proxy(t, { get: (target, key) => (key === "resident" ? undefined : Reflect.get(target, key, target)) });
}

function expectSameBits(what: string, a: Record<string, Float32Array>, b: Record<string, Float32Array>): void {
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  for (const [k, v] of Object.entries(b)) {
    const x = a[k]!;
    const i = x.findIndex((e, j) => !Object.is(e, v[j]));
    if (i >= 0) throw new Error(`${what} ${k}[${i}]: ${x[i]} vs ${v[i]}`);
  }
}

describe.skipIf(!python)("torch engine, data resident", () => {
  test("batches built on the device are bit-identical to BatchLoader's: crops, flips, padding, normalisation, labels", async () => {
    const t = await torch(freshState(spec, 1));
    try {
      t.loadSplit("train", residentSplit(data, data.train, augment.cropPadding));
      for (const epoch of [0, 3]) {
        const loader = trainBatches(data, { batchSize: 16, seed: 9, epoch, augment });
        for (let b = 0; b < loader.numBatches; b++) {
          const want = loader.batch(b);
          const got = t.builtBatch("train", loader.plan(b));
          expect(Buffer.from(got.x.buffer).equals(Buffer.from(want.x.buffer))).toBe(true);
          expect(Array.from(got.y)).toEqual(Array.from(want.y));
        }
      }
      // The plans did move pixels: a batch without augmentation differs.
      const plain = trainBatches(data, { batchSize: 16, seed: 9, epoch: 0 }).batch(0).x;
      const aug = trainBatches(data, { batchSize: 16, seed: 9, epoch: 0, augment }).batch(0).x;
      expect(Buffer.from(plain.buffer).equals(Buffer.from(aug.buffer))).toBe(false);
    } finally {
      await t.dispose();
    }
  });

  test("steps in one request leave the same weights, momentum and BN statistics as one request per step", async () => {
    const st = freshState(spec, 2);
    const a = await torch(st),
      b = await torch(st, 3);
    try {
      setRandomMasks([a, b], 4);
      b.loadSplit("train", residentSplit(data, data.train, augment.cropPadding));
      const loader = trainBatches(data, { batchSize: 16, seed: 5, epoch: 1, augment });
      const want: number[] = [];
      for (const batch of loader) want.push((await a.trainStep(batch, 0.05)).loss);
      const plans = Array.from({ length: loader.numBatches }, (_, i) => loader.plan(i));
      const r = await b.trainSteps({ slot: "train", plans, lr: 0.05 });
      expect(Array.from(r.losses)).toEqual(want.map((l) => Math.fround(l)));
      expectSameBits("params", b.state.params, a.state.params);
      expectSameBits("momentum", b.state.momentum, a.state.momentum);
      expectSameBits("buffers", b.state.buffers, a.state.buffers);
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });

  test("a SAM step on the server is src/train/sam.ts's step", async () => {
    const st = freshState(spec, 6);
    const a = await torch(st),
      b = await torch(st);
    try {
      setRandomMasks([a, b], 7);
      b.loadSplit("train", residentSplit(data, data.train, augment.cropPadding));
      const loader = trainBatches(data, { batchSize: 16, seed: 5, epoch: 0, augment });
      const sam = { rho: 0.05, momentum: optim.sgd.momentum, weightDecay: optim.sgd.weightDecay };
      for (let i = 0; i < 2; i++) {
        const want = await samStep(a, loader.batch(i), 0.05, sam.rho, sam);
        const got = await b.trainSteps({ slot: "train", plans: [loader.plan(i)], lr: 0.05, sam });
        expect(got.losses[0]).toBe(Math.fround(want.loss));
        expect(got.correct[0]).toBe(want.correct);
      }
      // float64 both sides; only the order of summing ||g||^2 differs, so agreement is to the last bit or next to it.
      for (const g of ["params", "momentum", "buffers"] as const) {
        for (const [k, v] of Object.entries(a.state[g])) {
          const w = b.state[g][k]!;
          for (let i = 0; i < v.length; i++)
            if (Math.abs(w[i]! - v[i]!) > 4e-7 * Math.max(1, Math.abs(v[i]!))) throw new Error(`${g} ${k}[${i}]: ${w[i]} vs ${v[i]}`);
        }
      }
      // And a SAM step is not an SGD step.
      const c = await torch(st);
      setRandomMasks([c], 7);
      await c.trainStep(loader.batch(0), 0.05);
      const name = prunableLayers(spec)[2]!.name;
      expect(c.state.params[name]!.some((v, i) => Math.abs(v - a.state.params[name]![i]!) > 1e-6)).toBe(true);
      await c.dispose();
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });

  test("trainLoop: the same epochs, test accuracy and weights as per-step training, and a resumed run ends where an uninterrupted one does", async () => {
    const dir = `${process.env.TMPDIR ?? "/tmp"}/resident-${process.pid}`;
    const cfg = { ...optimConfig(), samRho: 0 };
    const st = freshState(spec, 8);
    const run = async (t: Trainer, checkpointPath?: string, stopAfterEpochs?: number) =>
      trainLoop({ trainer: t, data, optim: cfg, augment, seed: 11, checkpointPath, stopAfterEpochs });
    const a = await torch(st),
      b = await torch(st, 2);
    try {
      const ra = await run(perStep(a));
      const rb = await run(b);
      expect(rb.epochs.map(({ seconds: _, ...e }) => e)).toEqual(ra.epochs.map(({ seconds: _, ...e }) => e));
      expectSameBits("params", b.state.params, a.state.params);
      const c = await torch(st, 2);
      await run(c, `${dir}/ck.bin`, 1);
      await c.dispose();
      const d = await torch(st, 2);
      const rd = await run(d, `${dir}/ck.bin`);
      expect(rd.resumedFrom).toBe(1);
      expectSameBits("resumed params", d.state.params, a.state.params);
      await d.dispose();
    } finally {
      await a.dispose();
      await b.dispose();
      require("node:fs").rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const [what, over] of [
    ["unstructured, the paper's implicit term, two passes", { structure: "unstructured", variant: "paper", iterations: "two-passes", thetaL2: "weight-decay" }],
    ["filter-wise, the code's term, one pass, gamma on theta", { structure: "filter", variant: "code", iterations: "one-pass", thetaL2: "gamma" }],
  ] as const) {
    test(`BiP iterations on the server (${what}) leave the masks, weights and records of src/train/bip-loop.ts's own iterations`, async () => {
      const cfg = { ...validateConfig<BipBenchConfig>("bip-bench", {}).bip, epochs: 2, batchSize: 8, maskLrMilestones: [0.5], ...over };
      const layers = bipScoredLayers(spec, cfg);
      const st = freshState(spec, 12);
      const make = (n: number) =>
        TorchTrainer.create({ spec, ...optim, threads: 1, python: python!, device: "cpu", maskedParams: layers, stepsPerRequest: n }, cloneState(st));
      const a = await make(64),
        b = await make(3);
      try {
        const run = (t: Trainer) => bipLoop({ trainer: t, data, layers, density: 0.3, cfg, augment, seed: 13 });
        const ra = await run(perStep(a));
        const rb = await run(b);
        expect(rb.status).toBe("done");
        expect(rb.epochs.map(({ seconds: _, ...e }) => e)).toEqual(ra.epochs.map(({ seconds: _, ...e }) => e));
        expectSameBits("masks", rb.masks, ra.masks);
        expectSameBits("scores", rb.scores, ra.scores);
        expect(rb.runningBn).toEqual(ra.runningBn!);
        expectSameBits("params", b.state.params, a.state.params);
        expectSameBits("momentum", b.state.momentum, a.state.momentum);
        expectSameBits("buffers", b.state.buffers, a.state.buffers);
        // The masks moved during the run: the iterations did reach the scores.
        const start = masksFromScores(Object.fromEntries(layers.map((l) => [l, st.params[l]!.map(Math.abs)])), layers, 0.3);
        if (cfg.structure === "unstructured") expect(layers.some((l) => rb.masks[l]!.some((m, i) => m !== start[l]![i]))).toBe(true);
      } finally {
        await a.dispose();
        await b.dispose();
      }
    });
  }

  test("evaluation from the resident test split gives the per-batch path's loss and accuracy", async () => {
    const t = await torch(freshState(spec, 3));
    try {
      const want = await evaluate(perStep(t), data, data.test, 5);
      const got = await evaluate(t, data, data.test, 5);
      expect(got).toEqual(want);
    } finally {
      await t.dispose();
    }
  });
});

function optimConfig() {
  return {
    epochs: 3,
    batchSize: 16,
    lr: 0.05,
    momentum: optim.sgd.momentum,
    weightDecay: optim.sgd.weightDecay,
    schedule: { kind: "cosine" as const, milestones: [], gamma: 0.1, minLr: 0 },
    bnMomentum: optim.bn.momentum,
    bnEps: optim.bn.eps,
    samRho: 0,
  };
}
