import { dlopen } from "bun:ffi";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import * as ort from "onnxruntime-node";
import { pythonCandidates } from "../torch/detect.ts";

export type ProviderName = "cpu" | "cuda" | "webgpu";
export type ProviderChoice = ProviderName | "auto";

export interface ProviderStatus {
  name: ProviderName;
  available: boolean;
  /** Why it is not available and what would fix it. */
  reason?: string;
  /** The shared library whose absence stopped it from loading (cuda: a CUDA or cuDNN library). */
  missingLibrary?: string;
}

const require = createRequire(import.meta.url);

/** onnxruntime-node's native folder (libonnxruntime.so.1 and its binding): ORT looks for provider libraries beside its core. */
export function ortBinDir(): string | undefined {
  try {
    const root = dirname(require.resolve("onnxruntime-node/package.json"));
    const base = join(root, "bin");
    for (const napi of readdirSync(base)) {
      const dir = join(base, napi, process.platform, process.arch);
      if (existsSync(dir)) return dir;
    }
  } catch {
    // fall through
  }
  return undefined;
}

/**
 * The ONNX Runtime version of the core library in `binDir`: onnxruntime-node's version
 * when `binDir` is inside that package, else the symbol version (VERS_x.y.z) the core
 * library exports. Provider libraries only load into the exact version they were built for.
 */
export function ortVersion(binDir: string): string | undefined {
  try {
    const pkg = JSON.parse(readFileSync(join(binDir, "..", "..", "..", "..", "package.json"), "utf8")) as { name?: string; version?: string };
    if (pkg.name === "onnxruntime-node" && pkg.version) return pkg.version;
  } catch {
    // not inside the package: read the library itself
  }
  try {
    const m = /VERS_(\d+\.\d+\.\d+)/.exec(readFileSync(join(binDir, "libonnxruntime.so.1")).toString("latin1"));
    return m?.[1];
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- the CUDA EP's libraries

export const CUDA_PROVIDER_LIB = "libonnxruntime_providers_cuda.so";
export const SHARED_PROVIDER_LIB = "libonnxruntime_providers_shared.so";
/** Written by `bun run setup:cuda-ep` beside the provider libraries: which package and ORT version they came from. */
export const CUDA_EP_MARKER = "cuda-ep-install.json";
export const SETUP_COMMAND = "bun run setup:cuda-ep";

export interface CudaEpMarker {
  package: string;
  version: string;
  /** The ONNX Runtime version the provider libraries were built for. */
  ort: string;
  integrity: string;
  installed: string;
}

export interface CudaEpInstall {
  binDir: string | undefined;
  /** Both provider libraries are in binDir. */
  installed: boolean;
  /** The ORT core in binDir. */
  ortVersion?: string;
  /** Present when setup:cuda-ep installed them (libraries put there otherwise have none). */
  marker?: CudaEpMarker;
  /** Why installed libraries cannot load into this ORT core (a version mismatch). */
  mismatch?: string;
}

/** Whether the CUDA EP's provider libraries sit beside the ORT core in `binDir`, and from which package. */
export function cudaEpInstall(binDir: string | undefined = ortBinDir()): CudaEpInstall {
  if (!binDir) return { binDir, installed: false };
  const installed = existsSync(join(binDir, CUDA_PROVIDER_LIB)) && existsSync(join(binDir, SHARED_PROVIDER_LIB));
  const version = ortVersion(binDir);
  let marker: CudaEpMarker | undefined;
  try {
    marker = JSON.parse(readFileSync(join(binDir, CUDA_EP_MARKER), "utf8")) as CudaEpMarker;
  } catch {
    marker = undefined;
  }
  const mismatch =
    installed && marker && version && marker.ort !== version
      ? `the provider libraries in ${binDir} are built for ONNX Runtime ${marker.ort} but onnxruntime-node is ${version}: re-run \`${SETUP_COMMAND}\``
      : undefined;
  return { binDir, installed, ...(version ? { ortVersion: version } : {}), ...(marker ? { marker } : {}), ...(mismatch ? { mismatch } : {}) };
}

export interface RuntimeLibrary {
  soname: string;
  what: string;
  /** What puts it on this machine. */
  install: string;
}

/**
 * What libonnxruntime_providers_cuda.so (ORT 1.29, CUDA 13 build) loads: its DT_NEEDED
 * entries, plus cuDNN, which it opens only when a session starts.
 */
export const CUDA_EP_RUNTIME_LIBRARIES: readonly RuntimeLibrary[] = [
  {
    soname: "libcuda.so.1",
    what: "NVIDIA driver",
    install: "install the NVIDIA driver (580 or newer for CUDA 13; in a container, start it with the NVIDIA container toolkit, e.g. --gpus all)",
  },
  { soname: "libcudart.so.13", what: "CUDA 13 runtime", install: 'pip install "nvidia-cuda-runtime==13.*"' },
  { soname: "libcublas.so.13", what: "CUDA 13 cuBLAS", install: 'pip install "nvidia-cublas==13.*"' },
  { soname: "libcublasLt.so.13", what: "CUDA 13 cuBLASLt", install: 'pip install "nvidia-cublas==13.*"' },
  { soname: "libcurand.so.10", what: "CUDA 13 cuRAND", install: 'pip install "nvidia-curand==10.4.*"' },
  { soname: "libcudnn.so.9", what: "cuDNN 9", install: "pip install nvidia-cudnn-cu13" },
];

export interface MissingLibrary extends RuntimeLibrary {
  /** What fixes it here, in one clause. */
  fix: string;
  /** A pip nvidia-* folder that holds it although the dynamic loader does not look there. */
  foundIn?: string;
}

export interface LibrarySearch {
  /** LD_LIBRARY_PATH comes from here (default: process.env). */
  env?: Record<string, string | undefined>;
  /** `ldconfig -p`'s output: the loader's cache. */
  ldconfig?: () => string;
  /** The lib folders of pip's nvidia-* packages (site-packages/nvidia/<name>/lib) of the Pythons found. */
  pipLibDirs?: () => string[];
  /** Where the loader looks without being told (default: the usual Linux x64 folders). */
  systemDirs?: string[];
  libraries?: readonly RuntimeLibrary[];
}

const SYSTEM_LIB_DIRS = ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"];

function ldconfigCache(): string {
  // Not on a normal user's PATH on Debian; the loader's cache is readable by anyone.
  for (const cmd of ["ldconfig", "/sbin/ldconfig", "/usr/sbin/ldconfig"]) {
    try {
      const r = Bun.spawnSync([cmd, "-p"], { stdout: "pipe", stderr: "ignore", stdin: "ignore" });
      if (r.exitCode === 0) return r.stdout.toString();
    } catch {
      // try the next
    }
  }
  return "";
}

const PIP_NVIDIA_ROOTS = 'import importlib.util as u; s = u.find_spec("nvidia"); print("\\n".join(s.submodule_search_locations or []) if s else "")';

/** The site-packages/nvidia/<name>/lib folders of every Python found (pip's nvidia-cublas, nvidia-cudnn-cu13, a CUDA torch wheel's dependencies). */
export function pipNvidiaLibDirs(pythons = pythonCandidates()): string[] {
  const dirs = new Set<string>();
  for (const python of pythons) {
    let out = "";
    try {
      const r = Bun.spawnSync([python, "-c", PIP_NVIDIA_ROOTS], { stdout: "pipe", stderr: "ignore", stdin: "ignore", timeout: 10_000 });
      if (r.exitCode === 0) out = r.stdout.toString();
    } catch {
      continue;
    }
    for (const root of out
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean))
      try {
        for (const sub of readdirSync(root)) if (existsSync(join(root, sub, "lib"))) dirs.add(join(root, sub, "lib"));
      } catch {
        // a namespace path that vanished
      }
  }
  return [...dirs];
}

/**
 * The CUDA EP's runtime libraries the dynamic loader would not find here (LD_LIBRARY_PATH,
 * its cache from `ldconfig -p`, the system folders), each with what fixes it: a
 * library that sits in a pip nvidia-* folder only needs that folder on LD_LIBRARY_PATH.
 */
export function missingCudaLibraries(o: LibrarySearch = {}): MissingLibrary[] {
  const ldPath = ((o.env ?? process.env).LD_LIBRARY_PATH ?? "").split(":").filter(Boolean);
  const dirs = [...ldPath, ...(o.systemDirs ?? SYSTEM_LIB_DIRS)];
  const cache = new Set([...(o.ldconfig ?? ldconfigCache)().matchAll(/^\s*(\S+)\s+\(.*\)\s+=>/gm)].map((m) => m[1]!));
  const missing = (o.libraries ?? CUDA_EP_RUNTIME_LIBRARIES).filter((l) => !cache.has(l.soname) && !dirs.some((d) => existsSync(join(d, l.soname))));
  if (!missing.length) return [];
  const pip = (o.pipLibDirs ?? pipNvidiaLibDirs)();
  return missing.map((l) => {
    const foundIn = pip.find((d) => existsSync(join(d, l.soname)));
    if (foundIn) return { ...l, foundIn, fix: `found in ${foundIn} (pip): add that folder to LD_LIBRARY_PATH` };
    if (l.soname === "libcuda.so.1") return { ...l, fix: l.install };
    return { ...l, fix: `${l.install}, then put its site-packages/nvidia/*/lib folder on LD_LIBRARY_PATH` };
  });
}

/** One `export LD_LIBRARY_PATH=...` for every missing library that pip has already put somewhere, or null. */
export function ldLibraryPathFix(missing: MissingLibrary[]): string | null {
  const dirs = [...new Set(missing.flatMap((m) => (m.foundIn ? [m.foundIn] : [])))];
  return dirs.length ? `export LD_LIBRARY_PATH=${dirs.join(":")}\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}` : null;
}

/**
 * The library named in a loader error, as ORT logs it ("Failed to load library
 * .../libonnxruntime_providers_cuda.so with error: libcublasLt.so.13: cannot open shared
 * object file: No such file or directory") or as dlopen reports it; null when the text
 * names none (ORT's exception itself only says "Failed to load shared library").
 */
export function missingLibraryInError(text: string): { library: string; detail: string } | null {
  const m = /([^\s:"'()[\]]+\.so(?:\.\d+)*): cannot open shared object file(?::\s*([^\n"]*))?/.exec(text);
  return m ? { library: basename(m[1]!), detail: (m[2] ?? "").trim() || "cannot open shared object file" } : null;
}

/** dlopen's error for `path` (a file, or a soname the loader searches for), or null when it loads. */
function dlopenError(path: string, symbol: string): string | null {
  try {
    dlopen(path, { [symbol]: { args: [], returns: "ptr" } }).close();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

const loadProblems = new Map<string, { library: string; detail: string } | null>();

/**
 * The first library the CUDA EP would fail to load, found by asking the dynamic loader
 * for the provider library (and so its dependencies) and for cuDNN, in this process,
 * as ORT would; null when nothing is missing. ORT's own exception does not name the
 * library, and its log line goes straight to stderr, so the question is asked first.
 */
export function cudaEpLoadProblem(binDir: string): { library: string; detail: string } | null {
  if (loadProblems.has(binDir)) return loadProblems.get(binDir)!;
  let problem: { library: string; detail: string } | null = null;
  for (const [path, symbol] of [
    [join(binDir, CUDA_PROVIDER_LIB), "GetProvider"],
    ["libcudnn.so.9", "cudnnGetVersion"],
  ] as const) {
    const err = dlopenError(path, symbol);
    // Anything else (an unresolved ORT symbol: the provider bridge loads the shared library first) is ORT's to judge.
    problem = err ? missingLibraryInError(err) : null;
    if (problem) break;
  }
  loadProblems.set(binDir, problem);
  return problem;
}

/** "libcublasLt.so.13 missing: <its fix>[; also missing: ...]" for a notice line. */
export function missingLibraryText(library: string, search: LibrarySearch = {}): string {
  const missing = missingCudaLibraries(search);
  const named = missing.find((m) => m.soname === library);
  const others = missing.filter((m) => m.soname !== library).map((m) => m.soname);
  const fix = named?.fix ?? CUDA_EP_RUNTIME_LIBRARIES.find((l) => l.soname === library)?.install ?? "put its folder on LD_LIBRARY_PATH";
  return `${library} missing: ${fix}${others.length ? `; also missing: ${others.join(", ")} (\`bun run doctor\` lists each fix)` : ""}`;
}

const problemTexts = new Map<string, string>();

function cudaStatus(binDir: string | undefined): ProviderStatus {
  if (process.platform !== "linux" || process.arch !== "x64") return { name: "cuda", available: false, reason: "the CUDA EP is installed for Linux x64 only" };
  const inst = cudaEpInstall(binDir);
  if (!inst.installed || !inst.binDir)
    return {
      name: "cuda",
      available: false,
      reason: `CUDA EP provider libraries (${CUDA_PROVIDER_LIB}) not installed: run \`${SETUP_COMMAND}\` (needs CUDA 13 + cuDNN 9 at run time)`,
    };
  if (inst.mismatch) return { name: "cuda", available: false, reason: `CUDA EP provider libraries do not match: ${inst.mismatch}` };
  const problem = cudaEpLoadProblem(inst.binDir);
  if (!problem) return { name: "cuda", available: true };
  // Once per process: the text asks Python where pip put the nvidia-* libraries, and sessions are created often.
  let text = problemTexts.get(problem.library);
  if (!text) problemTexts.set(problem.library, (text = missingLibraryText(problem.library)));
  return { name: "cuda", available: false, reason: `could not load: ${text}`, missingLibrary: problem.library };
}

function vulkanLoaderPresent(): boolean {
  const dirs = ["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib", "/lib/x86_64-linux-gnu"];
  const extra = (process.env.LD_LIBRARY_PATH ?? "").split(":").filter(Boolean);
  return [...extra, ...dirs].some((d) => existsSync(join(d, "libvulkan.so.1")));
}

/**
 * What this machine's onnxruntime-node can offer, without starting a provider. For
 * CUDA: its provider libraries (`bun run setup:cuda-ep`) must be beside the ORT core in
 * `binDir`, built for that ORT version, and everything they load must be found, which
 * the dynamic loader is asked directly (ORT's failure would not name the library).
 */
export function detectProviders(binDir: string | undefined = ortBinDir()): ProviderStatus[] {
  const supported = new Map(ort.listSupportedBackends().map((b) => [b.name, b.bundled]));
  const out: ProviderStatus[] = [{ name: "cpu", available: true }, cudaStatus(binDir)];
  if (!supported.has("webgpu")) {
    out.push({ name: "webgpu", available: false, reason: "this onnxruntime-node build has no WebGPU EP (bundled for Linux x64 from 1.30)" });
  } else if (!vulkanLoaderPresent()) {
    out.push({ name: "webgpu", available: false, reason: "no Vulkan loader (libvulkan.so.1): install libvulkan1 and the GPU vendor's Vulkan driver" });
  } else {
    out.push({ name: "webgpu", available: true });
  }
  return out;
}

export interface SessionFactoryResult {
  session: ort.InferenceSession;
  provider: ProviderName;
}

const failed = new Map<ProviderName, string>();
let autoNoticeShown = false;

/** Why each GPU provider this process tried (or `only` that one) did not start, as one line ("" when none failed). */
export function providerFailures(only?: ProviderChoice): string {
  return [...failed]
    .filter(([p]) => !only || only === "auto" || p === only)
    .map(([p, why]) => `${p}: ${why}`)
    .join("; ");
}

/** Forgets which providers failed in this process and whether the auto notice was shown (tests that provoke failures). */
export function resetProviderFailures(): void {
  failed.clear();
  autoNoticeShown = false;
}

/** A reason in a few words: the missing library when there is one, else the reason's first clause. */
function shortReason(st: ProviderStatus): string {
  return st.missingLibrary ? `${st.missingLibrary} missing` : (st.reason ?? "").split(":")[0]!;
}

/**
 * Creates a session on the requested provider, falling back to CPU with one line
 * saying why. Failures are remembered so the notice is printed once per process.
 */
export async function createSession(
  /** The model, or a function building it for the provider about to be tried (graphs may differ per EP). */
  model: Uint8Array | ((provider: ProviderName) => Uint8Array | Promise<Uint8Array>),
  choice: ProviderChoice,
  o: {
    threads?: number;
    /** Intra-op threads sleep instead of spin-waiting between runs (sessions that take turns). */
    noSpin?: boolean;
    log?: (line: string) => void;
    purpose?: string;
    /** onnxruntime-node's native folder, where the CUDA EP's provider libraries are looked for (default: the installed package's). */
    binDir?: string;
  } = {},
): Promise<SessionFactoryResult> {
  const log = o.log ?? ((l: string) => console.error(l));
  const status = detectProviders(o.binDir ?? ortBinDir());
  const order: ProviderName[] = choice === "auto" ? ["cuda", "webgpu", "cpu"] : choice === "cpu" ? ["cpu"] : [choice, "cpu"];
  const options: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: "all",
    executionMode: "sequential",
    interOpNumThreads: 1,
    // Warnings (e.g. unused initializers) would repeat for every session; errors still surface as exceptions.
    logSeverityLevel: 3,
    ...(o.threads ? { intraOpNumThreads: o.threads } : {}),
    ...(o.noSpin ? { extra: { session: { "intra_op.allow_spinning": "0" } } } : {}),
  };
  for (const p of order) {
    const st = status.find((s) => s.name === p)!;
    if (p === "cpu" && choice === "auto" && !autoNoticeShown) {
      autoNoticeShown = true;
      const gpus = status.filter((s) => s.name !== "cpu").map((s) => `${s.name}: ${failed.get(s.name) ?? shortReason(s)}`);
      log(`notice: no GPU execution provider loaded (${gpus.join("; ")}); ${o.purpose ?? "training"} on cpu. \`bun run doctor\` says how to enable one.`);
    }
    if (!st.available || failed.has(p)) {
      if (choice === p && !failed.has(p)) {
        failed.set(p, st.reason ?? "unavailable");
        log(`notice: execution provider ${p} unavailable (${st.reason}); falling back to cpu`);
      }
      continue;
    }
    try {
      const bytes = typeof model === "function" ? await model(p) : model;
      const session = await ort.InferenceSession.create(bytes, { ...options, executionProviders: [p] });
      return { session, provider: p };
    } catch (e) {
      if (p === "cpu") throw e;
      const message = (e as Error).message ?? String(e);
      // ORT's exception may name the library (or, in 1.29, only say "Failed to load shared library"; then the loader's own list says which).
      const named =
        missingLibraryInError(message)?.library ?? (p === "cuda" && /load (shared )?library/i.test(message) ? missingCudaLibraries()[0]?.soname : undefined);
      const why = named ? `could not load: ${missingLibraryText(named)}` : (message.split("\n")[0] ?? message);
      failed.set(p, why);
      log(`notice: execution provider ${p} failed to start (${why}); falling back to cpu`);
    }
  }
  throw new Error("no execution provider could start (cpu failed)");
}
