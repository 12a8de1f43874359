/**
 * Turns a uint8 split into normalised float batches, with optional torchvision-style
 * augmentation (RandomCrop with zero padding, RandomHorizontalFlip p=0.5).
 *
 * Reproducibility: the sample order of an epoch comes from Rng(seed, "data-order", epoch)
 * and the augmentation of batch b from Rng(seed, "data-augment", epoch, b). Nothing
 * depends on earlier batches, so a resumed run can regenerate any epoch — or jump straight
 * to batch b of it — exactly.
 *
 * Buffers: every batch gets fresh x/y arrays, because trainers may still hold (or hand to
 * an async engine) the previous batch while the next is produced. Allocation is cheap
 * next to the per-pixel work.
 */
import { Rng } from "../util/rng.ts";
import type { Dataset, Split } from "./types.ts";

export interface Batch {
  /** size*C*H*W normalised pixels, NCHW. */
  x: Float32Array;
  y: Int32Array;
  size: number;
  /** Position of this batch within its epoch. */
  index: number;
}

/** The makings of one batch: its images (dataset indices) and each one's augmentation. */
export interface BatchPlan {
  index: number;
  size: number;
  indices: Uint32Array;
  /** Crop offsets in pixels, in [-cropPadding, cropPadding]: out(y, x) = in(y + shiftY, x' + shiftX). */
  shiftY: Int16Array;
  shiftX: Int16Array;
  /** 1: mirrored left-right (x' = W-1-x). */
  mirror: Uint8Array;
}

export interface AugmentOptions {
  /** Zero-padding (px) for random crops back to the original size; 0 disables cropping. */
  cropPadding: number;
  /** Mirror left-right with probability 0.5. */
  flip: boolean;
}

export interface BatchLoaderOptions {
  batchSize: number;
  shuffle: boolean;
  seed: number;
  epoch: number;
  augment?: AugmentOptions;
  /** Per-channel constants in [0,1] pixel units; their length fixes the channel count. */
  mean: number[];
  std: number[];
  /** Skip a final short batch (keeps batch statistics and step counts uniform). */
  dropLast?: boolean;
  /** Image size; inferred as square from the split when omitted. */
  height?: number;
  width?: number;
  /** Names an independent shuffle and augmentation stream of the same seed (absent: the default stream). */
  stream?: string;
}

/**
 * A stream named `name` within the run's own stream `base` (TrainingConfig.stream): a
 * phase of a run (BiP's mask step, Hydra's scores) stays independent of the run's main
 * order and of other runs' phases of that name. Absent both: the default stream.
 */
export const subStream = (base: string | undefined, name?: string): string | undefined => [base, name].filter(Boolean).join("/") || undefined;

/**
 * For each channel, the normalised value of each byte 0..255: ((v/255) - mean) / std.
 * A table lookup per pixel is far cheaper than the arithmetic.
 */
export function normalisationLut(mean: number[], std: number[]): Float32Array {
  if (mean.length !== std.length) throw new RangeError(`mean has ${mean.length} channels but std has ${std.length}`);
  const lut = new Float32Array(mean.length * 256);
  for (let c = 0; c < mean.length; c++) {
    const m = mean[c]!,
      s = std[c]!;
    if (!(s > 0)) throw new RangeError(`std[${c}] must be positive, got ${s}`);
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v / 255 - m) / s;
  }
  return lut;
}

export class BatchLoader implements Iterable<Batch> {
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly numBatches: number;
  /** Per channel, the normalised value of each byte (normalisationLut): what an engine building batches itself needs. */
  readonly lut: Float32Array;
  /** Zero padding of random crops (0: none). */
  readonly cropPadding: number;
  /** One 256-entry normalisation table per channel. */
  private readonly luts: Float32Array[];
  private readonly order: Uint32Array;

  constructor(
    private readonly split: Split,
    private readonly opts: BatchLoaderOptions,
  ) {
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${opts.batchSize}`);
    this.channels = opts.mean.length;
    const plane = split.count > 0 ? split.images.length / split.count / this.channels : 0;
    this.height = opts.height ?? Math.round(Math.sqrt(plane));
    this.width = opts.width ?? this.height;
    if (split.count > 0 && this.height * this.width !== plane) {
      throw new RangeError(
        `split has ${split.images.length / split.count} bytes per image, which is not ${this.channels} channel(s) (mean.length) of ${this.height}x${this.width}; check mean/std or pass height/width`,
      );
    }
    const pad = opts.augment?.cropPadding ?? 0;
    if (!Number.isInteger(pad) || pad < 0) throw new RangeError(`cropPadding must be a non-negative integer, got ${pad}`);
    this.cropPadding = pad;
    const lut = (this.lut = normalisationLut(opts.mean, opts.std));
    this.luts = Array.from({ length: this.channels }, (_, c) => lut.subarray(c * 256, (c + 1) * 256));
    this.order = opts.shuffle
      ? new Rng(opts.seed, opts.stream ? `data-order/${opts.stream}` : "data-order", opts.epoch).permutation(split.count)
      : identity(split.count);
    this.numBatches = opts.dropLast ? Math.floor(split.count / opts.batchSize) : Math.ceil(split.count / opts.batchSize);
  }

  /**
   * What batch `index` is made of: which images, and each one's crop offset and flip, as
   * drawn from this epoch's streams. `batch` builds its pixels from exactly this, and an
   * engine holding the uint8 split builds the same pixels on its device from it
   * (Trainer.trainSteps), so both paths see bit-identical batches.
   */
  /** Images in batch `index` (the last may be short), without drawing its plan. */
  sizeOf(index: number): number {
    return Math.min(this.opts.batchSize, this.split.count - index * this.opts.batchSize);
  }

  plan(index: number): BatchPlan {
    if (!Number.isInteger(index) || index < 0 || index >= this.numBatches) throw new RangeError(`batch index ${index} out of range 0..${this.numBatches - 1}`);
    const { batchSize, augment } = this.opts;
    const start = index * batchSize;
    const size = this.sizeOf(index);
    const pad = augment?.cropPadding ?? 0;
    const flip = augment?.flip ?? false;
    const indices = this.order.slice(start, start + size);
    const shiftY = new Int16Array(size),
      shiftX = new Int16Array(size),
      mirror = new Uint8Array(size);
    if (pad > 0 || flip) {
      const rng = new Rng(this.opts.seed, this.opts.stream ? `data-augment/${this.opts.stream}` : "data-augment", this.opts.epoch, index);
      for (let k = 0; k < size; k++) {
        if (pad > 0) {
          shiftY[k] = rng.int(2 * pad + 1) - pad;
          shiftX[k] = rng.int(2 * pad + 1) - pad;
        }
        if (flip) mirror[k] = rng.next() < 0.5 ? 1 : 0;
      }
    }
    return { index, size, indices, shiftY, shiftX, mirror };
  }

  /** Batch `index` of this epoch, independent of which batches were produced before. */
  batch(index: number): Batch {
    const p = this.plan(index);
    const C = this.channels,
      H = this.height,
      W = this.width;
    const imageSize = C * H * W;
    const x = new Float32Array(p.size * imageSize);
    const y = new Int32Array(p.size);
    const images = this.split.images;
    for (let k = 0; k < p.size; k++) {
      const i = p.indices[k]!;
      y[k] = this.split.labels[i]!;
      writeImage(images, i * imageSize, x, k * imageSize, H, W, this.luts, p.shiftY[k]!, p.shiftX[k]!, p.mirror[k] === 1);
    }
    return { x, y, size: p.size, index };
  }

  /** Batches from `startBatch` to the end of the epoch (for resuming mid-epoch). */
  *from(startBatch: number): Generator<Batch> {
    for (let b = startBatch; b < this.numBatches; b++) yield this.batch(b);
  }

  [Symbol.iterator](): Generator<Batch> {
    return this.from(0);
  }
}

/** One shuffled epoch of a dataset's training split, normalised and shaped as the dataset says. */
export function trainBatches(
  data: Pick<Dataset, "train" | "mean" | "std" | "height" | "width">,
  o: Pick<BatchLoaderOptions, "batchSize" | "seed" | "epoch" | "augment" | "stream" | "dropLast">,
): BatchLoader {
  return new BatchLoader(data.train, { shuffle: true, mean: data.mean, std: data.std, height: data.height, width: data.width, ...o });
}

/** Test/eval batches: dataset order, no augmentation, final short batch kept. */
export function evalBatches(split: Split, batchSize: number, mean: number[], std: number[], shape?: { height: number; width: number }): Generator<Batch> {
  return new BatchLoader(split, { batchSize, shuffle: false, seed: 0, epoch: 0, mean, std, dropLast: false, ...shape })[Symbol.iterator]();
}

function identity(n: number): Uint32Array {
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}

/**
 * Writes one normalised image, shifted by (sy, sx) and optionally mirrored:
 * out(y, x) = in(y + sy, x' + sx) with x' = mirror ? W-1-x : x, and raw 0 outside the
 * image. That equals torchvision's RandomCrop(size, padding=p) at offset (sy+p, sx+p)
 * followed by a horizontal flip; padded pixels are black before normalisation.
 */
function writeImage(
  src: Uint8Array,
  srcOff: number,
  dst: Float32Array,
  dstOff: number,
  H: number,
  W: number,
  luts: Float32Array[],
  sy: number,
  sx: number,
  mirror: boolean,
): void {
  const plane = H * W;
  // Columns x in [lo, hi) read inside the source row; the rest are padding.
  const lo = mirror ? Math.max(0, sx) : Math.max(0, -sx);
  const hi = mirror ? Math.min(W, W + sx) : Math.min(W, W - sx);
  for (let c = 0; c < luts.length; c++) {
    const lut = luts[c]!;
    // Views keep the inner loops' index arithmetic to a single add, which the JIT handles best.
    const inp = src.subarray(srcOff + c * plane, srcOff + (c + 1) * plane);
    const out = dst.subarray(dstOff + c * plane, dstOff + (c + 1) * plane);
    if (sy === 0 && sx === 0 && !mirror) {
      for (let i = 0; i < plane; i++) out[i] = lut[inp[i]!]!;
      continue;
    }
    const zero = lut[0]!;
    for (let y = 0; y < H; y++) {
      const o = y * W;
      const yy = y + sy;
      // Plain loops: typed-array fill() is a native call, too costly for a few pixels per row.
      if (yy < 0 || yy >= H || lo >= hi) {
        for (let x = 0; x < W; x++) out[o + x] = zero;
        continue;
      }
      for (let x = 0; x < lo; x++) out[o + x] = zero;
      for (let x = hi; x < W; x++) out[o + x] = zero;
      if (mirror) {
        const base = yy * W + W - 1 + sx;
        for (let x = lo; x < hi; x++) out[o + x] = lut[inp[base - x]!]!;
      } else {
        const base = yy * W + sx;
        for (let x = lo; x < hi; x++) out[o + x] = lut[inp[base + x]!]!;
      }
    }
  }
}
