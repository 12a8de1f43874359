export type { Dataset, DatasetName, Split } from "./types.ts";
export { DataError } from "./errors.ts";
export { defaultCacheDir } from "./cache.ts";
export {
  CIFAR10_CLASSES,
  CIFAR10_DIRNAME,
  CIFAR10_MEAN,
  CIFAR10_STD,
  findCifar10,
  isCompleteCifar10Dir,
  loadCifar10Dir,
  locateCifar10Dir,
  parseCifar10Batch,
} from "./cifar10.ts";
export type { Cifar10LoadOptions } from "./cifar10.ts";
export { CIFAR10_ARCHIVE_NAME, CIFAR10_MD5, CIFAR10_URL, downloadCifar10 } from "./cifar10-download.ts";
export type { DownloadCifar10Options, FetchLike } from "./cifar10-download.ts";
export { DEBIAN_FASHION_MNIST_DIR, FASHION_MNIST_CLASSES, FASHION_MNIST_FILES, loadFashionMnistDir, padImages } from "./fashion-mnist.ts";
export type { FashionMnistOptions } from "./fashion-mnist.ts";
export { EMBEDDED_SUBSET_DIR, loadEmbeddedFashionMnist } from "./embedded.ts";
export { parseNpy, readNpyHeader } from "./npy.ts";
export type { NpyArray, NpyDtype, NpyHeader } from "./npy.ts";
export { floatPixelMax, imageLayout, labelsOf, loadNpyDir, looksLikeNpyDir, NPY_FILES, padNchw, pixelsOf, toNchw } from "./npy-dataset.ts";
export type { FloatScale, ImageLayout, ImageLayoutName, NpyLoadOptions } from "./npy-dataset.ts";
export { makeSynthetic } from "./synthetic.ts";
export type { SyntheticOptions } from "./synthetic.ts";
export { balancedSubset, classCounts } from "./subset.ts";
export { channelStats } from "./stats.ts";
export { BatchLoader, evalBatches, normalisationLut } from "./batches.ts";
export type { AugmentOptions, Batch, BatchLoaderOptions } from "./batches.ts";
export { resolveDataset } from "./resolve.ts";
export type { DatasetChoice, ResolveOptions } from "./resolve.ts";
