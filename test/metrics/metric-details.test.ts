/**
 * The metrics' smaller parts, each against a value worked by hand: softmax rows, the
 * evaluation sums (in batches, from pixels or from data an engine holds, one model or a
 * pack), the guards that refuse malformed input, and where the error estimates come from.
 */
import { expect, test } from "bun:test";
import { makeSynthetic } from "../../src/data/synthetic.ts";
import type { PackTrainer, Trainer } from "../../src/engine/types.ts";
import { linearCka, softmaxRows } from "../../src/metrics/cka.ts";
import { reestimateBatchNorm } from "../../src/metrics/bn-reestimate.ts";
import { evaluate, evaluatePack } from "../../src/metrics/evaluate.ts";
import { interpolate, interpolationPoints, lmcBarrier } from "../../src/metrics/lmc.ts";
import { averageOverPairs } from "../../src/metrics/pair-average.ts";
import { ckaBootstrapStdErr, lmcBetween, softmaxOutputs } from "../../src/metrics/pair-metrics.ts";
import { Rng } from "../../src/util/rng.ts";

const data = makeSynthetic({ count: 6, testCount: 5, channels: 1, size: 4, numClasses: 2, seed: 3 });
const LN3 = Math.log(3);

test("softmax rows, worked by hand, and stable for large logits", () => {
  const p = softmaxRows(new Float32Array([0, LN3, 1, 1, 1000, 1000 + LN3]), 3, 2);
  const expected = [0.25, 0.75, 0.5, 0.5, 0.25, 0.75];
  // float32 logits: 1000 + ln 3 is stored to about 3e-5.
  expected.forEach((v, i) => expect(p[i]!).toBeCloseTo(v, i < 4 ? 6 : 4));
});

/** A model that gives every image the logits (0, ln 3): class 1 with probability 3/4. */
function fixedModel(calls: number[][] = []): Trainer {
  return {
    predict: async (_x: Float32Array, size: number) => {
      calls.push([size]);
      return Float32Array.from({ length: 2 * size }, (_, i) => (i % 2 ? LN3 : 0));
    },
  } as unknown as Trainer;
}

/** Cross-entropy and accuracy of always answering (1/4, 3/4), from the labels alone. */
function byHand(labels: ArrayLike<number>) {
  const ys = Array.from(labels);
  const loss = ys.reduce((s, y) => s - Math.log(y === 1 ? 0.75 : 0.25), 0) / ys.length;
  return { loss, accuracy: ys.filter((y) => y === 1).length / ys.length, count: ys.length };
}

test("evaluate: mean cross-entropy and accuracy over batches, the last one short", async () => {
  const calls: number[][] = [];
  const r = await evaluate(fixedModel(calls), data, data.test, 2);
  expect(calls).toEqual([[2], [2], [1]]);
  const h = byHand(data.test.labels);
  expect(r.loss).toBeCloseTo(h.loss, 6);
  expect(r.accuracy).toBe(h.accuracy);
  expect(r.count).toBe(5);
});

test("evaluate: a tie goes to the first class, as argmax does", async () => {
  const tie = { predict: async (_x: Float32Array, size: number) => new Float32Array(2 * size) } as unknown as Trainer;
  const r = await evaluate(tie, data, data.test, 5);
  expect(r.accuracy).toBe(Array.from(data.test.labels).filter((y) => y === 0).length / 5);
  expect(r.loss).toBeCloseTo(Math.LN2, 12);
});

test("evaluate from a split the engine holds: sent once to its slot, predicted there in the same batches", async () => {
  for (const [split, slot] of [
    [data.test, "test"],
    [data.train, "train-eval"],
    [{ ...data.test }, "eval"],
  ] as const) {
    const loaded: string[] = [],
      asked: [string, number, number][] = [];
    const model = {
      ...fixedModel(),
      resident: {
        loadSplit: (s: string, r: { count: number }) => loaded.push(`${s}:${r.count}`),
        predictSplit: async (s: string, start: number, size: number) => {
          asked.push([s, start, size]);
          return Float32Array.from({ length: 2 * size }, (_, i) => (i % 2 ? LN3 : 0));
        },
      },
    } as unknown as Trainer;
    const r = await evaluate(model, data, split, 4);
    expect(loaded).toEqual([`${slot}:${split.count}`]);
    expect(asked).toEqual(
      split.count === 6
        ? [
            [slot, 0, 4],
            [slot, 4, 2],
          ]
        : [
            [slot, 0, 4],
            [slot, 4, 1],
          ],
    );
    // A split that divides into whole batches ends there: no empty batch after it.
    asked.length = 0;
    await evaluate(model, data, split, split.count);
    expect(asked).toEqual([[slot, 0, split.count]]);
    const h = byHand(split.labels);
    expect([r.loss, r.accuracy, r.count]).toEqual([expect.closeTo(h.loss, 6), h.accuracy, h.count]);
  }
});

test("evaluatePack: one result per member from one prediction per batch", async () => {
  const pack = {
    size: 2,
    predict: async (_x: Float32Array, size: number) => [
      Float32Array.from({ length: 2 * size }, (_, i) => (i % 2 ? LN3 : 0)),
      Float32Array.from({ length: 2 * size }, (_, i) => (i % 2 ? 0 : LN3)),
    ],
  } as unknown as PackTrainer;
  const [a, b] = await evaluatePack(pack, data, data.test, 2);
  const h = byHand(data.test.labels),
    flipped = byHand(Array.from(data.test.labels, (y) => 1 - y));
  expect([a!.loss, a!.accuracy]).toEqual([expect.closeTo(h.loss, 6), h.accuracy]);
  expect([b!.loss, b!.accuracy]).toEqual([expect.closeTo(flipped.loss, 6), flipped.accuracy]);
});

test("softmaxOutputs: each batch's rows land at its own images' place", async () => {
  let batch = 0;
  const model = {
    predict: async (_x: Float32Array, size: number) => {
      const b = batch++;
      // Batch b says class 1 with probability 1/(1 + e^-b).
      return Float32Array.from({ length: 2 * size }, (_, i) => (i % 2 ? b : 0));
    },
  } as unknown as Trainer;
  const out = await softmaxOutputs(model, data, data.test, 2);
  expect(out.length).toBe(10);
  const p1 = Array.from({ length: 5 }, (_, i) => out[2 * i + 1]!);
  [0, 0, 1, 1, 2].forEach((b, i) => expect(p1[i]!).toBeCloseTo(1 / (1 + Math.exp(-b)), 12));
});

test("LMC: known end errors are taken as they are, at t = 0 and t = 1, with no pass over the data", async () => {
  const untouchable = new Proxy({}, { get: () => expect.unreachable("the trainer was used") }) as unknown as Trainer;
  const r = await lmcBetween(untouchable, { w: new Float32Array([1]) }, { w: new Float32Array([2]) }, data, {
    points: 2,
    bnSplit: data.train,
    evalSplit: data.test,
    batchSize: 2,
    endErrors: { a: 0.3, b: 0.7 },
  });
  expect(r.path).toEqual([
    { t: 0, error: 0.3 },
    { t: 1, error: 0.7 },
  ]);
  expect(r.barrier).toBeCloseTo(0.5 - 0.3, 12);
});

test("malformed input is refused with a message that names it", async () => {
  expect(() => lmcBarrier([0.1])).toThrow("need the errors of at least the two end points");
  expect(lmcBarrier([0.1, 0.3]).barrier).toBeCloseTo(0.1, 12);
  expect(() => interpolationPoints(1)).toThrow("need at least 2 interpolation points, got 1");
  expect(interpolationPoints(2)).toEqual([0, 1]);
  expect(() => interpolate({ w: new Float32Array(2) }, {}, 0.5)).toThrow("cannot interpolate w: shapes differ");
  expect(() => interpolate({ w: new Float32Array(2) }, { w: new Float32Array(3) }, 0.5)).toThrow("cannot interpolate w: shapes differ");
  expect(() => linearCka([1, 2, 3, 4], [1, 2, 3], 2)).toThrow("representations do not split into 2 rows");
  expect(() => linearCka([1, 2, 3], [1, 2, 3, 4], 2)).toThrow("representations do not split into 2 rows");
  const trainer = { state: { params: {}, buffers: {}, momentum: {} }, batchStats: async () => ({}) } as unknown as Trainer;
  expect(reestimateBatchNorm(trainer, [])).rejects.toThrow("BN re-estimation needs at least one batch");
});

test("BN re-estimation weighs each batch's statistics by its size: 2 x 1 and 1 x 4 average to 2", async () => {
  const trainer = {
    state: { params: {}, buffers: { m: new Float32Array([9, 9]) }, momentum: {} },
    batchStats: async (_x: Float32Array, size: number) => ({ m: new Float32Array([size === 2 ? 1 : 4, size === 2 ? 1 : 4]) }),
  } as unknown as Trainer;
  await reestimateBatchNorm(trainer, [
    { x: new Float32Array(0), y: new Int32Array(2), size: 2 },
    { x: new Float32Array(0), y: new Int32Array(1), size: 1 },
  ] as never);
  expect([...trainer.state.buffers.m!]).toEqual([2, 2]);
});

test("pair averages: unknown measurement errors give no floor; a floor above the spread says the error is the measurement's", () => {
  // One pair, no known error: no error at all.
  expect(averageOverPairs([{ group: 1, models: [1, 2], value: 0.5, stdErr: null }])).toEqual({ mean: 0.5, stdErr: null, errorFrom: "measurement", pairs: 1 });
  // Two dense seeds that agree exactly: the spread is 0, so the floor (rms 0.1 / sqrt 2) decides, and says so.
  const agree = averageOverPairs([
    { group: 1, models: [1, 2], value: 0.5, stdErr: 0.1 },
    { group: 2, models: [1, 2], value: 0.5, stdErr: 0.1 },
  ])!;
  expect(agree.stdErr).toBeCloseTo(0.1 / Math.SQRT2, 12);
  expect(agree.errorFrom).toBe("measurement");
  // Unknown errors are left out of the floor, not counted as zero: floor sqrt(0.01 / 1 / 2) with 2 pairs.
  const mixed = averageOverPairs([
    { group: 1, models: [1, 2], value: 0.5, stdErr: 0.1 },
    { group: 2, models: [1, 2], value: 0.5, stdErr: null },
  ])!;
  expect(mixed.stdErr).toBeCloseTo(Math.sqrt(0.01 / 2), 12);
  // Dense seeds far apart: their spread (0.1) is above the floor and is the error.
  const apart = averageOverPairs([
    { group: 1, models: [1, 2], value: 0.4, stdErr: 0.01 },
    { group: 2, models: [1, 2], value: 0.6, stdErr: 0.01 },
  ])!;
  expect([apart.stdErr, apart.errorFrom]).toEqual([expect.closeTo(0.1, 12), "groups"]);
});

test("the CKA bootstrap error is the sample standard deviation (n - 1) of the resampled CKAs, drawn from its own seeded stream", () => {
  const n = 12,
    k = 3;
  const rng = new Rng(5, "outputs");
  const a = Float64Array.from({ length: n * k }, () => rng.normal());
  const b = Float64Array.from(a, (v) => v + rng.normal());
  // The same draws, by hand.
  const draws = new Rng(9, "cka-bootstrap");
  const values = Array.from({ length: 4 }, () => {
    const idx = Array.from({ length: n }, () => draws.int(n));
    const pick = (m: Float64Array) => Float64Array.from(idx.flatMap((j) => Array.from(m.subarray(j * k, (j + 1) * k))));
    return linearCka(pick(a), pick(b), n);
  });
  const m = values.reduce((s, v) => s + v, 0) / 4;
  const sd = Math.sqrt(values.reduce((s, v) => s + (v - m) ** 2, 0) / 3);
  expect(ckaBootstrapStdErr(a, b, n, 4, 9)).toBeCloseTo(sd, 12);
  expect(ckaBootstrapStdErr(a, b, n, 1, 9)).toBeNaN();
  // No resamples (metrics.ckaBootstrap = 0): no standard error, not a zero one.
  expect(ckaBootstrapStdErr(a, b, n, 0, 9)).toBeNaN();
  expect(ckaBootstrapStdErr(a, b, n, 2, 9)).toBeGreaterThan(0);
});
