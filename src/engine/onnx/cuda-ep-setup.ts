/**
 * Installs ONNX Runtime's CUDA execution provider beside onnxruntime-node's core library
 * (`bun run setup:cuda-ep`). onnxruntime-node's own install downloads it from GitHub,
 * which offline machines cannot reach; the npm registry has the same provider libraries
 * in a Unity package (com.github.asus4.onnxruntime.linux-x64-gpu), and they load into
 * onnxruntime-node's core when both are the same ONNX Runtime version. The tarball is
 * 180 MB (230 MB unpacked), so this runs on demand, never as part of `bun install`.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { writeFileAtomic } from "../../util/atomic-write.ts";
import { CUDA_EP_MARKER, CUDA_PROVIDER_LIB, cudaEpInstall, ortVersion, SHARED_PROVIDER_LIB, type CudaEpMarker } from "./providers.ts";
import { DownloadError, downloadFile, fileDigest, removeStaleTemps, tempName, type FetchLike } from "../../util/download.ts";

export const CUDA_EP_PACKAGE = "com.github.asus4.onnxruntime.linux-x64-gpu";

export interface CudaEpRelease {
  /** The package's version on npm. */
  version: string;
  /** The ONNX Runtime its provider libraries are built for (its README's "Tested environment"). */
  ort: string;
}

/**
 * The package's versions with CUDA provider libraries for Linux x64, newest first
 * (npm has 0.2.1 and 0.4.9; 0.2.1 is of the package's 0.2 line, ONNX Runtime 1.19-1.20,
 * far older than this project's onnxruntime-node). A new one goes here once its README's
 * ORT version is read; setup checks that README again before installing.
 */
export const CUDA_EP_RELEASES: readonly CudaEpRelease[] = [{ version: "0.4.9", ort: "1.29.0" }];

/** Where the provider libraries sit in the package; the shared one first, so the CUDA one never appears without it. */
const MEMBER_DIR = "package/Plugins/Linux/x64";
const FILES = [SHARED_PROVIDER_LIB, CUDA_PROVIDER_LIB];

/** A failure the user fixes (a version mismatch, no network, a corrupt download): printed as one line, no stack. */
export class SetupError extends Error {
  override readonly name = "SetupError";
}

export type { FetchLike };

export interface SetupOptions {
  /** onnxruntime-node's native folder (libonnxruntime.so.1). */
  binDir: string;
  /** The tarball is kept in <cacheDir>/cuda-ep/. */
  cacheDir: string;
  registry: string;
  /** A copy of the package tarball to use instead of downloading (checked like a download, then cached). */
  tarball?: string;
  /** Install again even when the same libraries are there. */
  force?: boolean;
  fetchImpl?: FetchLike;
  log?: (line: string) => void;
}

export interface SetupResult {
  status: "installed" | "already installed";
  binDir: string;
  release: CudaEpRelease;
  tarball: string;
}

/** The registry's default: npm's configuration when run through npm/bun with one set, else npmjs. */
export function defaultRegistry(env: Record<string, string | undefined> = process.env): string {
  return (env.npm_config_registry || env.NPM_CONFIG_REGISTRY || "https://registry.npmjs.org").replace(/\/+$/, "");
}

/** The release built for ONNX Runtime `ort`, or a SetupError naming both versions and the fix. */
export function releaseFor(ort: string | undefined, releases: readonly CudaEpRelease[] = CUDA_EP_RELEASES): CudaEpRelease {
  const match = releases.find((r) => r.ort === ort);
  if (match) return match;
  const newest = releases[0]!;
  throw new SetupError(
    `onnxruntime-node is ${ort ?? "of unknown version"} but the CUDA provider libraries on npm (${CUDA_EP_PACKAGE}@${newest.version}) are built for ONNX Runtime ${newest.ort}, and the two must match exactly: set "onnxruntime-node": "${newest.ort}" in package.json, run \`bun install\`, then run this again`,
  );
}

/** The sha512 integrity string (as npm writes it) of a file, streamed. */
export async function integrityOf(path: string): Promise<string> {
  return `sha512-${(await fileDigest(path, "sha512")).toString("base64")}`;
}

/** Temp files and folders in the cache and in onnxruntime-node's folder (removeStaleTemps clears those of dead runs). */
const TEMP_PREFIX = "cuda-ep";

/** The registry's facts about one version: where its tarball is and its integrity. */
async function registryDist(o: SetupOptions, release: CudaEpRelease): Promise<{ tarball: string; integrity: string }> {
  const url = `${o.registry}/${CUDA_EP_PACKAGE}/${release.version}`;
  const fetchImpl = o.fetchImpl ?? ((u, init) => fetch(u, init));
  let res: Response;
  try {
    res = await fetchImpl(url, { signal: AbortSignal.timeout(30_000) });
  } catch (e) {
    throw new SetupError(`could not reach the npm registry (${url}): ${(e as Error).message}; check the network, or pass --tarball with a copy of the package`);
  }
  if (!res.ok) throw new SetupError(`the npm registry answered HTTP ${res.status} for ${url}`);
  const meta = (await res.json()) as { dist?: { tarball?: string; integrity?: string } };
  const { tarball, integrity } = meta.dist ?? {};
  if (!tarball || !integrity?.startsWith("sha512-")) throw new SetupError(`${url} names no tarball with a sha512 integrity`);
  return { tarball, integrity };
}

/** Streams `url` into `path`, returning its sha512 integrity; progress every 10% on the log. */
async function download(url: string, path: string, o: SetupOptions): Promise<string> {
  let shown = 0;
  try {
    const digest = await downloadFile(url, path, {
      fetchImpl: o.fetchImpl,
      connectTimeoutMs: 60_000,
      stallTimeoutMs: 60_000,
      hash: "sha512",
      onProgress: (bytes, total) => {
        if (total && bytes / total >= (shown + 1) / 10) {
          shown = Math.floor((bytes / total) * 10);
          o.log?.(`  ${shown * 10}% of ${(total / 1e6).toFixed(0)} MB`);
        }
      },
    });
    return `sha512-${digest.toString("base64")}`;
  } catch (e) {
    if (!(e instanceof DownloadError)) throw e;
    const f = e.failure;
    throw new SetupError(
      f.kind === "connect"
        ? `could not download ${url}: ${f.reason}`
        : f.kind === "http"
          ? `could not download ${url}: HTTP ${f.status}`
          : f.kind === "stream"
            ? `download of ${url} failed after ${f.bytes} bytes: ${f.reason}; run this again`
            : `download of ${url} is truncated (${f.bytes} of ${f.total} bytes); run this again`,
    );
  }
}

/**
 * The package tarball in the cache, verified: a cached copy is checked against the
 * registry's integrity where it can be reached, else against the integrity recorded
 * when it was downloaded; a missing or bad one is (re)downloaded.
 */
async function cachedTarball(o: SetupOptions, release: CudaEpRelease): Promise<{ path: string; integrity: string }> {
  const dir = join(o.cacheDir, "cuda-ep");
  mkdirSync(dir, { recursive: true });
  removeStaleTemps(dir, TEMP_PREFIX);
  const path = join(dir, `${CUDA_EP_PACKAGE}-${release.version}.tgz`);
  const recorded = `${path}.integrity`;
  let expected: string | undefined;
  let url: string | undefined;
  const fromRegistry = async () => {
    if (!expected) ({ tarball: url, integrity: expected } = await registryDist(o, release));
    return expected;
  };
  if (o.tarball) {
    const want = await fromRegistry();
    const got = await integrityOf(o.tarball);
    if (got !== want) throw new SetupError(`${o.tarball} is not ${CUDA_EP_PACKAGE}@${release.version} (its sha512 differs from the registry's)`);
    const part = join(dir, tempName(TEMP_PREFIX, ".part"));
    copyFileSync(o.tarball, part);
    renameSync(part, path);
    writeFileAtomic(recorded, `${want}\n`);
    return { path, integrity: want };
  }
  if (existsSync(path)) {
    let want: string | undefined;
    try {
      want = await fromRegistry();
    } catch (e) {
      // Offline: the integrity checked against the registry when it was downloaded.
      if (!existsSync(recorded)) throw e;
      want = readFileSync(recorded, "utf8").trim();
    }
    if ((await integrityOf(path)) === want) return { path, integrity: want };
    o.log?.(`${path} is damaged (sha512 differs); downloading it again`);
    rmSync(path, { force: true });
  }
  const want = await fromRegistry();
  const part = join(dir, tempName(TEMP_PREFIX, ".part"));
  try {
    o.log?.(`downloading ${url}`);
    const got = await download(url!, part, o);
    if (got !== want) throw new SetupError(`the download of ${url} does not match the registry's sha512 (got ${got}); run this again`);
    renameSync(part, path);
    writeFileAtomic(recorded, `${want}\n`);
  } finally {
    rmSync(part, { force: true });
  }
  return { path, integrity: want };
}

/**
 * Puts the CUDA and shared provider libraries beside libonnxruntime.so.1 in `binDir`:
 * only when the release is built for that ORT version, extracted into a temporary
 * folder inside `binDir` and renamed into place, so no half-written library is ever
 * seen under its name. A second run with the same libraries there does nothing.
 */
export async function setupCudaEp(o: SetupOptions): Promise<SetupResult> {
  if (process.platform !== "linux" || process.arch !== "x64")
    throw new SetupError(`the CUDA execution provider is installed for Linux x64 only (this is ${process.platform} ${process.arch})`);
  if (!existsSync(join(o.binDir, "libonnxruntime.so.1")))
    throw new SetupError(`${o.binDir} has no libonnxruntime.so.1: is onnxruntime-node installed (\`bun install\`)?`);
  const release = releaseFor(ortVersion(o.binDir));
  const before = cudaEpInstall(o.binDir);
  if (!o.force && before.installed && before.marker?.package === CUDA_EP_PACKAGE && before.marker.version === release.version && !before.mismatch)
    return { status: "already installed", binDir: o.binDir, release, tarball: join(o.cacheDir, "cuda-ep", `${CUDA_EP_PACKAGE}-${release.version}.tgz`) };

  const { path, integrity } = await cachedTarball(o, release);
  removeStaleTemps(o.binDir, TEMP_PREFIX);
  const tmp = join(o.binDir, tempName(TEMP_PREFIX));
  mkdirSync(tmp);
  try {
    const members = [...FILES.map((f) => `${MEMBER_DIR}/${f}`), "package/README.md"];
    const r = await execa("tar", ["-xzf", path, "--no-same-owner", "-C", tmp, ...members], { reject: false });
    if (r.exitCode !== 0)
      throw new SetupError(`tar could not extract the provider libraries from ${path}: ${String(r.stderr).split("\n")[0]}; delete it and run this again`);
    // The table above says which ORT a release is built for; the package's README must say the same.
    const readme = readFileSync(join(tmp, "package", "README.md"), "utf8");
    const stated = /ONNX Runtime:\s*\[?(\d+\.\d+\.\d+)/.exec(readme)?.[1];
    if (stated !== release.ort)
      throw new SetupError(`${CUDA_EP_PACKAGE}@${release.version} states ONNX Runtime ${stated ?? "(none)"}, not ${release.ort}: not installing`);
    for (const f of FILES) {
      const from = join(tmp, MEMBER_DIR, f);
      chmodSync(from, 0o755);
      renameSync(from, join(o.binDir, f));
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const marker: CudaEpMarker = { package: CUDA_EP_PACKAGE, version: release.version, ort: release.ort, integrity, installed: new Date().toISOString() };
  writeFileAtomic(join(o.binDir, CUDA_EP_MARKER), `${JSON.stringify(marker, null, 2)}\n`);
  return { status: "installed", binDir: o.binDir, release, tarball: path };
}
