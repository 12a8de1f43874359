/**
 * Fashion-MNIST from a directory of IDX files (gzipped or not), e.g. Debian's
 * dataset-fashion-mnist package. Images are 28x28 greyscale; `padTo: 32` zero-pads them
 * so CIFAR-shaped models (32x32 input) can train on them unchanged.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { DataError } from "./errors.ts";
import { parseIdxImages, parseIdxLabels, readMaybeGzip } from "./idx.ts";
import { channelStats } from "./stats.ts";
import type { Dataset, DatasetName, Split } from "./types.ts";

export const DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

/** Original (uncompressed) file names; each may also exist with a `.gz` suffix. */
export const FASHION_MNIST_FILES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
} as const;

export const FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"] as const;

const NUM_CLASSES = 10;

export interface FashionMnistOptions {
  /** Zero-pad each side equally up to this square size (must be >= 28 and leave an even margin). */
  padTo?: number;
  /** Overrides for callers loading a derived copy (the embedded subset). */
  name?: DatasetName;
  source?: string;
}

/** Path of `base` or `base.gz` in `dir`, whichever exists (uncompressed preferred), else null. */
export function findIdxFile(dir: string, base: string): string | null {
  for (const candidate of [join(dir, base), join(dir, `${base}.gz`)]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return null;
}

/** True when `dir` holds at least the training images, i.e. looks like an IDX dataset dir. */
export function looksLikeIdxDir(dir: string): boolean {
  return findIdxFile(dir, FASHION_MNIST_FILES.trainImages) !== null;
}

function requireIdxFile(dir: string, base: string): string {
  const path = findIdxFile(dir, base);
  if (path) return path;
  if (!existsSync(dir)) {
    throw new DataError(
      `Fashion-MNIST directory ${dir} does not exist; install the Debian package dataset-fashion-mnist ` +
        `(files go to ${DEBIAN_FASHION_MNIST_DIR}), pass --data-dir <dir with IDX files>, or use --set data.dataset=fashion-mnist-embedded.`,
      dir,
    );
  }
  throw new DataError(
    `${join(dir, base)}: missing (also tried ${base}.gz); a Fashion-MNIST directory needs ` +
      `${Object.values(FASHION_MNIST_FILES).join(", ")} (optionally .gz) — pass --data-dir pointing at a complete copy.`,
    join(dir, base),
  );
}

async function loadSplit(dir: string, imagesBase: string, labelsBase: string, padTo: number | undefined): Promise<{ split: Split; size: number }> {
  const imagesPath = requireIdxFile(dir, imagesBase);
  const labelsPath = requireIdxFile(dir, labelsBase);
  // Images, then labels: with both damaged, the error names the images every time.
  const imageBytes = await readMaybeGzip(imagesPath);
  const labelBytes = await readMaybeGzip(labelsPath);
  const img = parseIdxImages(imageBytes, imagesPath);
  const labels = parseIdxLabels(labelBytes, labelsPath);
  if (img.rows !== img.cols) {
    throw new DataError(`${imagesPath}: images are ${img.rows}x${img.cols}; only square images are supported.`, imagesPath);
  }
  if (labels.length !== img.count) {
    throw new DataError(
      `${imagesPath} has ${img.count} images but ${labelsPath} has ${labels.length} labels; the files come from different datasets or one is damaged — re-copy both.`,
      labelsPath,
    );
  }
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! >= NUM_CLASSES) {
      throw new DataError(
        `${labelsPath}: label ${labels[i]} at index ${i} is outside 0..${NUM_CLASSES - 1}; the file is corrupt or not Fashion-MNIST.`,
        labelsPath,
      );
    }
  }
  const size = padTo ?? img.rows;
  // Copy so the split owns a compact buffer instead of a view into the whole decompressed file.
  const images = padTo === undefined ? img.data.slice() : padImages(img.data, img.count, img.rows, padTo);
  return { split: { images, labels: labels.slice(), count: img.count }, size };
}

/** Centres `count` single-channel size×size images in zero-filled padTo×padTo frames. */
export function padImages(data: Uint8Array, count: number, size: number, padTo: number): Uint8Array {
  if (!Number.isInteger(padTo) || padTo < size || (padTo - size) % 2 !== 0) {
    throw new RangeError(`padTo must be an integer >= ${size} with an even margin (e.g. 32), got ${padTo}`);
  }
  const margin = (padTo - size) / 2;
  const out = new Uint8Array(count * padTo * padTo);
  for (let n = 0; n < count; n++) {
    for (let y = 0; y < size; y++) {
      const src = (n * size + y) * size;
      out.set(data.subarray(src, src + size), (n * padTo + y + margin) * padTo + margin);
    }
  }
  return out;
}

export async function loadFashionMnistDir(dir: string = DEBIAN_FASHION_MNIST_DIR, opts: FashionMnistOptions = {}): Promise<Dataset> {
  const f = FASHION_MNIST_FILES;
  const train = await loadSplit(dir, f.trainImages, f.trainLabels, opts.padTo);
  const test = await loadSplit(dir, f.testImages, f.testLabels, opts.padTo);
  if (train.size !== test.size) {
    throw new DataError(`${dir}: train images are ${train.size}px but test images are ${test.size}px; the files are mismatched.`, dir);
  }
  // Computed from the (padded) training split rather than hard-coded: padding adds zero
  // pixels, which lowers the mean and raises the std versus the usual 0.2860/0.3530 for 28x28,
  // and subsets/derived copies get constants that match what they actually contain.
  const { mean, std } = channelStats(train.split.images, train.split.count, 1, train.size * train.size);
  return {
    name: opts.name ?? "fashion-mnist",
    source: opts.source ?? dir,
    channels: 1,
    height: train.size,
    width: train.size,
    numClasses: NUM_CLASSES,
    mean,
    std,
    train: train.split,
    test: test.split,
  };
}
