import { afterAll, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultCacheDir } from "../../src/data/cache.ts";
import { CUDA_EP_PACKAGE, CUDA_EP_RELEASES, integrityOf, SetupError, setupCudaEp, type FetchLike } from "../../src/engine/onnx/cuda-ep-setup.ts";
import {
  createSession,
  CUDA_EP_MARKER,
  CUDA_PROVIDER_LIB,
  cudaEpInstall,
  cudaEpLoadProblem,
  detectProviders,
  ldLibraryPathFix,
  missingCudaLibraries,
  missingLibraryInError,
  ortBinDir,
  resetProviderFailures,
  SHARED_PROVIDER_LIB,
} from "../../src/engine/onnx/providers.ts";
import { buildGraph } from "../../src/engine/onnx/training-graph.ts";
import { tinySpecs } from "../helpers/tiny-models.ts";

const REPO = join(import.meta.dir, "..", "..");
const made: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "cuda-ep-test-"));
  made.push(d);
  return d;
};
// The real provider libraries are 230 MB a copy: nothing is left in /tmp.
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
const model = () => buildGraph("eval", { spec: tinySpecs()[0]!, maskedParams: [], bn: { eps: 1e-5, momentum: 0.1 }, sgd: { momentum: 0.9, weightDecay: 0 } });
const run = (argv: string[], env: Record<string, string | undefined> = process.env) => {
  const r = Bun.spawnSync(argv, { cwd: REPO, stdout: "pipe", stderr: "pipe", env });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
};
const ONE_LINE_FALLBACK = /^notice: execution provider cuda unavailable \(could not load: (\S+) missing: [^\n]+\); falling back to cpu$/;

// ------------------------------------------------------------ ORT's error text

test("the missing library is read from ORT's and dlopen's real error texts; texts that name none give null", () => {
  // ORT 1.29's log line when the CUDA provider library's dependencies are missing (captured from onnxruntime-node 1.29.0).
  const ortLog =
    "\x1b[1;31m2026-12-06 23:39:41.901108353 [E:onnxruntime:onnxruntime-node, provider_bridge_ort.cc:2146 Create] /onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:1988 onnxruntime::Provider& onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : FAIL : Failed to load library /tmp/epbin/libonnxruntime_providers_cuda.so with error: libcublasLt.so.13: cannot open shared object file: No such file or directory\n\x1b[m";
  expect(missingLibraryInError(ortLog)).toEqual({ library: "libcublasLt.so.13", detail: "No such file or directory" });
  // ...and the exception it throws at the same moment, which names nothing.
  expect(missingLibraryInError("OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library")).toBeNull();
  // Bun's dlopen (the probe before ORT is asked).
  expect(
    missingLibraryInError(
      'Failed to open library "/x/libonnxruntime_providers_cuda.so": libcudnn.so.9: cannot open shared object file: No such file or directory',
    ),
  ).toEqual({ library: "libcudnn.so.9", detail: "No such file or directory" });
  // The provider library itself missing (an ORT whose CUDA EP was never installed).
  expect(
    missingLibraryInError(
      "Failed to load library libonnxruntime_providers_cuda.so with error: libonnxruntime_providers_cuda.so: cannot open shared object file: No such file or directory",
    )?.library,
  ).toBe("libonnxruntime_providers_cuda.so");
  expect(missingLibraryInError("/opt/lib/libcudart.so.13: cannot open shared object file")?.library).toBe("libcudart.so.13");
  // Loaded but unusable is not "missing".
  expect(missingLibraryInError("/x/libonnxruntime_providers_cuda.so: undefined symbol: Provider_GetHost")).toBeNull();
  expect(missingLibraryInError("CUDA failure 100: no CUDA-capable device is detected")).toBeNull();
});

// ------------------------------------------------------------ which libraries are missing

test("the missing-library list follows LD_LIBRARY_PATH and the loader's cache, and points at pip's folders when the libraries are there", () => {
  const dir = tmp();
  const ld = join(dir, "ld");
  const pip = join(dir, "site-packages", "nvidia", "cu13", "lib");
  mkdirSync(ld, { recursive: true });
  mkdirSync(pip, { recursive: true });
  for (const so of ["libcudart.so.13", "libcurand.so.10"]) writeFileSync(join(ld, so), "");
  for (const so of ["libcublas.so.13", "libcublasLt.so.13"]) writeFileSync(join(pip, so), "");
  const ldconfig = () => "3 libs found in cache `/etc/ld.so.cache'\n\tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1\n";
  const missing = missingCudaLibraries({ env: { LD_LIBRARY_PATH: `/nonexistent:${ld}` }, ldconfig, pipLibDirs: () => [pip], systemDirs: [] });
  expect(missing.map((m) => m.soname)).toEqual(["libcublas.so.13", "libcublasLt.so.13", "libcudnn.so.9"]);
  expect(missing[0]).toMatchObject({ foundIn: pip, fix: `found in ${pip} (pip): add that folder to LD_LIBRARY_PATH` });
  expect(missing[2]!.fix).toMatch(/^pip install nvidia-cudnn-cu13, then put its site-packages\/nvidia\/\*\/lib folder on LD_LIBRARY_PATH$/);
  expect(ldLibraryPathFix(missing)).toBe(`export LD_LIBRARY_PATH=${pip}\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}`);

  // Without the loader's cache and LD_LIBRARY_PATH, the driver is missing too, and its fix is no pip package.
  const none = missingCudaLibraries({ env: {}, ldconfig: () => "", pipLibDirs: () => [], systemDirs: [] });
  expect(none.map((m) => m.soname)).toEqual(["libcuda.so.1", "libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13", "libcurand.so.10", "libcudnn.so.9"]);
  expect(none[0]!.fix).toMatch(/NVIDIA driver/);
  expect(ldLibraryPathFix(none)).toBeNull();
  // Everything found: nothing to fix, and pip is not even asked.
  let asked = false;
  const all = join(dir, "all");
  mkdirSync(all);
  for (const m of none) writeFileSync(join(all, m.soname), "");
  expect(missingCudaLibraries({ env: { LD_LIBRARY_PATH: all }, ldconfig: () => "", pipLibDirs: () => ((asked = true), []), systemDirs: [] })).toEqual([]);
  expect(asked).toBe(false);
});

// ------------------------------------------------------------ the fallback, with a provider library whose dependency is missing

const cc = Bun.which("cc");

/** A bin folder whose CUDA provider library needs libcublasLt.so.13, which is nowhere: built with cc against a stub that is then deleted. */
function fakeProviderDir(): string {
  const dir = tmp();
  const bin = join(dir, "bin");
  const stub = join(dir, "stub");
  mkdirSync(bin);
  mkdirSync(stub);
  writeFileSync(join(stub, "stub.c"), "int cublasLtCreate(void **h) { return 0; }\n");
  writeFileSync(join(dir, "cuda.c"), "int cublasLtCreate(void **h);\nvoid *GetProvider(void) { void *h; cublasLtCreate(&h); return 0; }\n");
  writeFileSync(join(dir, "shared.c"), "void *host;\nvoid Provider_SetHost(void *p) { host = p; }\nvoid *Provider_GetHost(void) { return host; }\n");
  const build = (args: string[]) => {
    const r = run([cc!, "-shared", "-fPIC", ...args]);
    if (r.code !== 0) throw new Error(`cc failed: ${r.err}`);
  };
  build(["-o", join(stub, "libcublasLt.so.13"), "-Wl,-soname,libcublasLt.so.13", join(stub, "stub.c")]);
  build(["-o", join(bin, CUDA_PROVIDER_LIB), join(dir, "cuda.c"), "-Wl,--no-as-needed", `-L${stub}`, "-l:libcublasLt.so.13"]);
  build(["-o", join(bin, SHARED_PROVIDER_LIB), join(dir, "shared.c")]);
  rmSync(stub, { recursive: true });
  return bin;
}

test.skipIf(!cc)("cuda asked for, a provider library whose dependency is missing: one line naming the library, then a working cpu session", async () => {
  const bin = fakeProviderDir();
  expect(cudaEpInstall(bin).installed).toBe(true);
  expect(cudaEpLoadProblem(bin)).toEqual({ library: "libcublasLt.so.13", detail: "No such file or directory" });
  const cuda = detectProviders(bin).find((p) => p.name === "cuda")!;
  expect(cuda).toMatchObject({ available: false, missingLibrary: "libcublasLt.so.13" });

  resetProviderFailures();
  const lines: string[] = [];
  const { session, provider } = await createSession(model(), "cuda", { binDir: bin, threads: 1, log: (l) => lines.push(l) });
  expect(provider).toBe("cpu");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(ONE_LINE_FALLBACK);
  expect(ONE_LINE_FALLBACK.exec(lines[0]!)![1]).toBe("libcublasLt.so.13");
  expect(lines[0]).toContain('pip install "nvidia-cublas==13.*"');
  expect(session.inputNames.length).toBeGreaterThan(0);
  await session.release();

  // auto names the library in its one summary line.
  resetProviderFailures();
  const autoLines: string[] = [];
  const auto = await createSession(model(), "auto", { binDir: bin, threads: 1, log: (l) => autoLines.push(l) });
  expect(auto.provider).toBe("cpu");
  expect(autoLines).toHaveLength(1);
  expect(autoLines[0]).toMatch(/no GPU execution provider loaded \(cuda: libcublasLt\.so\.13 missing; webgpu: /);
  await auto.session.release();
  resetProviderFailures();
});

/** A script run in its own process, so that what reaches stderr (ORT's native log included) is seen whole. */
function fallbackScript(dir: string, bin: string, preloadCore: boolean): string {
  const file = join(dir, "fallback.ts");
  writeFileSync(
    file,
    `${preloadCore ? `import { dlopen } from "bun:ffi";\n// ORT looks for provider libraries beside its core: load the copy in ${bin} before the binding needs one.\ndlopen(${JSON.stringify(join(bin, "libonnxruntime.so.1"))}, { OrtGetApiBase: { args: [], returns: "ptr" } });\n` : ""}
const { createSession } = await import(${JSON.stringify(join(REPO, "src/engine/onnx/providers.ts"))});
const { buildGraph } = await import(${JSON.stringify(join(REPO, "src/engine/onnx/training-graph.ts"))});
const { tinySpecs } = await import(${JSON.stringify(join(REPO, "test/helpers/tiny-models.ts"))});
const bytes = buildGraph("eval", { spec: tinySpecs()[0], maskedParams: [], bn: { eps: 1e-5, momentum: 0.1 }, sgd: { momentum: 0.9, weightDecay: 0 } });
const r = await createSession(bytes, "cuda", { binDir: ${JSON.stringify(bin)}, threads: 1 });
console.log(r.provider);
await r.session.release();
`,
  );
  return file;
}

test.skipIf(!cc)("in a process of its own, the fallback prints exactly one line on stderr and no stack trace", () => {
  const bin = fakeProviderDir();
  const r = run([process.execPath, fallbackScript(join(bin, ".."), bin, false)]);
  expect(r.code).toBe(0);
  expect(r.out.trim()).toBe("cpu");
  expect(r.err.trim().split("\n")).toHaveLength(1);
  expect(r.err.trim()).toMatch(ONE_LINE_FALLBACK);
});

// ------------------------------------------------------------ the real provider libraries, when setup:cuda-ep has cached them

const release = CUDA_EP_RELEASES[0]!;
const cachedTarball = join(defaultCacheDir(), "cuda-ep", `${CUDA_EP_PACKAGE}-${release.version}.tgz`);
const haveTarball = existsSync(cachedTarball) && existsSync(`${cachedTarball}.integrity`);
const ortCore = ortBinDir();
const offline: FetchLike = () => Promise.reject(new Error("offline (test)"));

test.skipIf(!haveTarball || !ortCore)(
  `the real ${CUDA_EP_PACKAGE}@${release.version} libraries in a copy of onnxruntime-node's folder: a missing CUDA library is one line, ORT names the same one${haveTarball ? "" : ` (skipped: ${cachedTarball} not cached; \`bun run setup:cuda-ep\` caches it)`}`,
  async () => {
    const dir = tmp();
    const bin = join(dir, "bin");
    const cache = join(dir, "cache");
    mkdirSync(bin);
    mkdirSync(join(cache, "cuda-ep"), { recursive: true });
    copyFileSync(join(ortCore!, "libonnxruntime.so.1"), join(bin, "libonnxruntime.so.1"));
    for (const f of [cachedTarball, `${cachedTarball}.integrity`]) symlinkSync(f, join(cache, "cuda-ep", f.split("/").at(-1)!));
    const r = await setupCudaEp({ binDir: bin, cacheDir: cache, registry: "http://127.0.0.1:9", fetchImpl: offline });
    expect(r.status).toBe("installed");
    expect(readdirSync(bin).sort()).toEqual([CUDA_EP_MARKER, "libonnxruntime.so.1", CUDA_PROVIDER_LIB, SHARED_PROVIDER_LIB].sort());

    const problem = cudaEpLoadProblem(bin);
    if (!problem) {
      // Every CUDA library is here (a GPU machine): the provider loads, which the rest of this test cannot show.
      console.error("note: every CUDA 13 / cuDNN 9 library is found here; the missing-library fallback is not exercised");
      return;
    }
    // Through createSession: one line on stderr, a cpu session.
    const viaSession = run([process.execPath, fallbackScript(dir, bin, true)]);
    expect(viaSession.code).toBe(0);
    expect(viaSession.out.trim()).toBe("cpu");
    expect(viaSession.err.trim().split("\n")).toHaveLength(1);
    expect(ONE_LINE_FALLBACK.exec(viaSession.err.trim())?.[1]).toBe(problem.library);

    // Straight to ORT (no probe first): it throws rather than crashing, and its log line names the same library.
    const direct = join(dir, "direct.ts");
    writeFileSync(
      direct,
      `import { dlopen } from "bun:ffi";
dlopen(${JSON.stringify(join(bin, "libonnxruntime.so.1"))}, { OrtGetApiBase: { args: [], returns: "ptr" } });
const ort = await import(${JSON.stringify(join(REPO, "node_modules/onnxruntime-node/dist/index.js"))});
const { buildGraph } = await import(${JSON.stringify(join(REPO, "src/engine/onnx/training-graph.ts"))});
const { tinySpecs } = await import(${JSON.stringify(join(REPO, "test/helpers/tiny-models.ts"))});
const bytes = buildGraph("eval", { spec: tinySpecs()[0], maskedParams: [], bn: { eps: 1e-5, momentum: 0.1 }, sgd: { momentum: 0.9, weightDecay: 0 } });
try { await ort.InferenceSession.create(bytes, { executionProviders: ["cuda"] }); console.log("created"); }
catch (e) { console.log(JSON.stringify(e.message)); }
`,
    );
    const ortRun = run([process.execPath, direct]);
    expect(ortRun.code).toBe(0);
    expect(ortRun.out).toContain("Failed to load shared library");
    expect(missingLibraryInError(ortRun.err)?.library).toBe(problem.library);
    expect(ortRun.err).toContain(join(bin, CUDA_PROVIDER_LIB));

    // Idempotent: a second run changes nothing.
    const again = await setupCudaEp({ binDir: bin, cacheDir: cache, registry: "http://127.0.0.1:9", fetchImpl: offline });
    expect(again.status).toBe("already installed");
  },
  120_000,
);

// ------------------------------------------------------------ setup:cuda-ep without the network

/** A package tarball laid out like the real one, with small stand-in libraries. */
async function fakePackage(ort: string): Promise<{ tgz: string; integrity: string }> {
  const dir = tmp();
  const lib = join(dir, "package", "Plugins", "Linux", "x64");
  mkdirSync(lib, { recursive: true });
  writeFileSync(join(lib, CUDA_PROVIDER_LIB), "cuda provider stand-in");
  writeFileSync(join(lib, SHARED_PROVIDER_LIB), "shared provider stand-in");
  writeFileSync(join(lib, "libonnxruntime_providers_tensorrt.so"), "not wanted");
  writeFileSync(join(dir, "package", "README.md"), `## Tested environment\n\n- ONNX Runtime: [${ort}](https://example.invalid)\n`);
  const tgz = join(dir, "pkg.tgz");
  expect(run(["tar", "-czf", tgz, "-C", dir, "package"]).code).toBe(0);
  return { tgz, integrity: await integrityOf(tgz) };
}

/** A folder standing in for onnxruntime-node's: a core library that says which ORT it is. */
function fakeCore(ort: string): string {
  const bin = tmp();
  writeFileSync(join(bin, "libonnxruntime.so.1"), `\x7fELF...OrtGetApiBase\0VERS_${ort}\0...`);
  return bin;
}

/** The registry, answering the version's metadata and its tarball; `calls` records what was asked. */
function fakeRegistry(pkg: { tgz: string; integrity: string }, integrity = pkg.integrity): FetchLike & { calls: string[] } {
  const calls: string[] = [];
  const f = async (url: string) => {
    calls.push(url);
    if (url === `http://registry.test/${CUDA_EP_PACKAGE}/${release.version}`)
      return Response.json({ name: CUDA_EP_PACKAGE, version: release.version, dist: { tarball: "http://registry.test/pkg.tgz", integrity } });
    if (url === "http://registry.test/pkg.tgz") return new Response(readFileSync(pkg.tgz));
    return new Response("not found", { status: 404 });
  };
  return Object.assign(f, { calls });
}

test("setup downloads, checks the registry's sha512, installs the two provider libraries atomically, and a second run does nothing", async () => {
  const pkg = await fakePackage(release.ort);
  const bin = fakeCore(release.ort);
  const cache = tmp();
  const registry = fakeRegistry(pkg);
  const lines: string[] = [];
  const o = { binDir: bin, cacheDir: cache, registry: "http://registry.test", fetchImpl: registry, log: (l: string) => lines.push(l) };
  const r = await setupCudaEp(o);
  expect(r.status).toBe("installed");
  expect(readFileSync(join(bin, CUDA_PROVIDER_LIB), "utf8")).toBe("cuda provider stand-in");
  expect(readFileSync(join(bin, SHARED_PROVIDER_LIB), "utf8")).toBe("shared provider stand-in");
  // Only the two libraries and the marker: no TensorRT, no temporary folder.
  expect(readdirSync(bin).sort()).toEqual([CUDA_EP_MARKER, "libonnxruntime.so.1", CUDA_PROVIDER_LIB, SHARED_PROVIDER_LIB].sort());
  expect(cudaEpInstall(bin)).toMatchObject({
    installed: true,
    ortVersion: release.ort,
    marker: { package: CUDA_EP_PACKAGE, version: release.version, ort: release.ort },
  });
  expect(readdirSync(join(cache, "cuda-ep")).sort()).toEqual([
    `${CUDA_EP_PACKAGE}-${release.version}.tgz`,
    `${CUDA_EP_PACKAGE}-${release.version}.tgz.integrity`,
  ]);
  expect(registry.calls).toEqual([`http://registry.test/${CUDA_EP_PACKAGE}/${release.version}`, "http://registry.test/pkg.tgz"]);

  const again = await setupCudaEp(o);
  expect(again.status).toBe("already installed");
  expect(registry.calls).toHaveLength(2);

  // --force with the tarball cached and the registry unreachable: the integrity recorded at download decides.
  rmSync(join(bin, CUDA_PROVIDER_LIB));
  const offlineRun = await setupCudaEp({ ...o, fetchImpl: offline, force: true });
  expect(offlineRun.status).toBe("installed");
  expect(existsSync(join(bin, CUDA_PROVIDER_LIB))).toBe(true);
});

test("setup refuses a download whose sha512 is not the registry's, leaving nothing behind", async () => {
  const pkg = await fakePackage(release.ort);
  const bin = fakeCore(release.ort);
  const cache = tmp();
  const wrong = `sha512-${Buffer.alloc(64).toString("base64")}`;
  const err = await setupCudaEp({ binDir: bin, cacheDir: cache, registry: "http://registry.test", fetchImpl: fakeRegistry(pkg, wrong) }).catch((e) => e);
  expect(err).toBeInstanceOf(SetupError);
  expect((err as Error).message).toMatch(/does not match the registry's sha512/);
  expect(readdirSync(bin)).toEqual(["libonnxruntime.so.1"]);
  expect(readdirSync(join(cache, "cuda-ep"))).toEqual([]);
});

test("setup refuses, before downloading, when onnxruntime-node is not the ORT version of the provider libraries", async () => {
  const pkg = await fakePackage(release.ort);
  const registry = fakeRegistry(pkg);
  const err = await setupCudaEp({ binDir: fakeCore("1.30.0"), cacheDir: tmp(), registry: "http://registry.test", fetchImpl: registry }).catch((e) => e);
  expect(err).toBeInstanceOf(SetupError);
  expect((err as Error).message).toBe(
    `onnxruntime-node is 1.30.0 but the CUDA provider libraries on npm (${CUDA_EP_PACKAGE}@${release.version}) are built for ONNX Runtime ${release.ort}, and the two must match exactly: set "onnxruntime-node": "${release.ort}" in package.json, run \`bun install\`, then run this again`,
  );
  expect(registry.calls).toEqual([]);

  // A package whose README states another ORT than the table is not installed either.
  const other = await fakePackage("1.28.0");
  const bin = fakeCore(release.ort);
  const stated = await setupCudaEp({ binDir: bin, cacheDir: tmp(), registry: "http://registry.test", fetchImpl: fakeRegistry(other) }).catch((e) => e);
  expect((stated as Error).message).toMatch(/states ONNX Runtime 1\.28\.0, not 1\.29\.0/);
  expect(readdirSync(bin)).toEqual(["libonnxruntime.so.1"]);
});

test("provider libraries from another ORT version are reported as a mismatch, not loaded", () => {
  const bin = fakeCore("1.29.0");
  for (const f of [CUDA_PROVIDER_LIB, SHARED_PROVIDER_LIB]) writeFileSync(join(bin, f), "");
  writeFileSync(join(bin, CUDA_EP_MARKER), JSON.stringify({ package: CUDA_EP_PACKAGE, version: "0.0.1", ort: "1.28.0", integrity: "", installed: "" }));
  const cuda = detectProviders(bin).find((p) => p.name === "cuda")!;
  expect(cuda.available).toBe(false);
  expect(cuda.reason).toMatch(/built for ONNX Runtime 1\.28\.0 but onnxruntime-node is 1\.29\.0/);
  // No marker, no libraries: the command that installs them.
  expect(detectProviders(fakeCore("1.29.0")).find((p) => p.name === "cuda")!.reason).toMatch(/not installed: run `bun run setup:cuda-ep`/);
});

test("bun run setup:cuda-ep: --help, a usage error, the version refusal as one line, and 'already installed'", async () => {
  const script = join(REPO, "scripts/setup-cuda-ep.ts");
  const help = run([process.execPath, script, "--help"]);
  expect(help.code).toBe(0);
  expect(help.out).toContain("Usage: setup:cuda-ep");
  expect(help.out).toContain("CUDA 13");
  expect(help.err).toBe("");
  const bad = run([process.execPath, script, "--no-such-flag"]);
  expect(bad.code).toBe(2);
  expect(bad.err.trim().split("\n")).toEqual(["error: unknown option '--no-such-flag'", "(run with --help for usage)"]);

  const mismatch = run([process.execPath, script, "--bin-dir", fakeCore("1.30.0"), "--cache-dir", tmp(), "--registry", "http://127.0.0.1:9"]);
  expect(mismatch.code).toBe(1);
  expect(mismatch.out).toBe("");
  expect(mismatch.err.trim().split("\n")).toHaveLength(1);
  expect(mismatch.err).toMatch(/^error: onnxruntime-node is 1\.30\.0 but .* built for ONNX Runtime 1\.29\.0.*"onnxruntime-node": "1\.29\.0"/);

  const bin = fakeCore(release.ort);
  await setupCudaEp({ binDir: bin, cacheDir: tmp(), registry: "http://registry.test", fetchImpl: fakeRegistry(await fakePackage(release.ort)) });
  const done = run([process.execPath, script, "--bin-dir", bin, "--cache-dir", tmp(), "--registry", "http://127.0.0.1:9"]);
  expect(done.code).toBe(0);
  expect(done.out).toContain(`CUDA execution provider already installed in ${bin}`);
}, 60_000);

test("package.json pins onnxruntime-node to the ORT version of the CUDA provider libraries, and has the setup script", () => {
  const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { dependencies: Record<string, string>; scripts: Record<string, string> };
  expect(pkg.dependencies["onnxruntime-node"]).toBe(release.ort);
  expect(pkg.scripts["setup:cuda-ep"]).toBe("bun scripts/setup-cuda-ep.ts");
});
