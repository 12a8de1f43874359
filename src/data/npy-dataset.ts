/**
 * A user's own dataset as NumPy `.npy` files (format versions 1.0, 2.0 and 3.0, as
 * `numpy.save` writes them): four files with fixed names in one directory (NPY_FILES).
 *
 * Images: shape (N, C, H, W) or (N, H, W, C) with C = 1 or 3 (the layout is told from
 * which of axes 1 and 3 has size 1 or 3), or (N, H, W) for greyscale. dtype: any integer
 * type holding 0..255, or float32/float64 in [0, 1] or [0, 255] — [0, 1] when no pixel of
 * the train and test image files together exceeds 1, else [0, 255]; floats are rounded to
 * the nearest of the 256 levels, since the harness keeps images as uint8 NCHW (Split).
 * Labels: shape (N,) or (N, 1), any integer dtype, class indices 0..65535 (stored in one byte each up to 256 classes, two beyond); the number of
 * classes is the largest label of the train and test files plus one.
 * Little-endian (or single-byte) dtypes and C order only: anything else is a DataError
 * that names the file and the numpy call that fixes it.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { DataError, describeSize } from "./errors.ts";
import { elements, FIX_RESAVE, parseNpy, type NpyArray } from "./npy.ts";
import { notice } from "../util/notice.ts";
import { channelStats, labelWarnings } from "./stats.ts";
import type { Dataset, Labels, Split } from "./types.ts";

export const NPY_FILES = {
  trainImages: "train_images.npy",
  trainLabels: "train_labels.npy",
  testImages: "test_images.npy",
  testLabels: "test_labels.npy",
} as const;

export type ImageLayoutName = "NCHW" | "NHWC" | "NHW";

export interface ImageLayout {
  layout: ImageLayoutName;
  count: number;
  channels: number;
  height: number;
  width: number;
}

/** Tells NCHW from NHWC by which of axes 1 and 3 has size 1 or 3; 3-D arrays are greyscale (N, H, W). */
export function imageLayout(shape: number[], file: string): ImageLayout {
  const dims = `(${shape.join(", ")})`;
  if (shape.length === 3) return { layout: "NHW", count: shape[0]!, channels: 1, height: shape[1]!, width: shape[2]! };
  if (shape.length !== 4) {
    throw new DataError(`${file}: images have shape ${dims}; expected (N, C, H, W), (N, H, W, C) with C = 1 or 3, or (N, H, W) for greyscale.`, file);
  }
  const [n, a, b, c] = shape as [number, number, number, number];
  const isChannels = (d: number) => d === 1 || d === 3;
  if (isChannels(a) && isChannels(c)) {
    throw new DataError(
      `${file}: images have shape ${dims}: both axis 1 and axis 3 could be the channels, so the layout is ambiguous; images must be at least 4 pixels wide and high.`,
      file,
    );
  }
  if (isChannels(a)) return { layout: "NCHW", count: n, channels: a, height: b, width: c };
  if (isChannels(c)) return { layout: "NHWC", count: n, channels: c, height: a, width: b };
  throw new DataError(
    `${file}: images have shape ${dims}, with neither axis 1 (NCHW) nor axis 3 (NHWC) of size 1 or 3; only greyscale or RGB images are supported.`,
    file,
  );
}

/** How float pixels map to 0..255: "unit" multiplies by 255 ([0, 1] data), "byte" keeps the value ([0, 255] data). */
export type FloatScale = "unit" | "byte";

/** The largest pixel of a float image array, checking every pixel is finite and within [0, 255]. */
export function floatPixelMax(arr: NpyArray, file: string): number {
  const v = elements(arr) as ArrayLike<number>;
  let max = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (!(x >= 0 && x <= 255)) {
      throw new DataError(
        `${file}: pixel ${x} at flat index ${i} is outside [0, 255]; float images must be in [0, 1] or [0, 255] — undo any normalisation (the harness normalises itself).`,
        file,
      );
    }
    if (x > max) max = x;
  }
  return max;
}

/** The pixels of an image array as uint8, in the file's own layout. */
export function pixelsOf(arr: NpyArray, file: string, scale: FloatScale = "unit"): Uint8Array {
  const { kind } = arr.dtype;
  if (kind === "b") throw new DataError(`${file}: images are booleans; save them as uint8 (array.astype(numpy.uint8) * 255).`, file);
  if (kind === "u" && arr.dtype.size === 1) return arr.data.slice();
  const v = elements(arr);
  const out = new Uint8Array(v.length);
  if (kind === "f") {
    const k = scale === "unit" ? 255 : 1;
    for (let i = 0; i < v.length; i++) out[i] = Math.min(255, Math.round((v[i] as number) * k));
    return out;
  }
  for (let i = 0; i < v.length; i++) {
    const x = Number(v[i]!);
    if (!(x >= 0 && x <= 255)) {
      throw new DataError(
        `${file}: pixel ${v[i]} at flat index ${i} is outside 0..255; integer images must hold 0..255 — rescale them or save floats in [0, 1].`,
        file,
      );
    }
    out[i] = x;
  }
  return out;
}

/** NHWC (or NHW) pixels to NCHW. */
export function toNchw(pixels: Uint8Array, l: ImageLayout): Uint8Array {
  if (l.layout !== "NHWC" || l.channels === 1) return pixels;
  const { count, channels: C, height: H, width: W } = l;
  const out = new Uint8Array(pixels.length);
  const plane = H * W;
  for (let n = 0; n < count; n++) {
    const base = n * C * plane;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < C; c++) out[base + c * plane + p] = pixels[base + p * C + c]!;
    }
  }
  return out;
}

/** Centres NCHW images in zero frames at least `padTo` high and wide (an odd margin puts the extra pixel bottom/right). */
export function padNchw(data: Uint8Array, l: Omit<ImageLayout, "layout">, padTo: number): { data: Uint8Array; height: number; width: number } {
  const { count, channels, height: h, width: w } = l;
  const H = Math.max(h, padTo),
    W = Math.max(w, padTo);
  if (H === h && W === w) return { data, height: h, width: w };
  const top = Math.floor((H - h) / 2),
    left = Math.floor((W - w) / 2);
  const out = new Uint8Array(count * channels * H * W);
  for (let plane = 0; plane < count * channels; plane++) {
    for (let y = 0; y < h; y++) {
      const src = (plane * h + y) * w;
      out.set(data.subarray(src, src + w), (plane * H + y + top) * W + left);
    }
  }
  return { data: out, height: H, width: W };
}

// ---- Labels

/** Class indices 0..255 from a (N,) or (N, 1) integer array. */
export function labelsOf(arr: NpyArray, file: string): Labels {
  const { shape } = arr;
  if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1))) {
    const hint = shape.length === 2 ? " (one-hot labels? save labels.argmax(1))" : "";
    throw new DataError(`${file}: labels have shape (${shape.join(", ")}); expected (N,) or (N, 1) class indices${hint}.`, file);
  }
  if (arr.dtype.kind !== "i" && arr.dtype.kind !== "u") {
    throw new DataError(`${file}: labels have dtype '${arr.dtype.descr}'; class indices must be an integer type — save labels.astype(numpy.int64).`, file);
  }
  const v = elements(arr);
  let max = 0;
  for (let i = 0; i < v.length; i++) {
    const x = Number(v[i]!);
    if (!(x >= 0 && x <= MAX_LABEL && Number.isInteger(x))) {
      throw new DataError(
        `${file}: label ${v[i]} at index ${i} is outside 0..${MAX_LABEL}; labels are class indices 0..numClasses-1 (at most ${MAX_LABEL + 1} classes) — ` +
          `remap them, e.g. numpy.unique(labels, return_inverse=True)[1].`,
        file,
      );
    }
    max = Math.max(max, x);
  }
  // One byte per label where it fits (every dataset up to 256 classes), two beyond.
  const out = max <= 255 ? new Uint8Array(v.length) : new Uint16Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = Number(v[i]!);
  return out;
}

// ---- The directory

export interface NpyLoadOptions {
  /** Zero-pad images smaller than this (in either dimension) up to it; default no padding. */
  padTo?: number;
  /** Where warnings about the labels go (one class only, test classes unseen in training); default the notice line on stderr. */
  log?: (line: string) => void;
}

/** True when `dir` holds the training images of an .npy dataset. */
export function looksLikeNpyDir(dir: string): boolean {
  const p = join(dir, NPY_FILES.trainImages);
  return existsSync(p) && statSync(p).isFile();
}

function requireFile(dir: string, name: string): string {
  const path = join(dir, name);
  const all = Object.values(NPY_FILES).join(", ");
  if (!existsSync(dir)) {
    throw new DataError(`.npy dataset directory ${dir} does not exist; point data.dataDir at a directory holding ${all}.`, dir);
  }
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new DataError(`${path}: missing; an .npy dataset directory needs ${all} (write each with numpy.save).`, path);
  }
  return path;
}

/** The file's bytes, without the copy `new Uint8Array(buffer)` would make (image files can be hundreds of MB). */
function readBytes(path: string): Uint8Array {
  const b = readFileSync(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** The largest class index a label may hold (two-byte labels). */
export const MAX_LABEL = 65_535;

interface RawSplit {
  images: NpyArray;
  imagesPath: string;
  layout: ImageLayout;
  labels: Labels;
}

function readSplit(dir: string, imagesName: string, labelsName: string): RawSplit {
  const imagesPath = requireFile(dir, imagesName);
  const labelsPath = requireFile(dir, labelsName);
  const images = parseNpy(readBytes(imagesPath), imagesPath);
  const layout = imageLayout(images.shape, imagesPath);
  if (layout.count === 0) throw new DataError(`${imagesPath}: holds no images; save at least one.`, imagesPath);
  const labels = labelsOf(parseNpy(readBytes(labelsPath), labelsPath), labelsPath);
  if (labels.length !== layout.count) {
    throw new DataError(
      `${imagesPath} has ${layout.count} images but ${labelsPath} has ${labels.length} labels; save matching arrays (one label per image, same order).`,
      labelsPath,
    );
  }
  return { images, imagesPath, layout, labels };
}

export async function loadNpyDir(dir: string, opts: NpyLoadOptions = {}): Promise<Dataset> {
  const f = NPY_FILES;
  const train = readSplit(dir, f.trainImages, f.trainLabels);
  const test = readSplit(dir, f.testImages, f.testLabels);
  const shapeOf = (l: ImageLayout) => `${l.channels}x${l.height}x${l.width}`;
  if (shapeOf(train.layout) !== shapeOf(test.layout)) {
    throw new DataError(
      `${dir}: train images are ${shapeOf(train.layout)} (CxHxW) but test images are ${shapeOf(test.layout)}; both files must hold images of one shape.`,
      test.imagesPath,
    );
  }
  // One scale for both files, so a test set that happens to be dark is not read as [0, 1].
  const floats = [train, test].filter((s) => s.images.dtype.kind === "f");
  const floatMax = Math.max(0, ...floats.map((s) => floatPixelMax(s.images, s.imagesPath)));
  const scale: FloatScale = floatMax <= 1 ? "unit" : "byte";

  const toSplit = (s: RawSplit): { split: Split; height: number; width: number } => {
    const nchw = toNchw(pixelsOf(s.images, s.imagesPath, scale), s.layout);
    const padded = opts.padTo === undefined ? { data: nchw, height: s.layout.height, width: s.layout.width } : padNchw(nchw, s.layout, opts.padTo);
    return { split: { images: padded.data, labels: s.labels, count: s.layout.count }, height: padded.height, width: padded.width };
  };
  const trainSplit = toSplit(train);
  const testSplit = toSplit(test);

  let maxLabel = 0;
  for (const s of [train, test]) for (const l of s.labels) maxLabel = Math.max(maxLabel, l);
  for (const w of labelWarnings(train.labels, test.labels, dir)) (opts.log ?? notice)(w);
  const { channels } = train.layout;
  const { mean, std } = channelStats(trainSplit.split.images, trainSplit.split.count, channels, trainSplit.height * trainSplit.width);
  const describe = (s: RawSplit) =>
    `${s.layout.layout} '${s.images.dtype.descr}'${s.images.dtype.kind === "f" ? (scale === "unit" ? " in [0,1]" : " in [0,255]") : ""}`;
  const padded = trainSplit.height !== train.layout.height || trainSplit.width !== train.layout.width;
  return {
    name: "npy",
    source:
      `${dir} (.npy: train ${describe(train)}, test ${describe(test)}, ${shapeOf(train.layout)}` +
      `${padded ? ` zero-padded to ${trainSplit.height}x${trainSplit.width}` : ""}, ${maxLabel + 1} classes)`,
    channels,
    height: trainSplit.height,
    width: trainSplit.width,
    numClasses: maxLabel + 1,
    mean,
    std,
    train: trainSplit.split,
    test: testSplit.split,
  };
}
