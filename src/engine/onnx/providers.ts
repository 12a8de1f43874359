import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as ort from "onnxruntime-node";

export type ProviderName = "cpu" | "cuda" | "webgpu";
export type ProviderChoice = ProviderName | "auto";

export interface ProviderStatus {
  name: ProviderName;
  available: boolean;
  /** Why it is not available and what would fix it. */
  reason?: string;
}

const require = createRequire(import.meta.url);

function ortBinDir(): string | undefined {
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

function vulkanLoaderPresent(): boolean {
  const dirs = ["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib", "/lib/x86_64-linux-gnu"];
  const extra = (process.env.LD_LIBRARY_PATH ?? "").split(":").filter(Boolean);
  return [...extra, ...dirs].some((d) => existsSync(join(d, "libvulkan.so.1")));
}

/**
 * What this machine's onnxruntime-node can offer, without starting a provider:
 * asking for CUDA when its library is missing can crash the process natively, so
 * presence of the library is checked first.
 */
export function detectProviders(): ProviderStatus[] {
  const supported = new Map(ort.listSupportedBackends().map((b) => [b.name, b.bundled]));
  const bin = ortBinDir();
  const out: ProviderStatus[] = [{ name: "cpu", available: true }];
  const cudaLib = bin ? join(bin, "libonnxruntime_providers_cuda.so") : undefined;
  if (process.platform !== "linux" || process.arch !== "x64") {
    out.push({ name: "cuda", available: false, reason: "onnxruntime-node ships the CUDA EP for Linux x64 only" });
  } else if (!cudaLib || !existsSync(cudaLib)) {
    out.push({
      name: "cuda",
      available: false,
      reason:
        "CUDA EP library not installed: reinstall with ONNXRUNTIME_NODE_INSTALL=cuda12 and onnxruntime-node in trustedDependencies (needs CUDA 12 + cuDNN 9)",
    });
  } else {
    out.push({ name: "cuda", available: true });
  }
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

/**
 * Creates a session on the requested provider, falling back to CPU with one line
 * saying why. Failures are remembered so the notice is printed once per process.
 */
export async function createSession(
  /** The model, or a function building it for the provider about to be tried (graphs may differ per EP). */
  model: Uint8Array | ((provider: ProviderName) => Uint8Array | Promise<Uint8Array>),
  choice: ProviderChoice,
  o: { threads?: number; log?: (line: string) => void; purpose?: string } = {},
): Promise<SessionFactoryResult> {
  const log = o.log ?? ((l: string) => console.error(l));
  const status = detectProviders();
  const order: ProviderName[] = choice === "auto" ? ["cuda", "webgpu", "cpu"] : choice === "cpu" ? ["cpu"] : [choice, "cpu"];
  const options: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: "all",
    executionMode: "sequential",
    interOpNumThreads: 1,
    // Warnings (e.g. unused initializers) would repeat for every session; errors still surface as exceptions.
    logSeverityLevel: 3,
    ...(o.threads ? { intraOpNumThreads: o.threads } : {}),
  };
  for (const p of order) {
    const st = status.find((s) => s.name === p)!;
    if (p === "cpu" && choice === "auto" && !autoNoticeShown) {
      autoNoticeShown = true;
      const gpus = status.filter((s) => s.name !== "cpu").map((s) => `${s.name}: ${failed.get(s.name) ?? (s.reason ?? "").split(":")[0]}`);
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
      const why = (e as Error).message.split("\n")[0] ?? String(e);
      failed.set(p, why);
      if (p !== "cpu") log(`notice: execution provider ${p} failed to start (${why}); falling back to cpu`);
      else throw e;
    }
  }
  throw new Error("no execution provider could start (cpu failed)");
}
