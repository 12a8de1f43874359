#!/usr/bin/env bun
/**
 * bun run setup:cuda-ep — installs ONNX Runtime's CUDA execution provider for
 * onnxruntime-node from the npm registry (src/engine/onnx/cuda-ep-setup.ts), then says
 * which CUDA 13 / cuDNN 9 libraries this machine still lacks to load it.
 */
import { Command } from "commander";
import { runMain, withVersion } from "../src/cli/common.ts";
import { defaultCacheDir } from "../src/data/cache.ts";
import { CUDA_EP_PACKAGE, CUDA_EP_RELEASES, defaultRegistry, SetupError, setupCudaEp } from "../src/engine/onnx/cuda-ep-setup.ts";
import { ldLibraryPathFix, missingCudaLibraries, ortBinDir } from "../src/engine/onnx/providers.ts";

const newest = CUDA_EP_RELEASES[0]!;

const cmd = withVersion(new Command("setup:cuda-ep"))
  .description(
    `Install ONNX Runtime's CUDA execution provider (libonnxruntime_providers_cuda.so and _shared.so) beside onnxruntime-node's libonnxruntime.so.1, from the npm package ${CUDA_EP_PACKAGE} (about 180 MB, downloaded once and cached)`,
  )
  .option("--bin-dir <dir>", "onnxruntime-node's native folder to install into (default: the installed package's)")
  .option("--cache-dir <dir>", "cache folder; the tarball is kept in <dir>/cuda-ep/", defaultCacheDir())
  .option("--registry <url>", "npm registry to download from", defaultRegistry())
  .option("--tarball <file>", "use this copy of the package tarball instead of downloading (checked against the registry's sha512, then cached)")
  .option("--force", "install again even when the same provider libraries are already there")
  .addHelpText(
    "after",
    `
The provider libraries load only into the ONNX Runtime they were built for:
${CUDA_EP_PACKAGE}@${newest.version} is ONNX Runtime ${newest.ort}, so onnxruntime-node must be
exactly ${newest.ort} (package.json pins it). \`bun install\` never downloads them; re-run this
after onnxruntime-node is reinstalled.

At run time the CUDA EP needs CUDA 13 (libcudart.so.13, libcublas.so.13, libcublasLt.so.13,
libcurand.so.10), cuDNN 9 (libcudnn.so.9) and the NVIDIA driver (libcuda.so.1), found by the
dynamic loader: e.g. a CUDA 13 PyTorch's pip nvidia-* packages, with their
site-packages/nvidia/*/lib folders on LD_LIBRARY_PATH. \`bun run doctor\` lists what is missing.

Exit codes: 0 installed (or already installed), 1 when it cannot be installed (the one-line
error says why), 2 on a usage error.`,
  )
  .showHelpAfterError("(run with --help for usage)")
  // Usage errors exit 2 like every other command; --help exits 0 before anything is fetched.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

await runMain(async () => {
  const opts = cmd.parse().opts<{ binDir?: string; cacheDir: string; registry: string; tarball?: string; force?: boolean }>();
  const binDir = opts.binDir ?? ortBinDir();
  const log = (l: string) => console.error(l);
  try {
    if (!binDir) throw new SetupError("onnxruntime-node's native folder was not found: run `bun install` first");
    const r = await setupCudaEp({
      binDir,
      cacheDir: opts.cacheDir,
      registry: opts.registry.replace(/\/+$/, ""),
      ...(opts.tarball ? { tarball: opts.tarball } : {}),
      force: !!opts.force,
      log,
    });
    console.log(
      r.status === "already installed"
        ? `CUDA execution provider already installed in ${r.binDir} (${CUDA_EP_PACKAGE}@${r.release.version}, ONNX Runtime ${r.release.ort}); --force installs it again`
        : `installed the CUDA execution provider (${CUDA_EP_PACKAGE}@${r.release.version}, ONNX Runtime ${r.release.ort}) in ${r.binDir}`,
    );
  } catch (e) {
    if (!(e instanceof SetupError)) throw e;
    console.error(`error: ${e.message}`);
    process.exit(1);
  }
  const missing = missingCudaLibraries();
  if (!missing.length) console.log("CUDA 13 and cuDNN 9 libraries: all found; `bun run doctor` checks that the provider trains correctly");
  else {
    console.log("still missing at run time (the CUDA EP falls back to the CPU until they are found):");
    for (const m of missing) console.log(`  ${m.soname} (${m.what}): ${m.fix}`);
    const path = ldLibraryPathFix(missing);
    if (path) console.log(`  ${path}`);
  }
});
