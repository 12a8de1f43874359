/**
 * CIFAR-10 in its official binary layout (cifar-10-batches-bin): each record is one label
 * byte followed by 3072 pixel bytes, the 32x32 red plane, then green, then blue — already
 * CHW, so records copy straight into our NCHW buffers.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { DataError, describeSize } from "./errors.ts";
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

/** Decodes one batch file; `file` names it in errors. `recordsPerFile: null` accepts any whole count. */
export function parseCifar10Batch(bytes: Uint8Array, file: string, recordsPerFile: number | null = CIFAR10_RECORDS_PER_FILE): Split {
  if (bytes.length % CIFAR10_RECORD_BYTES !== 0) {
    const hint = bytes.length % 3074 === 0 ? " It matches CIFAR-100's 3074-byte records — use the CIFAR-10 binary version." : "";
    throw new DataError(
      `${file}: size ${describeSize(bytes.length)} is not a whole number of ${CIFAR10_RECORD_BYTES}-byte CIFAR-10 records ` +
        `(1 label byte + 3072 pixel bytes), so it is truncated or not a CIFAR-10 binary batch.${hint} ` +
        `Re-download (delete the cached ${CIFAR10_DIRNAME} directory) or point --data-dir at an intact copy.`,
      file,
    );
  }
  const count = bytes.length / CIFAR10_RECORD_BYTES;
  if (recordsPerFile !== null && count !== recordsPerFile) {
    throw new DataError(
      `${file}: truncated or corrupt: expected ${describeSize(recordsPerFile * CIFAR10_RECORD_BYTES)} ` +
        `(${recordsPerFile} records of ${CIFAR10_RECORD_BYTES}) but the file is ${describeSize(bytes.length)} (${count} records). ` +
        `Re-download (delete the cached ${CIFAR10_DIRNAME} directory) or point --data-dir at an intact copy.`,
      file,
    );
  }
  const images = new Uint8Array(count * CIFAR10_IMAGE_BYTES);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const rec = i * CIFAR10_RECORD_BYTES;
    const label = bytes[rec]!;
    if (label > 9) {
      throw new DataError(`${file}: record ${i} has label ${label}, outside 0..9; the file is corrupt or not CIFAR-10 — re-download it.`, file);
    }
    labels[i] = label;
    images.set(bytes.subarray(rec + 1, rec + CIFAR10_RECORD_BYTES), i * CIFAR10_IMAGE_BYTES);
  }
  return { images, labels, count };
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

function concatSplits(parts: Split[]): Split {
  const count = parts.reduce((n, p) => n + p.count, 0);
  const images = new Uint8Array(count * CIFAR10_IMAGE_BYTES);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * CIFAR10_IMAGE_BYTES);
    labels.set(p.labels, at);
    at += p.count;
  }
  return { images, labels, count };
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
  const [trainParts, test] = await Promise.all([
    Promise.all(CIFAR10_TRAIN_FILES.map((f) => readBatch(located, f, recordsPerFile))),
    readBatch(located, CIFAR10_TEST_FILE, recordsPerFile),
  ]);
  return {
    name: "cifar10",
    source: located,
    channels: 3,
    height: 32,
    width: 32,
    numClasses: 10,
    mean: [...CIFAR10_MEAN],
    std: [...CIFAR10_STD],
    train: concatSplits(trainParts),
    test,
  };
}
