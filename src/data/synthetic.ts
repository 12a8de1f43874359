/**
 * A tiny generated dataset for tests: each class has a fixed blocky prototype image
 * (a coarse random grid per channel, upsampled), and samples are that prototype plus
 * uniform pixel noise. Classes are linearly separable with a margin, so any working
 * model+optimiser drives the loss down within a few steps — which is what tests check.
 */
import { Rng } from "../util/rng.ts";
import { channelStats } from "./stats.ts";
import type { Dataset, Split } from "./types.ts";

export interface SyntheticOptions {
  count: number;
  testCount: number;
  channels: number;
  size: number;
  numClasses: number;
  seed: number;
  /** Noise amplitude in pixel units (±noise); default 48. Raise it to make the task harder. */
  noise?: number;
}

/** Prototype cells are this many per side, so features survive crops of a few pixels. */
const GRID = 4;

function makePrototypes(o: SyntheticOptions): Float32Array {
  const rng = new Rng(o.seed, "synthetic-prototypes");
  const plane = o.size * o.size;
  const protos = new Float32Array(o.numClasses * o.channels * plane);
  for (let k = 0; k < o.numClasses; k++) {
    for (let c = 0; c < o.channels; c++) {
      const cells = Array.from({ length: GRID * GRID }, () => 48 + rng.next() * 160);
      const base = (k * o.channels + c) * plane;
      for (let y = 0; y < o.size; y++) {
        const gy = Math.min(GRID - 1, Math.floor((y * GRID) / o.size));
        for (let x = 0; x < o.size; x++) {
          const gx = Math.min(GRID - 1, Math.floor((x * GRID) / o.size));
          protos[base + y * o.size + x] = cells[gy * GRID + gx]!;
        }
      }
    }
  }
  return protos;
}

function makeSplit(o: SyntheticOptions, protos: Float32Array, count: number, stream: string): Split {
  const rng = new Rng(o.seed, "synthetic", stream);
  const imageSize = o.channels * o.size * o.size;
  const noise = o.noise ?? 48;
  // Round-robin labels then shuffle: balanced classes in random order.
  const order = rng.permutation(count);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) labels[i] = order[i]! % o.numClasses;
  const images = new Uint8Array(count * imageSize);
  for (let n = 0; n < count; n++) {
    const proto = labels[n]! * imageSize;
    const out = n * imageSize;
    for (let i = 0; i < imageSize; i++) {
      const v = protos[proto + i]! + (rng.next() * 2 - 1) * noise;
      images[out + i] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
    }
  }
  return { images, labels, count };
}

export function makeSynthetic(opts: SyntheticOptions): Dataset {
  if (opts.numClasses < 1 || opts.numClasses > 256) throw new RangeError(`numClasses must be in 1..256, got ${opts.numClasses}`);
  const protos = makePrototypes(opts);
  const train = makeSplit(opts, protos, opts.count, "train");
  const test = makeSplit(opts, protos, opts.testCount, "test");
  const { mean, std } = channelStats(train.images, train.count, opts.channels, opts.size * opts.size);
  return {
    name: "synthetic",
    source: `synthetic (seed ${opts.seed}, ${opts.numClasses} classes, ${opts.channels}x${opts.size}x${opts.size})`,
    channels: opts.channels,
    height: opts.size,
    width: opts.size,
    numClasses: opts.numClasses,
    mean,
    std,
    train,
    test,
  };
}
