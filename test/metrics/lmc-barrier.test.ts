import { expect, test } from "bun:test";
import { makeSynthetic } from "../../src/data/synthetic.ts";
import { OnnxTrainer } from "../../src/engine/onnx/onnx-trainer.ts";
import { freshState } from "../../src/engine/state.ts";
import { interpolate, interpolationPoints, lmcBarrier, lmcBarrierStdErr } from "../../src/metrics/lmc.ts";
import { lmcBetween } from "../../src/metrics/pair-metrics.ts";
import { buildModel } from "../../src/models/registry.ts";
import { SpecBuilder } from "../../src/models/spec.ts";
import { optim } from "../helpers/tiny-models.ts";

test("a path worse in the middle has a negative barrier of the paper's size and sign", () => {
  expect(lmcBarrier([0.1, 0.3, 0.5, 0.3, 0.1])).toEqual({ barrier: 0.1 - 0.5, tStarIndex: 2 });
  // Better in the middle: positive, and the largest |difference| wins.
  const r = lmcBarrier([0.3, 0.25, 0.2, 0.28]);
  expect(r.barrier).toBeCloseTo(0.29 - 0.2, 12);
  expect(lmcBarrier([0.2, 0.2, 0.2])).toEqual({ barrier: 0, tStarIndex: 0 });
});

test("11 interpolation points from 0 to 1, and interpolation hits both ends", () => {
  const t = interpolationPoints(11);
  expect(t.length).toBe(11);
  expect(t[0]).toBe(0);
  expect(t[10]).toBe(1);
  expect(t[3]).toBeCloseTo(0.3, 12);
  const a = { w: new Float32Array([0, 2]) },
    b = { w: new Float32Array([4, 2]) };
  expect([...interpolate(a, b, 0.25).w!]).toEqual([1, 2]);
});

test("two identical models are perfectly connected: barrier 0 along an 11-point path with BN re-estimation", async () => {
  const data = makeSynthetic({ count: 64, testCount: 32, channels: 1, size: 8, numClasses: 3, seed: 2 });
  const spec = buildModel("preresnet20", { width: 4, inputShape: [1, 8, 8], numClasses: 3 });
  const st = freshState(spec, 3);
  const trainer = await OnnxTrainer.create({ spec, ...optim, threads: 1 }, st);
  const r = await lmcBetween(trainer, st.params, st.params, data, { points: 11, bnSplit: data.train, evalSplit: data.train, batchSize: 32 });
  expect(r.path.length).toBe(11);
  expect(new Set(r.path.map((p) => p.error)).size).toBe(1);
  expect(r.barrier).toBe(0);
}, 30_000);

test("a constructed pair with a known barrier: two classifiers whose midpoint predicts a rare class", async () => {
  // Softmax regression with zero weights predicts by its biases alone, whatever the images.
  // a prefers class 0, b class 2; between them, bias (4-4t, 3, 4t) prefers class 1 for
  // 0.25 < t < 0.75. With 45% of labels 0, 10% 1 and 45% 2 the path's errors are
  // 0.55, 0.55, 0.55, 0.9 x 5, 0.55, 0.55, 0.55: a barrier of exactly 0.55 - 0.9 at t = 0.3.
  const data = makeSynthetic({ count: 20, testCount: 20, channels: 1, size: 2, numClasses: 3, seed: 5 });
  const labels = Uint8Array.from({ length: 20 }, (_, i) => (i < 9 ? 0 : i < 11 ? 1 : 2));
  const split = { ...data.test, labels };
  const b = new SpecBuilder([1, 2, 2]);
  const spec = b.build("bias-only", b.fc(b.gap(b.input), "fc", 3, { weightInit: { kind: "const", value: 0 }, biasInit: { kind: "const", value: 0 } }), 3);
  const params = (bias: number[]) => ({ "fc.weight": new Float32Array(3), "fc.bias": Float32Array.from(bias) });
  const trainer = await OnnxTrainer.create({ spec, ...optim, threads: 1 }, freshState(spec, 1));
  const r = await lmcBetween(trainer, params([4, 3, 0]), params([0, 3, 4]), data, { points: 11, bnSplit: split, evalSplit: split, batchSize: 8 });
  expect(r.path.map((p) => +p.error.toFixed(6))).toEqual([0.55, 0.55, 0.55, 0.9, 0.9, 0.9, 0.9, 0.9, 0.55, 0.55, 0.55]);
  expect(r.barrier).toBeCloseTo(0.55 - 0.9, 6);
  expect(r.tStar).toBeCloseTo(0.3, 12);
}, 30_000);

test("the barrier's standard error, worked by hand from the three binomial error rates", () => {
  // errors 0.1 (t=0), 0.5 (t*), 0.3 (t=1) on 100 images: var = p(1-p)/n for each,
  // the barrier is mean(ends) - err(t*), so var = (0.0009 + 0.0021) / 4 + 0.0025.
  expect(lmcBarrierStdErr([0.1, 0.5, 0.3], 1, 100)).toBeCloseTo(Math.sqrt(0.00325), 12);
  // t* at an end: the barrier is (err(1) - err(0)) / 2 there, made of the two ends only.
  expect(lmcBarrierStdErr([0.1, 0.5, 0.3], 0, 100)).toBeCloseTo(Math.sqrt(0.00075), 12);
  expect(lmcBarrierStdErr([0.1, 0.5, 0.3], 2, 100)).toBeCloseTo(Math.sqrt(0.00075), 12);
  // Four times the images halve it.
  expect(lmcBarrierStdErr([0.1, 0.5, 0.3], 1, 400)).toBeCloseTo(Math.sqrt(0.00325) / 2, 12);
});
