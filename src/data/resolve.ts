/**
 * Picks and loads the dataset a run asked for. `auto` prefers CIFAR-10 (the paper's
 * dataset) and falls back to the embedded Fashion-MNIST subset so the harness always runs,
 * logging one line that says which was chosen and why.
 */
import { existsSync } from "node:fs";
import { defaultCacheDir } from "./cache.ts";
import { findCifar10, loadCifar10Dir, locateCifar10Dir } from "./cifar10.ts";
import { downloadCifar10 } from "./cifar10-download.ts";
import { DATASET_NAMES, DATASETS } from "./datasets.ts";
import type { FetchLike } from "./cifar10-download.ts";
import { loadEmbeddedFashionMnist } from "./embedded.ts";
import { DataError } from "./errors.ts";
import { FASHION_MNIST_FILES, loadFashionMnistDir, looksLikeIdxDir } from "./fashion-mnist.ts";
import { loadNpyDir, looksLikeNpyDir, NPY_FILES } from "./npy-dataset.ts";
import { balancedSubset } from "./subset.ts";
import type { SyntheticOptions } from "./synthetic.ts";
import type { Dataset, DatasetName } from "./types.ts";

export type DatasetChoice = "auto" | DatasetName;

export interface ResolveOptions {
  dataset: DatasetChoice;
  /** An existing cifar-10-batches-bin (or its parent), a directory of IDX files, or (npy) a directory of .npy files. */
  dataDir?: string;
  cacheDir?: string;
  /**
   * Whether CIFAR-10 may be downloaded when not cached. Default true; `auto` gives up
   * quickly (autoTimeoutMs) if the server is unreachable and falls back instead.
   */
  download?: boolean;
  /** Zero-pad Fashion-MNIST (and smaller .npy) images to this size (e.g. 32 for CIFAR-shaped models). */
  padTo?: number;
  log?: (line: string) => void;
  /** Keep a class-balanced, seeded subset of this many images. */
  trainLimit?: number;
  testLimit?: number;
  /**
   * Seed of the subsets; default 0. A data seed, never a training seed: every unit of
   * an experiment must see the same images.
   */
  subsetSeed?: number;
  onProgress?: (bytes: number, total: number | undefined) => void;
  fetchImpl?: FetchLike;
  /** How long `auto` waits for the CIFAR-10 server to answer before falling back (ms); default 5000. */
  autoTimeoutMs?: number;
  /** Overrides for `synthetic`. */
  synthetic?: Partial<SyntheticOptions>;
  /** Only for tests with tiny fixture batches. */
  cifarRecordsPerFile?: number;
  /** image-folder: the side images are resized and centre-cropped to. */
  imageSize?: number;
}

export async function resolveDataset(opts: ResolveOptions): Promise<Dataset> {
  const ds = await load(opts);
  return applyLimits(ds, opts);
}

function applyLimits(ds: Dataset, opts: ResolveOptions): Dataset {
  const seed = opts.subsetSeed ?? 0;
  const notes: string[] = [];
  let { train, test } = ds;
  if (opts.trainLimit !== undefined && opts.trainLimit < train.count) {
    train = balancedSubset(train, opts.trainLimit, ds.numClasses, seed);
    notes.push(`train ${train.count}/${ds.train.count}`);
  }
  if (opts.testLimit !== undefined && opts.testLimit < test.count) {
    // A separate seed stream so the two subsets are drawn independently.
    test = balancedSubset(test, opts.testLimit, ds.numClasses, seed + 1);
    notes.push(`test ${test.count}/${ds.test.count}`);
  }
  if (notes.length === 0) return ds;
  // Normalisation constants stay those of the full training set, as for the full run.
  return { ...ds, train, test, source: `${ds.source}; balanced subset (${notes.join(", ")}, data seed ${seed})` };
}

function load(opts: ResolveOptions): Promise<Dataset> {
  if (opts.dataset === "auto") return loadAuto(opts);
  const entry = DATASETS[opts.dataset];
  if (!entry) throw new DataError(`unknown dataset "${String(opts.dataset)}"; expected auto, ${DATASET_NAMES.join(", ")}.`);
  return entry.load({ ...opts, onProgress: progressLogger(opts, opts.dataset) });
}

function cifarOpts(opts: ResolveOptions) {
  return opts.cifarRecordsPerFile === undefined ? {} : { recordsPerFile: opts.cifarRecordsPerFile };
}

function progressLogger(opts: ResolveOptions, what: string): (bytes: number, total: number | undefined) => void {
  let nextMark = 0;
  return (bytes, total) => {
    opts.onProgress?.(bytes, total);
    if (!opts.log || opts.onProgress) return;
    // Without a progress bar, a line per 10% (or per 16 MiB when the size is unknown) is enough.
    const mark = total ? Math.floor((bytes / total) * 10) : Math.floor(bytes / (16 << 20));
    if (mark >= nextMark) {
      nextMark = mark + 1;
      opts.log(
        total ? `data: downloading ${what}: ${mark * 10}% of ${(total / 1e6).toFixed(0)} MB` : `data: downloading ${what}: ${(bytes / 1e6).toFixed(0)} MB`,
      );
    }
  };
}

async function loadAuto(opts: ResolveOptions): Promise<Dataset> {
  const log = opts.log ?? (() => {});
  if (opts.dataDir) {
    const cifarDir = locateCifar10Dir(opts.dataDir);
    if (cifarDir) {
      log(`data: auto → CIFAR-10 from --data-dir ${cifarDir}`);
      return loadCifar10Dir(cifarDir, cifarOpts(opts));
    }
    if (looksLikeIdxDir(opts.dataDir)) {
      log(`data: auto → Fashion-MNIST (IDX files) from --data-dir ${opts.dataDir}`);
      return loadFashionMnistDir(opts.dataDir, { padTo: opts.padTo });
    }
    if (looksLikeNpyDir(opts.dataDir)) {
      log(`data: auto → .npy files from --data-dir ${opts.dataDir}`);
      return loadNpyDir(opts.dataDir, { padTo: opts.padTo, log: opts.log });
    }
    throw new DataError(
      existsSync(opts.dataDir)
        ? `--data-dir ${opts.dataDir} holds neither CIFAR-10 (data_batch_1.bin, directly or in cifar-10-batches-bin/), IDX files (${FASHION_MNIST_FILES.trainImages}[.gz]) nor .npy files (${NPY_FILES.trainImages}); point it at one of those, or drop --data-dir.`
        : `--data-dir ${opts.dataDir} does not exist; point it at a cifar-10-batches-bin directory (or its parent), a directory of IDX files or one of .npy files, or drop --data-dir.`,
      opts.dataDir,
    );
  }

  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const cached = findCifar10(cacheDir, cifarOpts(opts));
  if (cached) {
    log(`data: auto → CIFAR-10 (cached in ${cached})`);
    return loadCifar10Dir(cached, cifarOpts(opts));
  }

  let why: string;
  if (opts.download === false) {
    why = `CIFAR-10 is not cached in ${cacheDir} and downloading is disabled`;
  } else {
    try {
      const timeout = opts.autoTimeoutMs ?? 5000;
      const dir = await downloadCifar10({
        cacheDir,
        ...cifarOpts(opts),
        connectTimeoutMs: timeout,
        onProgress: progressLogger(opts, "CIFAR-10"),
        ...(opts.fetchImpl ? { fetchImpl: opts.fetchImpl } : {}),
      });
      log(`data: auto → CIFAR-10 (downloaded to ${dir})`);
      return loadCifar10Dir(dir, cifarOpts(opts));
    } catch (e) {
      // The error's own advice is long; the notice keeps its first sentence and one fix.
      const reason = (e as Error).message.split(". ")[0]!.replace(/\.$/, "");
      why = `CIFAR-10 is not cached in ${cacheDir} and could not be downloaded (${reason})`;
    }
  }
  log(`data: auto → embedded Fashion-MNIST subset: ${why}. For CIFAR-10, pass --data-dir <cifar-10-batches-bin> or put cifar-10-binary.tar.gz in ${cacheDir}.`);
  return loadEmbeddedFashionMnist({ padTo: opts.padTo });
}

/**
 * Training images a dataset choice yields, without loading it (for --dry-run
 * estimates). `auto` counts as CIFAR-10, the larger of its two outcomes. `npy` reads the
 * count from the header of `dataDir`'s train_images.npy, and counts as CIFAR-10 when it
 * has no readable one (no dataDir given, or the file is missing or damaged).
 */
export function nominalTrainCount(dataset: DatasetChoice, trainLimit?: number, dataDir?: string): number {
  const full = dataset === "auto" ? DATASETS.cifar10.nominalTrainCount() : DATASETS[dataset].nominalTrainCount(dataDir);
  return trainLimit === undefined ? full : Math.min(full, trainLimit);
}
