/**
 * Fetches and unpacks the official CIFAR-10 binary tarball into the cache directory.
 * Atomicity: bytes go to a temp file, are MD5-checked, extracted into a temp directory,
 * and only then renamed to `<cacheDir>/cifar-10-batches-bin` — so an interrupted run
 * never leaves anything that findCifar10 would accept.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { CIFAR10_DIRNAME, findCifar10, isCompleteCifar10Dir } from "./cifar10.ts";
import type { Cifar10LoadOptions } from "./cifar10.ts";
import { DataError, describeSize } from "./errors.ts";
import { extractTar } from "./tar.ts";
import { DownloadError, downloadFile, fileDigest, removeStaleTemps, tempName, type FetchLike } from "../util/download.ts";

export const CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
export const CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530";
/** A tarball placed here by hand (e.g. on an offline machine) is used instead of downloading. */
export const CIFAR10_ARCHIVE_NAME = "cifar-10-binary.tar.gz";

export type { FetchLike };

/** Temp files and folders of downloads in the cache (removeStaleTemps clears those of dead runs). */
const TEMP_PREFIX = "cifar10";

export interface DownloadCifar10Options extends Cifar10LoadOptions {
  cacheDir: string;
  /** Called after every received chunk; `total` is undefined when the server sends no length. */
  onProgress?: (bytes: number, total: number | undefined) => void;
  fetchImpl?: FetchLike;
  url?: string;
  md5?: string;
  /** Give up if response headers take longer than this (ms). */
  connectTimeoutMs?: number;
  /** Give up if the body stalls for longer than this (ms). */
  stallTimeoutMs?: number;
}

function md5Mismatch(file: string, expected: string, actual: string, fix: string): DataError {
  return new DataError(`${file}: MD5 mismatch: expected ${expected}, got ${actual}; the file is corrupt or not the CIFAR-10 binary archive. ${fix}`, file);
}

async function downloadTo(path: string, opts: DownloadCifar10Options, url: string): Promise<string> {
  const fix = `Check network access, or fetch ${url} elsewhere and place it at ${join(opts.cacheDir, CIFAR10_ARCHIVE_NAME)}, or pass --data-dir.`;
  try {
    const digest = await downloadFile(url, path, {
      fetchImpl: opts.fetchImpl,
      connectTimeoutMs: opts.connectTimeoutMs ?? 30_000,
      stallTimeoutMs: opts.stallTimeoutMs ?? 60_000,
      hash: "md5",
      onProgress: opts.onProgress,
    });
    return digest.toString("hex");
  } catch (e) {
    if (!(e instanceof DownloadError)) throw e;
    const f = e.failure;
    const why =
      f.kind === "connect"
        ? `could not download ${url}: ${f.reason}`
        : f.kind === "http"
          ? `could not download ${url}: HTTP ${f.status} ${f.statusText}`
          : f.kind === "stream"
            ? `download of ${url} failed after ${describeSize(f.bytes)}: ${f.reason}`
            : `download of ${url} is truncated: expected ${describeSize(f.total)}, received ${describeSize(f.bytes)}. Re-run to download again`;
    throw new DataError(`${why}. ${fix}`, url);
  }
}

/**
 * Ensures a complete CIFAR-10 copy exists in `cacheDir` and returns its directory,
 * downloading (or using a hand-placed `cifar-10-binary.tar.gz`) when needed.
 */
export async function downloadCifar10(opts: DownloadCifar10Options): Promise<string> {
  const { cacheDir } = opts;
  const cached = findCifar10(cacheDir, opts);
  if (cached) return cached;
  mkdirSync(cacheDir, { recursive: true });
  removeStaleTemps(cacheDir, TEMP_PREFIX);

  const url = opts.url ?? CIFAR10_URL;
  const expectedMd5 = (opts.md5 ?? CIFAR10_MD5).toLowerCase();
  const manualArchive = join(cacheDir, CIFAR10_ARCHIVE_NAME);
  const partPath = join(cacheDir, tempName(TEMP_PREFIX, ".part"));
  const extractDir = join(cacheDir, tempName(TEMP_PREFIX, ".extract"));
  try {
    let archive: string;
    if (existsSync(manualArchive)) {
      archive = manualArchive;
      const actual = (await fileDigest(manualArchive, "md5")).toString("hex");
      if (actual !== expectedMd5) {
        throw md5Mismatch(manualArchive, expectedMd5, actual, `Delete ${manualArchive} and re-run to download it again.`);
      }
    } else {
      archive = partPath;
      const actual = await downloadTo(partPath, opts, url);
      if (actual !== expectedMd5) {
        throw md5Mismatch(
          url,
          expectedMd5,
          actual,
          `The partial file was deleted; re-run to download again, or fetch the archive manually, check its MD5 and place it at ${manualArchive}.`,
        );
      }
    }

    let tar: Uint8Array;
    try {
      tar = gunzipSync(new Uint8Array(await Bun.file(archive).arrayBuffer()));
    } catch (e) {
      throw new DataError(`${archive}: not a valid gzip archive (${(e as Error).message}); delete it and re-download.`, archive);
    }
    mkdirSync(extractDir);
    extractTar(tar, extractDir, archive);
    const extracted = join(extractDir, CIFAR10_DIRNAME);
    if (!isCompleteCifar10Dir(extracted, opts)) {
      throw new DataError(`${archive}: archive does not contain a complete ${CIFAR10_DIRNAME} directory; delete it and re-download.`, archive);
    }

    const finalDir = join(cacheDir, CIFAR10_DIRNAME);
    // Whatever sits there failed findCifar10 above (an incomplete manual copy); replace it.
    rmSync(finalDir, { recursive: true, force: true });
    try {
      renameSync(extracted, finalDir);
    } catch (e) {
      // A concurrent run may have finished first; its copy is as good as ours.
      if (!findCifar10(cacheDir, opts)) throw e;
    }
    return finalDir;
  } finally {
    rmSync(partPath, { force: true });
    rmSync(extractDir, { recursive: true, force: true });
  }
}
