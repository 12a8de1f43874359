/**
 * CIFAR-10 in its official binary layout (cifar-10-batches-bin): each record is one label
 * byte followed by 3072 pixel bytes, the 32x32 red plane, then green, then blue — already
 * CHW, so records copy straight into our NCHW buffers.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { concatSplits, parseCifarRecords, type CifarLayout } from "./cifar-binary.ts";
import { DataError } from "./errors.ts";
import type { Dataset, Split } from "./types.ts";

export const CIFAR10_DIRNAME = "cifar-10-batches-bin";
export const CIFAR10_TRAIN_FILES = ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"] as const;
export const CIFAR10_TEST_FILE = "test_batch.bin";
export const CIFAR10_IMAGE_BYTES = 3 * 32 * 32;
export const CIFAR10_RECORD_BYTES = 1 + CIFAR10_IMAGE_BYTES;
export const CIFAR10_RECORDS_PER_FILE = 10000;
/** The usual torchvision-recipe constants (training-set statistics). */
export const CIFAR10_MEAN = [0.4914, 0.4822, 0.4465];
export const CIFAR10_STD = [0.247, 0.2435, 0.2616];
export const CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"] as const;

export interface Cifar10LoadOptions {
  /**
   * Records each batch file must hold. The official files hold 10000; tests use tiny
   * fixtures. Checking the exact size catches truncated copies before training starts.
   */
  recordsPerFile?: number;
}

/** `dir` itself if it holds the batch files, else its `cifar-10-batches-bin` child if that does, else null. */
export function locateCifar10Dir(dir: string): string | null {
  for (const candidate of [dir, join(dir, CIFAR10_DIRNAME)]) {
    if (existsSync(join(candidate, CIFAR10_TRAIN_FILES[0]))) return candidate;
  }
  return null;
}

/**
 * The cached copy in `cacheDir`, or null unless all six files are present at full size.
 * Downloads only ever rename a fully extracted directory into this place, so a
 * directory that passes this check is complete.
 */
export function findCifar10(cacheDir: string, opts: Cifar10LoadOptions = {}): string | null {
  const dir = join(cacheDir, CIFAR10_DIRNAME);
  return isCompleteCifar10Dir(dir, opts) ? dir : null;
}

export function isCompleteCifar10Dir(dir: string, opts: Cifar10LoadOptions = {}): boolean {
  const expected = (opts.recordsPerFile ?? CIFAR10_RECORDS_PER_FILE) * CIFAR10_RECORD_BYTES;
  return [...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE].every((f) => {
    const path = join(dir, f);
    return existsSync(path) && statSync(path).isFile() && statSync(path).size === expected;
  });
}

const LAYOUT: CifarLayout = {
  label: "CIFAR-10",
  labelBytes: 1,
  labelAt: 0,
  numClasses: 10,
  dirName: CIFAR10_DIRNAME,
  otherLayoutHint: (size) => (size % 3074 === 0 ? " It matches CIFAR-100's 3074-byte records — use --dataset cifar100 for it." : ""),
};

/** Decodes one batch file; `file` names it in errors. `recordsPerFile: null` accepts any whole count. */
export function parseCifar10Batch(bytes: Uint8Array, file: string, recordsPerFile: number | null = CIFAR10_RECORDS_PER_FILE): Split {
  return parseCifarRecords(bytes, file, LAYOUT, recordsPerFile);
}

async function readBatch(dir: string, name: string, recordsPerFile: number): Promise<Split> {
  const path = join(dir, name);
  if (!existsSync(path)) {
    throw new DataError(
      `${path}: missing; a ${CIFAR10_DIRNAME} directory needs ${[...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE].join(", ")} — re-extract the archive or point --data-dir at a complete copy.`,
      path,
    );
  }
  return parseCifar10Batch(new Uint8Array(await Bun.file(path).arrayBuffer()), path, recordsPerFile);
}

/** Loads a `cifar-10-batches-bin` directory (or a directory containing one). */
export async function loadCifar10Dir(dir: string, opts: Cifar10LoadOptions = {}): Promise<Dataset> {
  const located = locateCifar10Dir(dir);
  if (!located) {
    const why = existsSync(dir)
      ? `${dir} contains neither ${CIFAR10_TRAIN_FILES[0]} nor ${CIFAR10_DIRNAME}/${CIFAR10_TRAIN_FILES[0]}`
      : `CIFAR-10 directory ${dir} does not exist`;
    throw new DataError(
      `${why}; pass --data-dir pointing at an extracted ${CIFAR10_DIRNAME} directory (or its parent), or let the harness download CIFAR-10 (--set data.download=true).`,
      dir,
    );
  }
  const recordsPerFile = opts.recordsPerFile ?? CIFAR10_RECORDS_PER_FILE;
  // One file after another, in order: with several files damaged, the error names the first every time.
  const trainParts = [];
  for (const f of CIFAR10_TRAIN_FILES) trainParts.push(await readBatch(located, f, recordsPerFile));
  const test = await readBatch(located, CIFAR10_TEST_FILE, recordsPerFile);
  return {
    name: "cifar10",
    source: located,
    channels: 3,
    height: 32,
    width: 32,
    numClasses: 10,
    mean: [...CIFAR10_MEAN],
    std: [...CIFAR10_STD],
    train: concatSplits(trainParts, CIFAR10_IMAGE_BYTES),
    test,
  };
}
