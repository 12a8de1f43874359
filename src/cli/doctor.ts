#!/usr/bin/env bun
/**
 * bun run doctor — what this machine offers the harness: runtimes, GPU hardware (NVIDIA
 * driver and GPUs, Vulkan drivers), engines and execution providers that load (and why
 * the others do not, with the fix), datasets found, the PyTorch engine (checked on a
 * real step), Slurm commands, and whether the default path (`bun run repro:fig2`) can
 * run here. Works offline. `--json` prints the same facts as one JSON object; the exit
 * code is 1 when the default path cannot run.
 */
import { execa } from "execa";
import { accessSync, constants, existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { Command } from "commander";
import * as ort from "onnxruntime-node";
import { defaultCacheDir } from "../data/cache.ts";
import { findCifar10 } from "../data/cifar10.ts";
import { DATASET_NAMES, DATASETS } from "../data/datasets.ts";
import { EMBEDDED_SUBSET_DIR } from "../data/embedded.ts";
import { DEBIAN_FASHION_MNIST_DIR, FASHION_MNIST_FILES, findIdxFile } from "../data/fashion-mnist.ts";
import { detectHardware, type HardwareFacts } from "../engine/hardware.ts";
import { CUDA_EP_PACKAGE } from "../engine/onnx/cuda-ep-setup.ts";
import {
  cudaEpInstall,
  detectProviders,
  ldLibraryPathFix,
  missingCudaLibraries,
  SETUP_COMMAND,
  type CudaEpInstall,
  type MissingLibrary,
  type ProviderStatus,
} from "../engine/onnx/providers.ts";
import { checkBatch, providerChecks, type ProviderCheck } from "../engine/provider-check.ts";
import { cachedProbes, probeLine, type AutoProbeResult } from "../engine/auto-probe.ts";
import { createTrainer, resolveAutoEngine, type EngineChoice } from "../engine/registry.ts";
import { probeTorch, type TorchInstall } from "../engine/torch/detect.ts";
import { freshState } from "../engine/state.ts";
import { buildModel } from "../models/registry.ts";
import { initTfjs } from "../engine/tfjs/backend.ts";
import { runContext, type RunContext } from "../util/provenance.ts";
import { runMain, withVersion } from "./common.ts";

// ---------------------------------------------------------------- facts

/** One training step on a small PreResNet-20: what a unit does first. */
export interface StepFacts {
  engine: string;
  /** The device or execution provider asked for. */
  device: string;
  ok: boolean;
  /** What it ended up training on (a GPU that fails the check against the CPU trains on the CPU). */
  trainedOn?: string;
  /** The check against the CPU, for a non-CPU device. */
  check?: Pick<ProviderCheck, "passed" | "tolerance" | "worst">;
  error?: string;
  /** What the engine logged on the way (fallbacks and why). */
  notes: string[];
}

export interface NativeTfjsFacts {
  package: string;
  /** How package.json lists it. */
  listedAs: string;
  status: "loaded" | "not installed" | "not usable";
  reason?: string;
}

export interface DatasetFacts {
  cifar10: { found: boolean; cacheDir: string; path: string | null };
  fashionMnistDebian: { found: boolean; dir: string };
  embeddedSubset: { found: boolean; dir: string };
  /** Every dataset of the registry: where this machine holds it ready (null: not found; absent: read from --data-dir only). */
  all: { name: string; summary: string; path?: string | null }[];
}

export interface OutputDirFacts {
  flag: string;
  dir: string;
  writable: boolean;
  why?: string;
}

/** What decides whether `bun run repro:fig2`, as it is, can run here. */
export interface DefaultPathFacts {
  autoEngine: { engine: string; why: string };
  /** The step of the engine auto picks, on the device it would train on. */
  step: StepFacts | null;
  datasets: DatasetFacts;
  outputs: OutputDirFacts[];
}

export interface DefaultPathCheck {
  what: string;
  ok: boolean;
  detail: string;
}

export interface DefaultPathVerdict {
  ok: boolean;
  checks: DefaultPathCheck[];
  /** The failed checks, in words; empty when ok. */
  reasons: string[];
  exitCode: 0 | 1;
}

/** The CUDA EP's pieces: its provider libraries (setup:cuda-ep) and the CUDA / cuDNN libraries they load. */
export interface CudaEpFacts {
  install: CudaEpInstall;
  /** The runtime libraries the dynamic loader would not find, each with its fix. */
  missing: MissingLibrary[];
  /** One LD_LIBRARY_PATH line covering the missing libraries pip has already installed, or null. */
  ldLibraryPath: string | null;
}

export interface DoctorReport {
  commit: string;
  machine: RunContext["machine"];
  runtime: Record<string, string>;
  hardware: HardwareFacts;
  onnx: {
    backends: { name: string; bundled: boolean }[];
    providers: ProviderStatus[];
    cudaEp: CudaEpFacts;
    /** A training step on the CPU EP, the fallback of every other provider. */
    cpuStep: StepFacts;
    /** The check every non-CPU provider that loads runs against the CPU before it trains. */
    gpuSteps: StepFacts[];
  };
  tfjs: { backend: string; native: NativeTfjsFacts[] };
  torch: { found: TorchInstall | null; missing?: string; steps: StepFacts[] };
  autoEngine: { engine: string; why: string };
  /** engine auto's measured CPU picks cached on this machine (auto-probe.ts). */
  autoProbes: AutoProbeResult[];
  datasets: DatasetFacts;
  slurm: Record<string, string | null>;
  defaultPath: DefaultPathVerdict;
}

// ---------------------------------------------------------------- the decision

/**
 * Whether the default path can run, from the collected facts: the engine auto picks
 * trains a step, a dataset auto can use is here (CIFAR-10 cached or the embedded
 * subset; a download is not counted on), and the run store and report directory can
 * be written. Pure, so it is tested on made-up facts.
 */
export function defaultPathVerdict(f: DefaultPathFacts): DefaultPathVerdict {
  const checks: DefaultPathCheck[] = [];
  const s = f.step;
  checks.push({
    what: "engine",
    ok: !!s?.ok,
    detail: !s
      ? `engine auto picks ${f.autoEngine.engine} (${f.autoEngine.why}), which doctor could not try`
      : s.ok
        ? `engine auto picks ${f.autoEngine.engine} (${f.autoEngine.why}); it trains a step on ${s.trainedOn ?? s.device}`
        : `engine auto picks ${f.autoEngine.engine} (${f.autoEngine.why}), which fails a training step on ${s.device}: ${s.error ?? "unknown error"}`,
  });
  const d = f.datasets;
  checks.push({
    what: "data",
    ok: d.cifar10.found || d.embeddedSubset.found,
    detail: d.cifar10.found
      ? `CIFAR-10 cached at ${d.cifar10.path}`
      : d.embeddedSubset.found
        ? `CIFAR-10 not cached (downloaded on first use when online), else the embedded Fashion-MNIST subset`
        : `neither CIFAR-10 in ${d.cifar10.cacheDir} nor the embedded subset in ${d.embeddedSubset.dir} (broken checkout?); offline, data.dataset=auto has nothing to train on`,
  });
  for (const o of f.outputs)
    checks.push({ what: o.flag, ok: o.writable, detail: o.writable ? `${o.dir} writable` : `${o.dir} not writable (${o.why ?? "unknown"})` });
  const reasons = checks.filter((c) => !c.ok).map((c) => `${c.what}: ${c.detail}`);
  return { ok: reasons.length === 0, checks, reasons, exitCode: reasons.length ? 1 : 0 };
}

/** Whether `dir` could be created and written, without creating it: the nearest existing ancestor decides. */
export function outputDirFacts(flag: string, dir: string): OutputDirFacts {
  let p = resolve(dir);
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  try {
    if (!statSync(p).isDirectory()) return { flag, dir, writable: false, why: `${p} is a file in the way` };
    accessSync(p, constants.W_OK);
    return { flag, dir, writable: true };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { flag, dir, writable: false, why: `${p}: ${err.code ?? err.message.split("\n")[0]}` };
  }
}

// ---------------------------------------------------------------- collecting

const smallModel = () => buildModel("preresnet20", { width: 4, inputShape: [3, 16, 16], numClasses: 10 });
const firstLine = (e: unknown) => ((e as Error).message ?? String(e)).split("\n")[0]!.slice(0, 300);

/** Creates a trainer as a unit would (a non-CPU device is checked against the CPU) and takes one step. */
async function tryStep(choice: EngineChoice & { engine: "onnx" | "torch" }, device: string): Promise<StepFacts> {
  const spec = smallModel();
  const options = { spec, sgd: { momentum: 0.9, weightDecay: 1e-4 }, bn: { eps: 1e-5, momentum: 0.1 }, threads: 1 };
  const before = providerChecks().length,
    notes: string[] = [];
  const facts: StepFacts = { engine: choice.engine, device, ok: false, notes };
  try {
    const t = await createTrainer({ ...choice, log: (l) => notes.push(l) }, options, freshState(spec, 1));
    try {
      const r = await t.trainStep(checkBatch(spec, 4), 0.1);
      if (!Number.isFinite(r.loss)) throw new Error(`the step's loss is ${r.loss}`);
      facts.trainedOn = t.provider;
      facts.ok = true;
    } finally {
      await t.dispose();
    }
  } catch (e) {
    facts.error = firstLine(e);
  }
  const check = providerChecks().slice(before)[0];
  if (check) facts.check = { passed: check.passed, tolerance: check.tolerance, worst: check.worst };
  return facts;
}

function packageJson(): Record<string, Record<string, string>> {
  try {
    return JSON.parse(readFileSync(join(import.meta.dir, "..", "..", "package.json"), "utf8")) as Record<string, Record<string, string>>;
  } catch {
    return {};
  }
}

/** The native TensorFlow.js bindings package.json lists (only those: a binding it does not list is not this project's). */
async function tfjsFacts(): Promise<DoctorReport["tfjs"]> {
  const tf = await initTfjs("auto");
  const pkg = packageJson();
  const listed = (name: string) =>
    pkg.dependencies?.[name] ? "dependency" : pkg.optionalDependencies?.[name] ? "optional dependency" : pkg.devDependencies?.[name] ? "dev dependency" : null;
  const native: NativeTfjsFacts[] = [];
  for (const name of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
    const listedAs = listed(name);
    if (!listedAs) continue;
    const note = tf.notes.find((n) => n.startsWith(`${name}:`));
    if (!note)
      native.push({
        package: name,
        listedAs,
        status: tf.backend === "tensorflow" ? "loaded" : "not usable",
        reason: tf.backend === "tensorflow" ? undefined : "not tried",
      });
    else {
      const reason = note.slice(name.length + 1).trim();
      native.push({ package: name, listedAs, status: /cannot find (package|module)/i.test(reason) ? "not installed" : "not usable", reason });
    }
  }
  return { backend: tf.backend, native };
}

function datasetFacts(cacheDir: string): DatasetFacts {
  const cifar = findCifar10(cacheDir);
  const complete = (dir: string) => Object.values(FASHION_MNIST_FILES).every((f) => findIdxFile(dir, f) !== null);
  return {
    cifar10: { found: cifar !== null, cacheDir, path: cifar },
    fashionMnistDebian: { found: complete(DEBIAN_FASHION_MNIST_DIR), dir: DEBIAN_FASHION_MNIST_DIR },
    embeddedSubset: { found: complete(EMBEDDED_SUBSET_DIR), dir: EMBEDDED_SUBSET_DIR },
    all: DATASET_NAMES.map((name) => {
      const e = DATASETS[name];
      return { name, summary: e.summary, ...(e.locate ? { path: e.locate(cacheDir) } : {}) };
    }),
  };
}

async function which(cmd: string): Promise<string | null> {
  const r = await execa("sh", ["-c", `command -v ${cmd}`], { reject: false });
  return r.exitCode === 0 ? String(r.stdout).trim() : null;
}

export async function collect(o: { cacheDir: string; runsDir: string; reportDir: string }): Promise<DoctorReport> {
  const ctx = runContext();
  const hardware = detectHardware();
  const providers = detectProviders();
  const missing = missingCudaLibraries();
  const cudaEp: CudaEpFacts = { install: cudaEpInstall(), missing, ldLibraryPath: ldLibraryPathFix(missing) };
  const cpuStep = await tryStep({ engine: "onnx", provider: "cpu" }, "cpu");
  const gpuSteps: StepFacts[] = [];
  for (const p of providers.filter((p) => p.name !== "cpu" && p.available)) gpuSteps.push(await tryStep({ engine: "onnx", provider: p.name }, p.name));
  const tfjs = await tfjsFacts();
  const datasets = datasetFacts(o.cacheDir);

  const probe = await probeTorch();
  const torch: DoctorReport["torch"] = "missing" in probe ? { found: null, missing: probe.missing, steps: [] } : { found: probe.found, steps: [] };
  if (torch.found) for (const device of torch.found.cuda ? ["cpu", "cuda"] : ["cpu"]) torch.steps.push(await tryStep({ engine: "torch", device }, device));
  const autoEngine = await resolveAutoEngine({ engine: "auto" });

  const slurm: Record<string, string | null> = {};
  for (const c of ["sbatch", "squeue", "scontrol", "sacct"]) slurm[c] = await which(c);

  // engine auto with the default provider/device: onnx ends on the CPU EP whenever a GPU
  // provider does not start or fails its check; torch trains on CUDA (auto picks it only then).
  const step = autoEngine.engine === "onnx" ? cpuStep : (torch.steps.find((s) => s.device === "cuda") ?? null);
  const defaultPath = defaultPathVerdict({
    autoEngine,
    step,
    datasets,
    outputs: [outputDirFacts("--runs-dir", o.runsDir), outputDirFacts("--report-dir", o.reportDir)],
  });
  return {
    commit: ctx.commit,
    machine: ctx.machine,
    runtime: ctx.runtime,
    hardware,
    onnx: { backends: ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled })), providers, cudaEp, cpuStep, gpuSteps },
    tfjs,
    torch,
    autoEngine,
    autoProbes: cachedProbes(o.cacheDir),
    datasets,
    slurm,
    defaultPath,
  };
}

// ---------------------------------------------------------------- the human report

const ok = (s: string) => `  ok    ${s}`;
const no = (s: string) => `  --    ${s}`;
const mark = (good: boolean, s: string) => (good ? ok(s) : no(s));
const worstText = (c: NonNullable<StepFacts["check"]>) =>
  `worst: ${c.worst.what}, relative error ${c.worst.relError.toExponential(1)}, tolerance ${c.tolerance}`;

/** Whether the CUDA EP is installed (else the command that installs it) and which CUDA / cuDNN libraries it would miss, with the fix of each. */
export function renderCudaEp(f: CudaEpFacts): string[] {
  const lines: string[] = [];
  const i = f.install;
  if (!i.binDir) lines.push(no("CUDA EP provider libraries: onnxruntime-node's native folder not found (run `bun install`)"));
  else if (!i.installed)
    lines.push(no(`CUDA EP provider libraries not installed in ${i.binDir}: run \`${SETUP_COMMAND}\` (downloads ${CUDA_EP_PACKAGE} from npm, 180 MB)`));
  else if (i.mismatch) lines.push(no(`CUDA EP provider libraries: ${i.mismatch}`));
  else
    lines.push(
      ok(`CUDA EP provider libraries installed in ${i.binDir}${i.marker ? ` (${i.marker.package}@${i.marker.version}, ONNX Runtime ${i.marker.ort})` : ""}`),
    );
  if (!f.missing.length) lines.push(ok("CUDA EP runtime libraries (CUDA 13, cuDNN 9, NVIDIA driver): all found"));
  for (const m of f.missing) lines.push(no(`${m.soname} (${m.what}) not found: ${m.fix}`));
  if (f.ldLibraryPath) lines.push(`        -> ${f.ldLibraryPath}`);
  else if (f.missing.some((m) => m.soname !== "libcuda.so.1"))
    lines.push("        -> a CUDA 13 PyTorch (pip) brings all but the driver: put its site-packages/nvidia/*/lib folders on LD_LIBRARY_PATH");
  return lines;
}

export function render(r: DoctorReport): string {
  const lines: string[] = [];
  lines.push("Machine");
  lines.push(`  ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB, ${r.machine.os}`);
  lines.push(`  commit ${r.commit}`);
  lines.push("Runtimes");
  for (const [k, v] of Object.entries(r.runtime)) lines.push(`  ${k} ${v}`);

  const { nvidia, vulkan } = r.hardware;
  lines.push("GPU hardware");
  lines.push(
    mark(
      nvidia.driverLoaded,
      nvidia.driverLoaded
        ? `NVIDIA kernel driver loaded${nvidia.kernelModule ? ` (${nvidia.kernelModule})` : ""}`
        : "NVIDIA kernel driver not loaded (no /proc/driver/nvidia, no /dev/nvidiaN)",
    ),
  );
  if (nvidia.nvidiaSmi === "ok") {
    if (!nvidia.gpus.length) lines.push(no("nvidia-smi lists no GPU"));
    for (const g of nvidia.gpus) lines.push(ok(`GPU ${g.index}: ${g.name}, ${g.memory}, driver ${g.driver}, compute mode ${g.computeMode}`));
    if (nvidia.gpus.length) lines.push(ok(`CUDA MPS daemon: ${nvidia.mps ? "running" : "not running"}`));
  } else lines.push(no(nvidia.nvidiaSmi === "missing" ? "nvidia-smi not found" : `nvidia-smi failed: ${nvidia.nvidiaSmiError}`));
  lines.push(`        -> ${nvidia.meaning}`);
  if (vulkan.vulkaninfo === "ok") {
    if (!vulkan.devices.length) lines.push(no("vulkaninfo --summary lists no Vulkan device"));
    for (const d of vulkan.devices)
      lines.push(
        mark(
          !d.software,
          `Vulkan device ${d.name} (${d.type.replace("PHYSICAL_DEVICE_TYPE_", "").toLowerCase()}, driver ${d.driver})${d.software ? ": software, not a GPU" : ""}`,
        ),
      );
  } else
    lines.push(
      no(
        vulkan.vulkaninfo === "missing"
          ? "vulkaninfo not found (apt install vulkan-tools); reading the ICD manifests instead"
          : `vulkaninfo --summary failed: ${vulkan.vulkaninfoError}`,
      ),
    );
  if (!vulkan.icds.length) lines.push(no(`no Vulkan driver manifest (ICD) in ${vulkan.icdDirs.join(", ")}`));
  for (const i of vulkan.icds) lines.push(mark(!i.software, `Vulkan ICD ${i.name}: ${i.kind} (${i.file})`));
  lines.push(`        -> ${vulkan.meaning}`);

  lines.push("Training engine: ONNX Runtime (engine auto's pick without CUDA, unless torch measures faster)");
  lines.push(`  onnxruntime-node backends: ${r.onnx.backends.map((b) => `${b.name}${b.bundled ? "" : " (not bundled)"}`).join(", ")}`);
  for (const p of r.onnx.providers) {
    if (p.name === "cpu") {
      const s = r.onnx.cpuStep;
      lines.push(mark(s.ok, s.ok ? "execution provider cpu trains a step" : `execution provider cpu fails a training step: ${s.error}`));
    } else lines.push(p.available ? ok(`execution provider ${p.name} loads`) : no(`execution provider ${p.name}: ${p.reason}`));
  }
  lines.push(...renderCudaEp(r.onnx.cudaEp));
  if (!r.onnx.gpuSteps.length) lines.push("  (no GPU execution provider loads here, so none is checked against the cpu)");
  for (const s of r.onnx.gpuSteps) {
    if (!s.ok || !s.check) lines.push(no(`execution provider ${s.device} did not start: ${(s.error ?? s.notes.join(" ")).slice(0, 200)}`));
    else
      lines.push(
        s.check.passed
          ? ok(`execution provider ${s.device} agrees with cpu on a training step (${worstText(s.check)})`)
          : no(`execution provider ${s.device} computes wrong results (${worstText(s.check)}): units train on cpu instead`),
      );
  }

  lines.push("Second engine and test oracle: TensorFlow.js");
  lines.push(r.tfjs.backend === "tensorflow" ? ok("native binding loaded (tensorflow backend)") : ok("pure-JS cpu backend (oracle; slow for training)"));
  for (const n of r.tfjs.native) {
    const what = `${n.package} (${n.listedAs})`;
    if (n.status === "loaded") lines.push(ok(`${what} loaded`));
    else
      lines.push(
        no(
          `${what} ${n.status === "not installed" ? "not installed" : "installed but does not load"}${n.reason ? `: ${n.reason.slice(0, 160)}` : ""} (its install script downloads libtensorflow, and it needs CUDA 11.2 + cuDNN 8.1; not needed: the pure-JS backend is the oracle)`,
        ),
      );
  }

  lines.push(`Datasets (data.dataset; cache ${r.datasets.cifar10.cacheDir})`);
  for (const d of r.datasets.all) {
    lines.push(d.path === undefined ? ok(`${d.name}: ${d.summary}`) : d.path ? ok(`${d.name}: at ${d.path}`) : no(`${d.name}: not here — ${d.summary}`));
  }

  lines.push("Training engine: PyTorch (engine.name=torch; engine auto's pick on CUDA, and on the CPU where it measures faster)");
  if (!r.torch.found) lines.push(no(`torch engine unavailable: ${r.torch.missing}; bench:train skips its PyTorch rows`));
  else {
    const t = r.torch.found;
    lines.push(ok(`${t.python}: torch ${t.torch}, ${t.cuda ? `${t.devices} CUDA device(s)` : "no CUDA device"}`));
    for (const s of r.torch.steps) {
      if (!s.ok) lines.push(no(`torch engine on ${s.device}: ${s.error}`));
      else {
        const verdict = s.check
          ? `; ${s.check.passed ? "agrees with" : "DISAGREES with"} torch on the cpu (worst: ${s.check.worst.what}, relative error ${s.check.worst.relError.toExponential(1)})`
          : "";
        lines.push(mark(!s.check || s.check.passed, `torch engine trains on ${s.trainedOn}${verdict}`));
      }
    }
  }
  lines.push(`  engine.name=auto (the default) picks ${r.autoEngine.engine} here: ${r.autoEngine.why}`);
  if (r.autoProbes.length) {
    lines.push("  on the CPU, auto measures onnx against torch once per model, batch and thread count (engine.autoProbe); picks measured on this machine:");
    for (const p of r.autoProbes) lines.push(`        ${probeLine(p)}`);
  } else if (r.torch.found && !r.hardware.nvidia.driverLoaded)
    lines.push("  on the CPU, auto measures onnx against torch when a unit first trains a model (engine.autoProbe); nothing measured here yet");

  lines.push("Slurm");
  for (const [c, w] of Object.entries(r.slurm)) lines.push(w ? ok(`${c} at ${w}`) : no(`${c} not found (only needed for --executor slurm)`));

  lines.push("Default path (bun run repro:fig2 as it is: engine auto, dataset auto)");
  for (const c of r.defaultPath.checks) lines.push(mark(c.ok, `${c.what}: ${c.detail}`));
  lines.push(r.defaultPath.ok ? "default path: OK" : `default path: cannot run: ${r.defaultPath.reasons.join("; ")}`);
  return lines.join("\n");
}

// ---------------------------------------------------------------- the command

const cmd = withVersion(new Command("doctor"))
  .description(
    "Print what this machine offers the harness (GPU hardware, engines, execution providers, datasets, Slurm) and whether the default path (bun run repro:fig2) can run here",
  )
  .option("--cache-dir <dir>", "dataset cache to inspect", defaultCacheDir())
  .option("--runs-dir <dir>", "run store the default path writes to (checked for writing, not created)", "runs")
  .option("--report-dir <dir>", "report directory the default path writes to (checked for writing, not created)", "reports")
  .option("--json", "print everything found as one JSON object on stdout (nothing else goes to stdout)")
  .addHelpText(
    "after",
    `
GPU hardware: NVIDIA GPUs from nvidia-smi and the kernel driver (/proc/driver/nvidia): the
torch engine's CUDA path needs them. Vulkan drivers from vulkaninfo --summary, else the ICD
manifests in the loader's directories (/usr/share/vulkan/icd.d, /etc/vulkan/icd.d, ...):
the WebGPU execution provider needs a GPU's Vulkan driver; lavapipe (lvp_icd) is Vulkan
emulated on the CPU, not a GPU. A missing tool is reported, never an error.

Default path: the last lines check what \`bun run repro:fig2\` needs as it is: the engine
that engine.name=auto picks trains a step, a dataset is at hand (CIFAR-10 cached, or the embedded
subset), and --runs-dir / --report-dir can be written. They end with "default path: OK" or
"default path: cannot run: <reason>".

Exit codes: 0 when the default path can run, 1 when it cannot (or doctor itself failed),
2 on a usage error.`,
  )
  // Usage errors exit 2 like every other command; --help exits 0.
  .showHelpAfterError("(run with --help for usage)")
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

if (import.meta.main)
  await runMain(async () => {
    const opts = cmd.parse().opts<{ cacheDir: string; runsDir: string; reportDir: string; json?: boolean }>();
    // With --json, stdout carries the JSON alone: anything a library logs goes to stderr.
    const log = console.log;
    if (opts.json) console.log = console.info = (...a: unknown[]) => console.error(...a);
    const report = await collect(opts);
    if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else log(render(report));
    process.exitCode = report.defaultPath.exitCode;
  });
