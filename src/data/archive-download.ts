/**
 * Fetches a dataset's official archive into the cache and unpacks it, for every dataset
 * that has one (CIFAR-10, CIFAR-100, Tiny-ImageNet). Atomicity: bytes go to a temp file,
 * are MD5-checked, unpacked into a temp directory, and only then renamed into place, so
 * an interrupted run never leaves anything the dataset's completeness check accepts.
 * An archive placed in the cache by hand (an offline machine) is used instead of
 * downloading, after the same MD5 check.
 */
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { DataError, describeSize } from "./errors.ts";
import { extractTar } from "./tar.ts";
import { adoptPartial, DownloadError, downloadFile, fileDigest, removeStaleTemps, tempName, type FetchLike } from "../util/download.ts";

export type { FetchLike };

export interface ArchiveSpec {
  /** The dataset's name in messages ("CIFAR-100"). */
  label: string;
  url: string;
  md5: string;
  /** The archive's file name: a copy placed in the cache under this name is used. */
  archiveName: string;
  /** The finished directory's name in the cache. */
  dirName: string;
  /** Prefix of temp files and folders (removeStaleTemps clears those of dead runs). */
  tempPrefix: string;
  /** Whether `dir` holds the complete dataset. */
  isComplete(dir: string): boolean;
  /**
   * Unpacks the MD5-checked archive into `dest` (a fresh, empty temp directory) and
   * returns the directory under `dest` to move into place as `dirName`.
   */
  unpack(archive: string, dest: string, log: (line: string) => void): Promise<string>;
}

export interface ArchiveDownloadOptions {
  cacheDir: string;
  /** Called after every received chunk; `total` is undefined when the server sends no length. */
  onProgress?: (bytes: number, total: number | undefined) => void;
  log?: (line: string) => void;
  fetchImpl?: FetchLike;
  url?: string;
  md5?: string;
  /** Give up if response headers take longer than this (ms). */
  connectTimeoutMs?: number;
  /** Give up if the body stalls for longer than this (ms). */
  stallTimeoutMs?: number;
}

/** A `.tar.gz` unpacker for ArchiveSpec.unpack: the archive's top directory `top` is the dataset. */
export function untarGz(top: string): (archive: string, dest: string) => Promise<string> {
  return async (archive, dest) => {
    let tar: Uint8Array;
    try {
      tar = gunzipSync(new Uint8Array(await Bun.file(archive).arrayBuffer()));
    } catch (e) {
      throw new DataError(`${archive}: not a valid gzip archive (${(e as Error).message}); delete it and re-download.`, archive);
    }
    extractTar(tar, dest, archive);
    return join(dest, top);
  };
}

function md5Mismatch(spec: ArchiveSpec, file: string, expected: string, actual: string, fix: string): DataError {
  return new DataError(`${file}: MD5 mismatch: expected ${expected}, got ${actual}; the file is corrupt or not the ${spec.label} archive. ${fix}`, file);
}

/** A download that broke off with its bytes kept: the next run resumes it. */
class BrokenOffDownload extends DataError {}

async function downloadTo(spec: ArchiveSpec, path: string, opts: ArchiveDownloadOptions, url: string, resume: boolean): Promise<string> {
  const fix = `Check network access, or fetch ${url} elsewhere and place it at ${join(opts.cacheDir, spec.archiveName)}, or pass --data-dir.`;
  try {
    const digest = await downloadFile(url, path, {
      fetchImpl: opts.fetchImpl,
      connectTimeoutMs: opts.connectTimeoutMs ?? 30_000,
      stallTimeoutMs: opts.stallTimeoutMs ?? 60_000,
      hash: "md5",
      onProgress: opts.onProgress,
      resume,
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
            : `download of ${url} is truncated: expected ${describeSize(f.total)}, received ${describeSize(f.bytes)}`;
    if (f.kind === "stream" || f.kind === "truncated")
      throw new BrokenOffDownload(`${why}. The bytes received are kept: re-run to resume the download. ${fix}`, url);
    throw new DataError(`${why}. ${fix}`, url);
  }
}

/** The cached, complete copy of `spec`'s dataset in `cacheDir`, or null. */
export function findCached(spec: ArchiveSpec, cacheDir: string): string | null {
  const dir = join(cacheDir, spec.dirName);
  return spec.isComplete(dir) ? dir : null;
}

/**
 * Ensures a complete copy of `spec`'s dataset exists in `cacheDir` and returns its
 * directory, downloading (or using a hand-placed archive) when needed.
 */
export async function ensureArchive(spec: ArchiveSpec, opts: ArchiveDownloadOptions): Promise<string> {
  const { cacheDir } = opts;
  const cached = findCached(spec, cacheDir);
  if (cached) return cached;
  mkdirSync(cacheDir, { recursive: true });
  const url = opts.url ?? spec.url;
  const expectedMd5 = (opts.md5 ?? spec.md5).toLowerCase();
  const manualArchive = join(cacheDir, spec.archiveName);
  const partPath = join(cacheDir, tempName(spec.tempPrefix, ".part"));
  // A download a killed or broken run left behind is continued, not started over (the
  // MD5 of the whole file still decides); the other leftovers of dead runs go.
  const resumed = !existsSync(manualArchive) && adoptPartial(cacheDir, spec.tempPrefix, partPath);
  removeStaleTemps(cacheDir, spec.tempPrefix);
  if (resumed) opts.log?.(`data: resuming the ${spec.label} download from ${describeSize(statSync(partPath).size)}`);
  // Kept when the download broke off, for the next run to resume.
  let keepPart = false;
  try {
    let archive: string;
    if (existsSync(manualArchive)) {
      archive = manualArchive;
      const actual = (await fileDigest(manualArchive, "md5")).toString("hex");
      if (actual !== expectedMd5) {
        throw md5Mismatch(spec, manualArchive, expectedMd5, actual, `Delete ${manualArchive} and re-run to download it again.`);
      }
    } else {
      archive = partPath;
      let actual: string;
      try {
        actual = await downloadTo(spec, partPath, opts, url, resumed);
      } catch (e) {
        keepPart = e instanceof BrokenOffDownload;
        throw e;
      }
      if (actual !== expectedMd5) {
        throw md5Mismatch(
          spec,
          url,
          expectedMd5,
          actual,
          `The partial file was deleted; re-run to download again, or fetch the archive manually, check its MD5 and place it at ${manualArchive}.`,
        );
      }
    }

    return await buildCached(spec, cacheDir, (dest) => spec.unpack(archive, dest, opts.log ?? (() => {})), archive);
  } finally {
    if (!keepPart) rmSync(partPath, { force: true });
  }
}

/**
 * Builds `spec`'s dataset directory in a temp directory of `cacheDir` (`build` returns the
 * directory under it that holds the result), checks it is complete, and renames it into
 * place as `spec.dirName`. `from` names the source in the completeness error.
 */
export async function buildCached(spec: ArchiveSpec, cacheDir: string, build: (dest: string) => Promise<string>, from: string): Promise<string> {
  mkdirSync(cacheDir, { recursive: true });
  removeStaleTemps(cacheDir, spec.tempPrefix);
  const extractDir = join(cacheDir, tempName(spec.tempPrefix, ".extract"));
  try {
    mkdirSync(extractDir);
    const built = await build(extractDir);
    if (!spec.isComplete(built)) {
      throw new DataError(`${from}: does not hold a complete ${spec.label} (${spec.dirName}); delete it and download it again.`, from);
    }
    const finalDir = join(cacheDir, spec.dirName);
    // Whatever sits there failed the completeness check (an incomplete manual copy); replace it.
    rmSync(finalDir, { recursive: true, force: true });
    try {
      renameSync(built, finalDir);
    } catch (e) {
      // A concurrent run may have finished first; its copy is as good as ours.
      if (!findCached(spec, cacheDir)) throw e;
    }
    return finalDir;
  } finally {
    rmSync(extractDir, { recursive: true, force: true });
  }
}
