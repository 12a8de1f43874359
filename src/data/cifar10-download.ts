/** The official CIFAR-10 binary tarball, fetched and unpacked into the cache (archive-download.ts). */
import { ensureArchive, untarGz, type ArchiveDownloadOptions, type ArchiveSpec } from "./archive-download.ts";
import { CIFAR10_DIRNAME, isCompleteCifar10Dir, type Cifar10LoadOptions } from "./cifar10.ts";

export type { FetchLike } from "./archive-download.ts";

export const CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
export const CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530";
/** A tarball placed here by hand (e.g. on an offline machine) is used instead of downloading. */
export const CIFAR10_ARCHIVE_NAME = "cifar-10-binary.tar.gz";

export function cifar10Archive(opts: Cifar10LoadOptions = {}): ArchiveSpec {
  return {
    label: "CIFAR-10 binary",
    url: CIFAR10_URL,
    md5: CIFAR10_MD5,
    archiveName: CIFAR10_ARCHIVE_NAME,
    dirName: CIFAR10_DIRNAME,
    tempPrefix: "cifar10",
    isComplete: (dir) => isCompleteCifar10Dir(dir, opts),
    unpack: untarGz(CIFAR10_DIRNAME),
  };
}

export type DownloadCifar10Options = ArchiveDownloadOptions & Cifar10LoadOptions;

/**
 * Ensures a complete CIFAR-10 copy exists in `cacheDir` and returns its directory,
 * downloading (or using a hand-placed `cifar-10-binary.tar.gz`) when needed.
 */
export function downloadCifar10(opts: DownloadCifar10Options): Promise<string> {
  return ensureArchive(cifar10Archive(opts), opts);
}
