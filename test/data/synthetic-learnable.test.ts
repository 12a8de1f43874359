import { describe, expect, test } from "bun:test";
import { BatchLoader, classCounts, evalBatches, makeSynthetic } from "../../src/data/index.ts";

const opts = { count: 400, testCount: 200, channels: 3, size: 8, numClasses: 10, seed: 7 };

describe("synthetic dataset", () => {
  test("has the requested shape, balanced classes and matching stats", () => {
    const ds = makeSynthetic(opts);
    expect([ds.name, ds.channels, ds.height, ds.width, ds.numClasses]).toEqual(["synthetic", 3, 8, 8, 10]);
    expect(ds.train.images.length).toBe(400 * 3 * 64);
    expect(ds.test.count).toBe(200);
    expect(classCounts(ds.train, 10)).toEqual(new Array(10).fill(40));
    expect(ds.mean.length).toBe(3);
    expect(ds.std.every((s) => s > 0.05)).toBe(true);
  });

  test("is deterministic in the seed", () => {
    expect(makeSynthetic(opts).train.images).toEqual(makeSynthetic(opts).train.images);
    expect(makeSynthetic({ ...opts, seed: 8 }).train.images).not.toEqual(makeSynthetic(opts).train.images);
  });

  test("is learnable: softmax regression on augmented batches cuts the loss and classifies the test split", () => {
    const ds = makeSynthetic(opts);
    const D = 3 * 64,
      K = 10,
      lr = 0.05;
    const w = new Float64Array(D * K),
      bias = new Float64Array(K);
    const logits = new Float64Array(K);
    const step = (x: Float32Array, y: Int32Array, size: number, train: boolean): { loss: number; correct: number } => {
      let loss = 0,
        correct = 0;
      const gw = new Float64Array(D * K),
        gb = new Float64Array(K);
      for (let n = 0; n < size; n++) {
        const xo = n * D;
        for (let k = 0; k < K; k++) {
          let s = bias[k]!;
          for (let d = 0; d < D; d++) s += x[xo + d]! * w[d * K + k]!;
          logits[k] = s;
        }
        const max = Math.max(...logits);
        let z = 0;
        for (let k = 0; k < K; k++) z += Math.exp(logits[k]! - max);
        const label = y[n]!;
        loss += -(logits[label]! - max - Math.log(z));
        if (logits.indexOf(max) === label) correct++;
        if (!train) continue;
        for (let k = 0; k < K; k++) {
          const g = Math.exp(logits[k]! - max) / z - (k === label ? 1 : 0);
          gb[k]! += g;
          for (let d = 0; d < D; d++) gw[d * K + k]! += g * x[xo + d]!;
        }
      }
      if (train) {
        for (let i = 0; i < gw.length; i++) w[i]! -= (lr * gw[i]!) / size;
        for (let k = 0; k < K; k++) bias[k]! -= (lr * gb[k]!) / size;
      }
      return { loss: loss / size, correct };
    };

    const epochLosses: number[] = [];
    for (let epoch = 0; epoch < 3; epoch++) {
      let total = 0,
        n = 0;
      const loader = new BatchLoader(ds.train, {
        batchSize: 32,
        shuffle: true,
        seed: 1,
        epoch,
        augment: { cropPadding: 1, flip: false },
        mean: ds.mean,
        std: ds.std,
        dropLast: true,
      });
      for (const b of loader) {
        total += step(b.x, b.y, b.size, true).loss * b.size;
        n += b.size;
      }
      epochLosses.push(total / n);
    }
    expect(epochLosses[2]!).toBeLessThan(epochLosses[0]! * 0.5);

    let correct = 0;
    for (const b of evalBatches(ds.test, 50, ds.mean, ds.std)) correct += step(b.x, b.y, b.size, false).correct;
    expect(correct / ds.test.count).toBeGreaterThan(0.9);
  });
});
