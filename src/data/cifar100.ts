/**
 * CIFAR-100 in its official binary layout (cifar-100-binary/train.bin and test.bin):
 * each record is a coarse label byte, a fine label byte, then 3072 pixel bytes as in
 * CIFAR-10. The class is the fine label (100 classes), as in BiP's and every pruning
 * paper's CIFAR-100 runs. Normalisation constants are the training split's own statistics.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { CIFAR_IMAGE_BYTES, parseCifarRecords, recordBytes, type CifarLayout } from "./cifar-binary.ts";
import { ensureArchive, findCached, untarGz, type ArchiveDownloadOptions, type ArchiveSpec } from "./archive-download.ts";
import { DataError } from "./errors.ts";
import { channelStats } from "./stats.ts";
import type { Dataset } from "./types.ts";

export const CIFAR100_DIRNAME = "cifar-100-binary";
export const CIFAR100_FILES = { train: "train.bin", test: "test.bin" } as const;
export const CIFAR100_COUNTS = { train: 50_000, test: 10_000 } as const;
export const CIFAR100_URL = "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz";
/** The archive's MD5 as published with it (also datasets-mila/datasets--cifar100's md5sums). */
export const CIFAR100_MD5 = "03b5dce01913d631647c71ecec9e9cb8";
export const CIFAR100_ARCHIVE_NAME = "cifar-100-binary.tar.gz";

const LAYOUT: CifarLayout = {
  label: "CIFAR-100",
  labelBytes: 2,
  labelAt: 1,
  numClasses: 100,
  dirName: CIFAR100_DIRNAME,
  otherLayoutHint: (size) => (size % 3073 === 0 ? " It matches CIFAR-10's 3073-byte records — use --dataset cifar10 for it." : ""),
};

export interface Cifar100LoadOptions {
  /**
   * Records per split; the official files hold 50000 and 10000, tests use tiny fixtures.
   * null: any whole number of records (a user's copy given as --data-dir, with a notice
   * when it is not the official size).
   */
  counts?: { train: number; test: number } | null;
  log?: (line: string) => void;
}

/** `dir` itself if it holds train.bin, else its `cifar-100-binary` child if that does, else null. */
export function locateCifar100Dir(dir: string): string | null {
  for (const candidate of [dir, join(dir, CIFAR100_DIRNAME)]) if (existsSync(join(candidate, CIFAR100_FILES.train))) return candidate;
  return null;
}

export function isCompleteCifar100Dir(dir: string, opts: Cifar100LoadOptions = {}): boolean {
  const counts = opts.counts ?? CIFAR100_COUNTS;
  return (["train", "test"] as const).every((s) => {
    const path = join(dir, CIFAR100_FILES[s]);
    return existsSync(path) && statSync(path).isFile() && statSync(path).size === counts[s] * recordBytes(LAYOUT);
  });
}

export function cifar100Archive(opts: Cifar100LoadOptions = {}): ArchiveSpec {
  return {
    label: "CIFAR-100 binary",
    url: CIFAR100_URL,
    md5: CIFAR100_MD5,
    archiveName: CIFAR100_ARCHIVE_NAME,
    dirName: CIFAR100_DIRNAME,
    tempPrefix: "cifar100",
    isComplete: (dir) => isCompleteCifar100Dir(dir, opts),
    unpack: untarGz(CIFAR100_DIRNAME),
  };
}

export const findCifar100 = (cacheDir: string, opts: Cifar100LoadOptions = {}) => findCached(cifar100Archive(opts), cacheDir);
export const downloadCifar100 = (opts: ArchiveDownloadOptions & Cifar100LoadOptions) => ensureArchive(cifar100Archive(opts), opts);

/** Loads a `cifar-100-binary` directory (or a directory containing one). */
export async function loadCifar100Dir(dir: string, opts: Cifar100LoadOptions = {}): Promise<Dataset> {
  const located = locateCifar100Dir(dir);
  if (!located) {
    throw new DataError(
      `${existsSync(dir) ? `${dir} contains neither ${CIFAR100_FILES.train} nor ${CIFAR100_DIRNAME}/${CIFAR100_FILES.train}` : `CIFAR-100 directory ${dir} does not exist`}; ` +
        `pass --data-dir pointing at an extracted ${CIFAR100_DIRNAME} directory (or its parent), or let the harness download CIFAR-100 (--set data.download=true).`,
      dir,
    );
  }
  const counts = opts.counts === null ? null : (opts.counts ?? CIFAR100_COUNTS);
  const read = async (s: "train" | "test") => {
    const path = join(located, CIFAR100_FILES[s]);
    if (!existsSync(path)) {
      throw new DataError(
        `${path}: missing; a ${CIFAR100_DIRNAME} directory needs ${Object.values(CIFAR100_FILES).join(" and ")} — re-extract the archive or point --data-dir at a complete copy.`,
        path,
      );
    }
    return parseCifarRecords(new Uint8Array(await Bun.file(path).arrayBuffer()), path, LAYOUT, counts ? counts[s] : null);
  };
  // One after the other: with both files damaged, the error names the training file every time.
  const train = await read("train");
  const test = await read("test");
  if (counts === null && (train.count !== CIFAR100_COUNTS.train || test.count !== CIFAR100_COUNTS.test))
    opts.log?.(
      `notice: ${located} holds ${train.count} training and ${test.count} test records, not the official ${CIFAR100_COUNTS.train} and ${CIFAR100_COUNTS.test}: a subset, or a truncated copy`,
    );
  return {
    name: "cifar100",
    source: located,
    channels: 3,
    height: 32,
    width: 32,
    numClasses: 100,
    ...channelStats(train.images, train.count, 3, CIFAR_IMAGE_BYTES / 3),
    train,
    test,
  };
}
