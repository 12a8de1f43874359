/**
 * Every dataset the harness reads, one entry each: how it loads, how many training
 * images it has (for dry-run estimates, without loading), whether it reads data.dataDir,
 * and where this machine holds it (doctor). A new dataset is one module and one entry
 * here (and its name in the schemas' data.dataset enum, which a test checks against
 * this table).
 */
import { join } from "node:path";
import { defaultCacheDir } from "./cache.ts";
import { findCifar10, loadCifar10Dir } from "./cifar10.ts";
import { downloadCifar10 } from "./cifar10-download.ts";
import { CIFAR100_COUNTS, downloadCifar100, findCifar100, loadCifar100Dir } from "./cifar100.ts";
import { EMBEDDED_SUBSET_DIR, loadEmbeddedFashionMnist } from "./embedded.ts";
import { DataError } from "./errors.ts";
import { DEBIAN_FASHION_MNIST_DIR, FASHION_MNIST_FILES, findIdxFile, loadFashionMnistDir } from "./fashion-mnist.ts";
import { loadImageFolder } from "./image-folder.ts";
import { loadNpyDir, NPY_FILES } from "./npy-dataset.ts";
import { readNpyHeader } from "./npy.ts";
import { makeSynthetic, type SyntheticOptions } from "./synthetic.ts";
import { findTinyImageNet, loadTinyImageNet, TINY_IMAGENET_COUNTS } from "./tiny-imagenet.ts";
import type { FetchLike } from "./archive-download.ts";
import type { Dataset, DatasetName } from "./types.ts";

export interface LoadOptions {
  dataDir?: string;
  cacheDir?: string;
  /** Whether an archive may be downloaded when not cached (default true). */
  download?: boolean;
  /** Zero-pad Fashion-MNIST (and smaller .npy) images to this size. */
  padTo?: number;
  /** image-folder: the side images are resized and centre-cropped to. */
  imageSize?: number;
  log?: (line: string) => void;
  onProgress?: (bytes: number, total: number | undefined) => void;
  fetchImpl?: FetchLike;
  /** Give up if the server takes longer than this to answer (ms). */
  connectTimeoutMs?: number;
  synthetic?: Partial<SyntheticOptions>;
  /** Only for tests with tiny fixture batches. */
  cifarRecordsPerFile?: number;
}

export interface DatasetEntry {
  /** One line for doctor and the README. */
  summary: string;
  /** Whether data.dataDir means anything to it (a dataDir beside one that reads none is a mistake). */
  readsDir: boolean;
  /** Training images, without loading (dry-run estimates). */
  nominalTrainCount(dataDir?: string): number;
  load(o: LoadOptions): Promise<Dataset>;
  /** Where this machine holds it ready to load (a cached copy), or null; absent: nothing to look for. */
  locate?(cacheDir: string): string | null;
}

export const SYNTHETIC_DEFAULTS: SyntheticOptions = { count: 512, testCount: 256, channels: 3, size: 32, numClasses: 10, seed: 0 };
export const DEFAULT_IMAGE_SIZE = 64;

const cacheOf = (o: LoadOptions) => o.cacheDir ?? defaultCacheDir();
const cifarOpts = (o: LoadOptions) => (o.cifarRecordsPerFile === undefined ? {} : { recordsPerFile: o.cifarRecordsPerFile });

/** Downloads the dataset into the cache unless it is there, with the advice `fix` when downloading is off. */
async function cachedOrDownloaded(
  o: LoadOptions,
  label: string,
  find: (cacheDir: string) => string | null,
  fetch: () => Promise<string>,
  fix: string,
): Promise<string> {
  const cacheDir = cacheOf(o);
  const cached = find(cacheDir);
  if (cached) return cached;
  if (o.download === false)
    throw new DataError(`${label} is not in the cache directory ${cacheDir}; ${fix}, or allow the download (--set data.download=true).`, cacheDir);
  o.log?.(`data: ${label} not cached in ${cacheDir}; downloading`);
  return fetch();
}

const progress = (o: LoadOptions) => ({
  cacheDir: cacheOf(o),
  onProgress: o.onProgress,
  log: o.log,
  ...(o.fetchImpl ? { fetchImpl: o.fetchImpl } : {}),
  ...(o.connectTimeoutMs ? { connectTimeoutMs: o.connectTimeoutMs } : {}),
});

function npyTrainCount(dataDir: string | undefined): number {
  if (dataDir === undefined) return 50_000;
  try {
    return readNpyHeader(join(dataDir, NPY_FILES.trainImages)).shape[0] ?? 50_000;
  } catch {
    return 50_000;
  }
}

const idxComplete = (dir: string) => Object.values(FASHION_MNIST_FILES).every((f) => findIdxFile(dir, f) !== null);

export const DATASETS: { [K in DatasetName]: DatasetEntry } = {
  cifar10: {
    summary: "CIFAR-10, official binary version (downloaded and MD5-checked, or --data-dir cifar-10-batches-bin)",
    readsDir: true,
    nominalTrainCount: () => 50_000,
    load: async (o) => {
      if (o.dataDir) return loadCifar10Dir(o.dataDir, cifarOpts(o));
      const dir = await cachedOrDownloaded(
        o,
        "CIFAR-10",
        (c) => findCifar10(c, cifarOpts(o)),
        () => downloadCifar10({ ...progress(o), ...cifarOpts(o) }),
        "pass --data-dir pointing at an extracted cifar-10-batches-bin",
      );
      return loadCifar10Dir(dir, cifarOpts(o));
    },
    locate: (c) => findCifar10(c),
  },
  cifar100: {
    summary: "CIFAR-100, official binary version, 100 fine labels (downloaded and MD5-checked, or --data-dir cifar-100-binary)",
    readsDir: true,
    nominalTrainCount: () => CIFAR100_COUNTS.train,
    load: async (o) => {
      // A user's copy may be a subset in the official format (said in a notice); the cache must be whole.
      if (o.dataDir) return loadCifar100Dir(o.dataDir, { counts: null, log: o.log });
      const dir = await cachedOrDownloaded(
        o,
        "CIFAR-100",
        (c) => findCifar100(c),
        () => downloadCifar100(progress(o)),
        "pass --data-dir pointing at an extracted cifar-100-binary",
      );
      return loadCifar100Dir(dir);
    },
    locate: (c) => findCifar100(c),
  },
  "tiny-imagenet": {
    summary:
      "Tiny-ImageNet-200, 64x64, validation split as test (official zip downloaded and MD5-checked, or --data-dir the zip or its folder; decoded once into the cache)",
    readsDir: true,
    nominalTrainCount: () => TINY_IMAGENET_COUNTS.train,
    load: (o) => loadTinyImageNet({ ...progress(o), dataDir: o.dataDir, download: o.download }),
    locate: (c) => findTinyImageNet(c),
  },
  "image-folder": {
    summary: "your images in ImageFolder layout (--data-dir with train/ and val/, one folder per class; ImageNet), decoded and resized once into the cache",
    readsDir: true,
    // Unknown without listing the folder; ImageNet-1k's size is the useful upper guess.
    nominalTrainCount: () => 1_281_167,
    load: (o) => loadImageFolder({ dataDir: o.dataDir, cacheDir: cacheOf(o), imageSize: o.imageSize ?? DEFAULT_IMAGE_SIZE, log: o.log }),
  },
  "fashion-mnist": {
    summary: `Fashion-MNIST IDX files (Debian's dataset-fashion-mnist in ${DEBIAN_FASHION_MNIST_DIR}, or --data-dir)`,
    readsDir: true,
    nominalTrainCount: () => 60_000,
    load: (o) => loadFashionMnistDir(o.dataDir ?? DEBIAN_FASHION_MNIST_DIR, { padTo: o.padTo }),
    locate: () => (idxComplete(DEBIAN_FASHION_MNIST_DIR) ? DEBIAN_FASHION_MNIST_DIR : null),
  },
  "fashion-mnist-embedded": {
    summary: "the Fashion-MNIST subset committed in data/ (always at hand)",
    readsDir: false,
    nominalTrainCount: () => 5_000,
    load: (o) => loadEmbeddedFashionMnist({ padTo: o.padTo }),
    locate: () => (idxComplete(EMBEDDED_SUBSET_DIR) ? EMBEDDED_SUBSET_DIR : null),
  },
  npy: {
    summary: "your own arrays: four .npy files in --data-dir",
    readsDir: true,
    nominalTrainCount: npyTrainCount,
    load: (o) => {
      if (!o.dataDir)
        throw new DataError(
          `data.dataset=npy needs data.dataDir: a directory holding ${Object.values(NPY_FILES).join(", ")} (--set data.dataDir=/path/to/dir).`,
        );
      return loadNpyDir(o.dataDir, { padTo: o.padTo, log: o.log });
    },
  },
  synthetic: {
    summary: "generated, learnable images (tests and smoke runs)",
    readsDir: false,
    nominalTrainCount: () => SYNTHETIC_DEFAULTS.count,
    load: (o) => Promise.resolve(makeSynthetic({ ...SYNTHETIC_DEFAULTS, ...o.synthetic })),
  },
};

export const DATASET_NAMES = Object.keys(DATASETS) as DatasetName[];
