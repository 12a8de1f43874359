#!/usr/bin/env bun
/**
 * bun run bench:train — training speed of every engine/EP that loads here, PyTorch CPU
 * side by side when it imports, ORT's per-op cost table, and a real accuracy check.
 * Writes train-throughput.md and .json to --report-dir.
 */
import { execa } from "execa";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import type { BenchTrainConfig } from "../src/config/generated/bench-train.ts";
import { loadPresetConfig } from "../src/config/presets.ts";
import type { RunnerConfig } from "../src/config/generated/runner.ts";
import { ConfigError } from "../src/config/load.ts";
import { addRunnerOptions, baseCommand, notice, runMain, runnerConfig, type RunnerFlags } from "../src/cli/common.ts";
import { trainUnit } from "../src/runner/kinds/train.ts";
import { runUnits } from "../src/runner/run-units.ts";
import { profileTrainStep, type StepProfile } from "../src/engine/onnx/profile.ts";
import { detectProviders } from "../src/engine/onnx/providers.ts";
import { createTrainer, type EngineChoice } from "../src/engine/registry.ts";
import { freshState } from "../src/engine/state.ts";
import { buildModel } from "../src/models/registry.ts";
import type { ModelSpec } from "../src/models/spec.ts";
import { contextMarkdown, runContext, table, type RunContext } from "../src/report/context.ts";
import type { EpochRecord } from "../src/train/train-loop.ts";
import { Rng } from "../src/util/rng.ts";
import { writeFileAtomic } from "../src/util/atomic-write.ts";

type Case = BenchTrainConfig["throughput"]["cases"][number];
type EngineKey = BenchTrainConfig["throughput"]["engines"][number];

type Measurement =
  | { case: string; engine: EngineKey; status: "measured"; provider: string; threads: number; batchSize: number; steps: number; medianMs: number; minMs: number; imagesPerSecond: number }
  | { case: string; engine: EngineKey; status: "skipped"; reason: string };

type TorchResult = { case: string; status: "measured"; python: string; torch: string; threads: number; medianMs: number; imagesPerSecond: number } | { case: string; status: "skipped"; reason: string };

interface AccuracyResult {
  dataset: string;
  source: string;
  arch: string;
  width: number;
  trainImages: number;
  testImages: number;
  epochs: EpochRecord[];
  status: string;
  finalTestAccuracy: number | null;
  wallSeconds: number;
  engine: string;
  provider: string;
}

interface BenchRecord {
  context: RunContext;
  preset: string;
  threads: number;
  config: BenchTrainConfig;
  throughput: Measurement[];
  torch: TorchResult[];
  profile: { case: string; profile: StepProfile } | null;
  accuracy: AccuracyResult | null;
}

function randomBatch(spec: ModelSpec, size: number) {
  const rng = new Rng(0, "bench-batch");
  const [c, h, w] = spec.inputShape;
  const x = new Float32Array(size * c * h * w);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  return { x, y: Array.from({ length: size }, () => rng.int(spec.numClasses)), size };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function measureEngine(key: EngineKey, c: Case, cfg: BenchTrainConfig["throughput"], threads: number): Promise<Measurement> {
  const spec = buildModel(c.arch, { width: c.width, inputShape: c.inputShape, numClasses: 10 });
  let choice: EngineChoice;
  if (key === "tfjs") choice = { engine: "tfjs", tfjsBackend: "auto" };
  else {
    const ep = key.slice("onnx-".length) as "cpu" | "cuda" | "webgpu";
    const st = detectProviders().find((p) => p.name === ep)!;
    if (!st.available) return { case: c.name, engine: key, status: "skipped", reason: st.reason ?? "unavailable" };
    choice = { engine: "onnx", provider: ep, log: notice };
  }
  const opts = { spec, sgd: { momentum: 0.9, weightDecay: 1e-4 }, bn: { eps: 1e-5, momentum: 0.1 }, threads };
  let trainer;
  try {
    trainer = await createTrainer(choice, opts, freshState(spec, 1));
  } catch (e) {
    return { case: c.name, engine: key, status: "skipped", reason: (e as Error).message.split("\n")[0]! };
  }
  if (key !== "tfjs" && trainer.provider !== key.slice(5)) {
    await trainer.dispose();
    return { case: c.name, engine: key, status: "skipped", reason: `requested ${key.slice(5)}, session fell back to ${trainer.provider}` };
  }
  const slow = trainer.provider === "tfjs-cpu";
  const batchSize = slow ? Math.min(cfg.oracleBatchSize, c.batchSize) : c.batchSize;
  const steps = slow ? cfg.oracleSteps : cfg.measuredSteps;
  const warmup = slow ? Math.min(1, cfg.warmupSteps) : cfg.warmupSteps;
  const batch = randomBatch(spec, batchSize);
  notice(`bench: ${c.name} on ${key} (${trainer.provider}), batch ${batchSize}: ${warmup} warm-up + ${steps} timed steps`);
  const times: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    await trainer.trainStep(batch, 0.01);
    if (i >= warmup) times.push(performance.now() - t0);
  }
  await trainer.dispose();
  const med = median(times);
  return { case: c.name, engine: key, status: "measured", provider: trainer.provider, threads: key === "tfjs" ? 1 : threads, batchSize, steps, medianMs: med, minMs: Math.min(...times), imagesPerSecond: (batchSize / med) * 1000 };
}

async function findTorch(pythons: string[]): Promise<{ python: string } | { reason: string }> {
  for (const python of pythons) {
    const r = await execa(python, ["-c", "import torch"], { reject: false, timeout: 60_000 });
    if (r.exitCode === 0) return { python };
  }
  return { reason: `none of ${pythons.join(", ")} can import torch (Debian: apt install python3-torch)` };
}

async function measureTorch(python: string, c: Case, cfg: BenchTrainConfig["throughput"], threads: number): Promise<TorchResult> {
  if (c.arch !== "preresnet20") return { case: c.name, status: "skipped", reason: "the PyTorch reference script implements preresnet20 only" };
  notice(`bench: ${c.name} on PyTorch CPU (${python}), ${cfg.warmupSteps} warm-up + ${cfg.measuredSteps} timed steps`);
  const args = [join(import.meta.dir, "torch_train_step.py"), "--width", String(c.width), "--channels", String(c.inputShape[0]), "--batch", String(c.batchSize), "--threads", String(threads), "--warmup", String(cfg.warmupSteps), "--steps", String(cfg.measuredSteps)];
  if (c.inputShape[1] !== 32 || c.inputShape[2] !== 32) return { case: c.name, status: "skipped", reason: "the PyTorch reference script uses 32x32 inputs" };
  const r = await execa(python, args, { reject: false });
  if (r.exitCode !== 0) return { case: c.name, status: "skipped", reason: `PyTorch script failed: ${String(r.stderr).split("\n").slice(-2).join(" ")}` };
  const j = JSON.parse(String(r.stdout).trim().split("\n").at(-1)!) as { torch: string; threads: number; median_s: number; images_per_s: number };
  return { case: c.name, status: "measured", python, torch: j.torch, threads: j.threads, medianMs: j.median_s * 1000, imagesPerSecond: j.images_per_s };
}

/**
 * Trains the preset's model as a runner unit: cached in the run store (a re-run reuses
 * it), resumable, and run after the timings so it never shares cores with them.
 */
async function accuracyCheck(cfg: BenchTrainConfig["accuracy"]["training"], runner: RunnerConfig, reportDir: string): Promise<AccuracyResult> {
  const unit = trainUnit(cfg, `accuracy check: ${cfg.model.arch} w${cfg.model.width}`);
  const out = await runUnits([unit], runner, { reportDir });
  const r = out!.records.get(unit.id);
  if (!r) throw new Error(`the accuracy-check unit did not complete: ${out!.failed[0]?.error ?? "unknown"} (see ${join(runner.runsDir, unit.id)})`);
  const m = r.metrics as { dataset: { name: string; source: string; train: number; test: number }; epochs: EpochRecord[]; finalTestAccuracy: number | null; divergedAt?: { epoch: number } };
  return {
    dataset: m.dataset.name,
    source: m.dataset.source,
    arch: cfg.model.arch,
    width: cfg.model.width,
    trainImages: m.dataset.train,
    testImages: m.dataset.test,
    epochs: m.epochs,
    status: r.status === "done" ? "done" : `diverged at epoch ${m.divergedAt?.epoch}`,
    finalTestAccuracy: m.finalTestAccuracy,
    wallSeconds: m.epochs.reduce((s, e) => s + e.seconds, 0),
    engine: r.env.engine,
    provider: r.env.provider,
  };
}

/** Shares of the measured profile by kind of work, with the reason each costs what it does. */
function limitsParagraph(p: StepProfile, ratios: { case: string; ratio: number }[]): string {
  const share = (ops: string[]) => p.byOp.filter((o) => ops.includes(o.op)).reduce((s, o) => s + o.share, 0);
  const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
  const conv = share(["Conv", "ConvTranspose", "FusedMatMul", "MatMul"]);
  const reorder = share(["ReorderInput", "ReorderOutput"]);
  return [
    `Convolution work (forward, input and filter gradients) takes ${pct(conv)} of kernel time, layout reorders ${pct(reorder)}, and the remaining ${pct(1 - conv - reorder)} is BatchNorm, ReLU, residual sums and the SGD update, each a separate pass over memory.`,
    "PyTorch's CPU backend runs each convolution and both of its gradients as cache-blocked oneDNN primitives and fuses the BN and ReLU backward passes; an ONNX graph can only compose standard (and ORT contrib) ops, so the filter gradient materialises shifted copies of the activations before a GEMM, and every elementwise step streams whole tensors through memory.",
    ...(ratios.length ? [`Measured here, ONNX engine (CPU EP) / PyTorch: ${ratios.map((r) => `${r.ratio.toFixed(2)}x for ${r.case}`).join("; ")}.`] : []),
  ].join(" ");
}

function ratiosToTorch(r: BenchRecord): { case: string; ratio: number }[] {
  const out: { case: string; ratio: number }[] = [];
  for (const m of r.throughput) {
    const t = r.torch.find((t) => t.case === m.case);
    if (m.status === "measured" && m.engine === "onnx-cpu" && t?.status === "measured") out.push({ case: m.case, ratio: m.imagesPerSecond / t.imagesPerSecond });
  }
  return out;
}

function renderReport(r: BenchRecord): string {
  const fmt = (x: number, d = 1) => x.toFixed(d);
  const torchFor = (c: string) => r.torch.find((t) => t.case === c && t.status === "measured") as Extract<TorchResult, { status: "measured" }> | undefined;
  const rows = r.throughput.map((m) => {
    if (m.status === "skipped") return [m.case, m.engine, "-", "-", "-", "-", `skipped: ${m.reason}`];
    const t = torchFor(m.case);
    const ratio = t && m.batchSize === r.config.throughput.cases.find((c) => c.name === m.case)!.batchSize ? `${fmt(m.imagesPerSecond / t.imagesPerSecond, 2)}x` : "-";
    return [m.case, m.engine, m.provider, m.threads, m.batchSize, `${fmt(m.medianMs)} ms`, `**${fmt(m.imagesPerSecond)}** img/s (vs PyTorch ${ratio})`];
  });
  for (const t of r.torch) rows.push(t.status === "measured" ? [t.case, "pytorch", `torch ${t.torch} CPU`, t.threads, r.config.throughput.cases.find((c) => c.name === t.case)!.batchSize, `${fmt(t.medianMs)} ms`, `**${fmt(t.imagesPerSecond)}** img/s`] : [t.case, "pytorch", "-", "-", "-", "-", `skipped: ${t.reason}`]);
  const parts = [
    "# Training throughput",
    "",
    `Generated by \`bun run bench:train --preset ${r.preset}\`. Median of timed full training steps (forward, backward, SGD update, BN statistics) after warm-up, on random data; the same model and batch for every engine unless the batch column says otherwise.`,
    "",
    contextMarkdown(r.context, { preset: r.preset, "engine threads": r.threads }),
    "",
    "## Images per second",
    "",
    table(["case", "engine", "EP / backend", "threads", "batch", "median step", "throughput"], rows),
    "",
  ];
  if (r.profile) {
    const p = r.profile.profile;
    parts.push(
      "## Where the ONNX Runtime step spends its time",
      "",
      `ORT profiler, CPU EP, ${r.profile.case}: ${fmt(p.kernelMs)} ms of kernel time per step (${fmt(p.wallMs)} ms wall with profiling on). Conv includes the forward convolutions and stride-1 input gradients (ORT's blocked NCHWc kernels, com.microsoft.nchwc) and the one-hot grouped convs that build the shifted activation copies for filter gradients; FusedMatMul is the filter-gradient GEMM; ReorderInput/ReorderOutput move activations in and out of the blocked layout around each conv.`,
      "",
      table(["op type", "ms / step", "share", "nodes"], p.byOp.filter((o) => o.share >= 0.002).map((o) => [o.op, fmt(o.ms, 2), `${fmt(100 * o.share)}%`, o.nodes])),
      "",
      "### What limits the engine's speed",
      "",
      limitsParagraph(p, ratiosToTorch(r)),
      "",
    );
  }
  if (r.accuracy) {
    const a = r.accuracy;
    parts.push(
      "## Does training learn?",
      "",
      `${a.arch} width ${a.width} trained with the preset's configuration on **${a.dataset}** (${a.source}; ${a.trainImages} training / ${a.testImages} test images), engine ${a.engine}/${a.provider}: status ${a.status}, final test accuracy **${a.finalTestAccuracy === null ? "n/a" : (100 * a.finalTestAccuracy).toFixed(2) + "%"}**, ${fmt(a.wallSeconds / 60)} min wall.`,
      "",
      table(["epoch", "lr", "train loss", "train acc", "test acc", "s"], a.epochs.filter((e, i) => e.testAccuracy !== undefined && (e.epoch % 5 === 0 || i === a.epochs.length - 1)).map((e) => [e.epoch, e.lr.toPrecision(2), fmt(e.trainLoss, 4), fmt(100 * e.trainAccuracy, 2), fmt(100 * e.testAccuracy!, 2), fmt(e.seconds)])),
      "",
    );
  }
  return parts.join("\n");
}

const cmd = addRunnerOptions(baseCommand("bench:train", "Training throughput per engine/EP, PyTorch side by side, per-op costs and an accuracy check"))
  .option("--threads <n>", "engine threads (default: all cores)")
  .option("--data-dir <dir>", "dataset directory for the accuracy check (cifar-10-batches-bin or IDX files)")
  .option("--no-torch", "skip the PyTorch comparison")
  .option("--no-accuracy", "skip the accuracy check");

await runMain(async () => {
  const opts = cmd.parse().opts<RunnerFlags & { preset: string; reportDir: string; set: string[]; threads?: string; dataDir?: string; torch: boolean; accuracy: boolean }>();
  const overrides = [...opts.set, ...(opts.dataDir ? [`accuracy.training.data.dataDir=${opts.dataDir}`] : [])];
  const cfg = loadPresetConfig<BenchTrainConfig>("bench-train", "bench-train", opts.preset, overrides);
  if (!opts.torch) cfg.torch.enabled = false;
  if (!opts.accuracy) cfg.accuracy.enabled = false;
  const threads = opts.threads ? Number(opts.threads) : availableParallelism();
  if (!(threads >= 1)) throw new ConfigError(`--threads: expected a positive integer, given "${opts.threads}"`);
  // The accuracy check is one unit; it gets the whole machine, after the timings.
  const runner = runnerConfig({ ...opts, jobs: "1", threadsPerJob: String(threads) });
  if (opts.dryRun) {
    const timed = cfg.throughput.cases.length * cfg.throughput.engines.length;
    notice(`plan: ${timed} timed engine/case combinations (${cfg.throughput.cases.map((c) => c.name).join("; ")} x ${cfg.throughput.engines.join(", ")}), serial in this process${cfg.torch.enabled ? ", plus PyTorch" : ""}`);
    if (cfg.accuracy.enabled) await runUnits([trainUnit(cfg.accuracy.training, "accuracy check")], runner, { dryRun: true, reportDir: opts.reportDir });
    return;
  }
  const context = runContext();
  const throughput: Measurement[] = [];
  for (const c of cfg.throughput.cases) for (const e of cfg.throughput.engines) throughput.push(await measureEngine(e, c, cfg.throughput, threads));
  const torch: TorchResult[] = [];
  if (cfg.torch.enabled) {
    const found = await findTorch(cfg.torch.pythons);
    for (const c of cfg.throughput.cases) torch.push("python" in found ? await measureTorch(found.python, c, cfg.throughput, threads) : { case: c.name, status: "skipped", reason: found.reason });
  }
  let profile: BenchRecord["profile"] = null;
  if (cfg.throughput.profileSteps > 0) {
    const c = cfg.throughput.cases[0];
    notice(`bench: profiling ${c.name} on onnx-cpu`);
    profile = { case: c.name, profile: await profileTrainStep(buildModel(c.arch, { width: c.width, inputShape: c.inputShape, numClasses: 10 }), { batch: c.batchSize, threads, steps: cfg.throughput.profileSteps }) };
  }
  const accuracy = cfg.accuracy.enabled ? await accuracyCheck(cfg.accuracy.training, runner, opts.reportDir) : null;
  const record: BenchRecord = { context, preset: opts.preset, threads, config: cfg, throughput, torch, profile, accuracy };
  const md = renderReport(record);
  writeFileAtomic(join(opts.reportDir, "train-throughput.json"), JSON.stringify(record, null, 2) + "\n");
  writeFileAtomic(join(opts.reportDir, "train-throughput.md"), md + "\n");
  console.log(md);
  console.log(`\nwrote ${join(opts.reportDir, "train-throughput.md")} and .json`);
});
