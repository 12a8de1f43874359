import { execa } from "execa";
import { join } from "node:path";
import type { BenchTrainConfig } from "../config/generated/bench-train.ts";
import type { RunnerConfig } from "../config/generated/runner.ts";
import { ConfigError, validateConfig } from "../config/load.ts";
import { loadPresetConfig } from "../config/presets.ts";
import { profileTrainStep } from "../engine/onnx/profile.ts";
import { detectProviders } from "../engine/onnx/providers.ts";
import { createTrainer, type EngineChoice } from "../engine/registry.ts";
import { freshState } from "../engine/state.ts";
import { probeTorch } from "../engine/torch/detect.ts";
import { buildModel } from "../models/registry.ts";
import type { ModelSpec } from "../models/spec.ts";
import {
  renderTrainThroughput,
  type AccuracyResult,
  type BenchRecord,
  type Case,
  type EngineKey,
  type GridResult,
  type Measurement,
  type TorchResult,
} from "../report/train-throughput-report.ts";
import { trainUnit } from "../runner/kinds/train.ts";
import { runUnits } from "../runner/run-units.ts";
import type { EpochRecord } from "../train/train-loop.ts";
import { throughputCsv } from "../report/csv.ts";
import { writeFileAtomic } from "../util/atomic-write.ts";
import { notice } from "../util/notice.ts";
import { runContext } from "../util/provenance.ts";
import { Rng } from "../util/rng.ts";

/** The raw PyTorch reference script and the grid worker live with the benchmark scripts. */
const BENCH_DIR = join(import.meta.dir, "../../bench");

function randomBatch(spec: ModelSpec, size: number) {
  const rng = new Rng(0, "bench-batch");
  const [c, h, w] = spec.inputShape;
  const x = new Float32Array(size * c * h * w);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  return { x, y: Array.from({ length: size }, () => rng.int(spec.numClasses)), size };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function measureEngine(key: EngineKey, c: Case, cfg: BenchTrainConfig["throughput"], threads: number, torchPython: string): Promise<Measurement> {
  const spec = buildModel(c.arch, { width: c.width, inputShape: c.inputShape, numClasses: 10 });
  let choice: EngineChoice;
  if (key === "tfjs") choice = { engine: "tfjs", tfjsBackend: "auto" };
  else if (key.startsWith("torch-")) {
    const device = key.slice("torch-".length);
    const probe = await probeTorch(torchPython);
    if ("missing" in probe) return { case: c.name, engine: key, status: "skipped", reason: probe.missing };
    if (device === "cuda" && !probe.found.cuda)
      return { case: c.name, engine: key, status: "skipped", reason: `torch ${probe.found.torch} (${probe.found.python}) sees no CUDA device` };
    choice = { engine: "torch", device, python: probe.found.python, log: notice };
  } else {
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
  const wanted = key.slice(key.indexOf("-") + 1);
  if (key !== "tfjs" && trainer.provider.split(":")[0] !== wanted) {
    await trainer.dispose();
    return { case: c.name, engine: key, status: "skipped", reason: `requested ${wanted}, the trainer fell back to ${trainer.provider}` };
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
  return {
    case: c.name,
    engine: key,
    status: "measured",
    provider: trainer.provider,
    threads: key === "tfjs" ? 1 : threads,
    batchSize,
    steps,
    medianMs: med,
    minMs: Math.min(...times),
    imagesPerSecond: (batchSize / med) * 1000,
  };
}

async function measureTorch(python: string, device: "cpu" | "cuda", c: Case, cfg: BenchTrainConfig["throughput"], threads: number): Promise<TorchResult> {
  const skip = (reason: string): TorchResult => ({ case: c.name, device, status: "skipped", reason });
  if (c.arch !== "preresnet20") return skip("the PyTorch reference script implements preresnet20 only");
  if (c.inputShape[1] !== 32 || c.inputShape[2] !== 32) return skip("the PyTorch reference script uses 32x32 inputs");
  notice(`bench: ${c.name} on raw PyTorch ${device} (${python}), ${cfg.warmupSteps} warm-up + ${cfg.measuredSteps} timed steps`);
  const args = [
    join(BENCH_DIR, "torch_train_step.py"),
    "--width",
    String(c.width),
    "--channels",
    String(c.inputShape[0]),
    "--batch",
    String(c.batchSize),
    "--threads",
    String(threads),
    "--warmup",
    String(cfg.warmupSteps),
    "--steps",
    String(cfg.measuredSteps),
    "--device",
    device,
  ];
  const r = await execa(python, args, { reject: false });
  if (r.exitCode !== 0) return skip(`PyTorch script failed: ${String(r.stderr).split("\n").slice(-2).join(" ")}`);
  const j = JSON.parse(String(r.stdout).trim().split("\n").at(-1)!) as {
    torch: string;
    gpu: string | null;
    threads: number;
    median_s: number;
    min_s: number;
    images_per_s: number;
  };
  return {
    case: c.name,
    device,
    status: "measured",
    python,
    torch: j.torch,
    gpu: j.gpu,
    threads: j.threads,
    medianMs: j.median_s * 1000,
    minMs: j.min_s * 1000,
    imagesPerSecond: j.images_per_s,
  };
}

/**
 * N grid workers (train-grid-worker.ts) on one GPU: each warms up and reports ready,
 * then all are told to go at once, so their timed windows overlap; the row's rate is
 * all their images over the span from the first start to the last end.
 */
async function measureGrid(python: string, c: Case, workers: number, cfg: BenchTrainConfig["throughput"]): Promise<GridResult> {
  notice(`bench: grid of ${workers} torch-engine run(s) sharing ${cfg.grid.device}, ${c.name}, ${cfg.grid.steps} timed steps each`);
  const args = [
    "--case",
    JSON.stringify({ arch: c.arch, width: c.width, inputShape: c.inputShape, batchSize: c.batchSize }),
    "--device",
    cfg.grid.device,
    "--python",
    python,
    "--warmup",
    String(cfg.warmupSteps),
    "--steps",
    String(cfg.grid.steps),
  ];
  const children = Array.from({ length: workers }, () =>
    execa(process.execPath, [join(BENCH_DIR, "train-grid-worker.ts"), ...args], {
      reject: false,
      stdin: "pipe",
      stderr: "inherit",
      buffer: { stdout: true },
      lines: false,
    }),
  );
  try {
    await Promise.all(
      children.map(
        (ch) =>
          new Promise<void>((ok, fail) => {
            let text = "";
            ch.stdout!.on("data", (d: Buffer) => {
              text += d.toString();
              if (text.includes("ready\n")) ok();
            });
            void ch.then((r) => fail(new Error(`a grid worker exited before it was ready (${r.exitCode}): ${String(r.stderr ?? "").slice(-200)}`)));
          }),
      ),
    );
    for (const ch of children) ch.stdin!.end("go\n");
    const results = await Promise.all(children);
    const runs = results.map(
      (r) => JSON.parse(String(r.stdout).trim().split("\n").at(-1)!) as { provider: string; start: number; end: number; images: number },
    );
    const span = Math.max(...runs.map((r) => r.end)) - Math.min(...runs.map((r) => r.start));
    return {
      case: c.name,
      workers,
      status: "measured",
      provider: runs[0]!.provider,
      imagesPerSecond: (runs.reduce((s, r) => s + r.images, 0) / span) * 1000,
      perRun: runs.map((r) => (r.images / (r.end - r.start)) * 1000),
    };
  } catch (e) {
    for (const ch of children) ch.kill();
    return { case: c.name, workers, status: "skipped", reason: (e as Error).message.split("\n")[0]! };
  }
}

/**
 * Trains the preset's model as a runner unit: cached in the run store (a re-run reuses
 * it), resumable, and run after the timings so it never shares cores with them.
 */
async function accuracyCheck(cfg: BenchTrainConfig["accuracy"]["training"], runner: RunnerConfig, reportDir: string): Promise<AccuracyResult> {
  const unit = trainUnit(cfg, `accuracy check: ${cfg.model.arch} w${cfg.model.width}`);
  const out = await runUnits([unit], runner, { reportDir, outputDirs: [{ dir: reportDir, flag: "--report-dir" }] });
  const r = out!.records.get(unit.id);
  if (!r) throw new Error(`the accuracy-check unit did not complete: ${out!.failed[0]?.error ?? "unknown"} (see ${join(runner.runsDir, unit.id)})`);
  const m = r.metrics as {
    dataset: { name: string; source: string; train: number; test: number };
    epochs: EpochRecord[];
    finalTestAccuracy: number | null;
    divergedAt?: { epoch: number };
  };
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

export interface TrainThroughputOptions {
  preset: string;
  /** path=value settings over the preset. */
  overrides: string[];
  configFiles?: string[];
  /** Engine threads of every timed engine. */
  threads: number;
  /** The accuracy check is one unit; it gets the whole machine, after the timings. */
  runner: RunnerConfig;
  reportDir: string;
  /** File name without extension (a GPU machine's: train-throughput-gpu). */
  reportName: string;
  torch: boolean;
  accuracy: boolean;
  dryRun?: boolean;
}

/**
 * Training speed of every engine/device that loads here, raw PyTorch on the same
 * devices, a grid row of runs sharing one GPU, ORT's per-op cost table and a real
 * accuracy check; writes <reportName>.md and .json.
 */
export async function runTrainThroughput(opts: TrainThroughputOptions): Promise<void> {
  // The name of files in --report-dir: a path (../x) would write outside it.
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(opts.reportName))
    throw new ConfigError(
      `--report-name ${opts.reportName}: not a file name (letters, digits, ".", "_" and "-", no path); the files go to --report-dir ${opts.reportDir}: choose the folder there`,
    );
  const cfg = loadPresetConfig<BenchTrainConfig>("bench-train", "bench-train", opts.preset, opts.overrides, opts.configFiles);
  if (!opts.torch) cfg.torch.enabled = false;
  if (!opts.accuracy) cfg.accuracy.enabled = false;
  const { threads, runner } = opts;
  if (opts.dryRun) {
    const timed = cfg.throughput.cases.length * cfg.throughput.engines.length;
    console.log(
      `plan: ${timed} timed engine/case combinations (${cfg.throughput.cases.map((c) => c.name).join("; ")} x ${cfg.throughput.engines.join(", ")}), serial in this process${cfg.torch.enabled ? ", plus PyTorch" : ""}`,
    );
    if (cfg.accuracy.enabled) await runUnits([trainUnit(cfg.accuracy.training, "accuracy check")], runner, { dryRun: true, reportDir: opts.reportDir });
    return;
  }
  const context = runContext();
  const throughput: Measurement[] = [];
  for (const c of cfg.throughput.cases)
    for (const e of cfg.throughput.engines) throughput.push(await measureEngine(e, c, cfg.throughput, threads, cfg.torch.python));
  const probe = await probeTorch(cfg.torch.python);
  const torch: TorchResult[] = [];
  if (cfg.torch.enabled) {
    for (const c of cfg.throughput.cases) {
      for (const device of ["cpu", "cuda"] as const) {
        if ("missing" in probe) torch.push({ case: c.name, device, status: "skipped", reason: probe.missing });
        else if (device === "cuda" && !probe.found.cuda)
          torch.push({ case: c.name, device, status: "skipped", reason: `torch ${probe.found.torch} sees no CUDA device` });
        else torch.push(await measureTorch(probe.found.python, device, c, cfg.throughput, threads));
      }
    }
  }
  const grid: GridResult[] = [];
  const first = cfg.throughput.cases[0]!;
  for (const workers of cfg.throughput.grid.workers) {
    if ("missing" in probe) grid.push({ case: first.name, workers, status: "skipped", reason: probe.missing });
    else if (cfg.throughput.grid.device !== "cpu" && !probe.found.cuda)
      grid.push({
        case: first.name,
        workers,
        status: "skipped",
        reason: `torch ${probe.found.torch} sees no CUDA device: the grid row measures runs sharing one GPU`,
      });
    else grid.push(await measureGrid(probe.found.python, first, workers, cfg.throughput));
  }
  let profile: BenchRecord["profile"] = null;
  if (cfg.throughput.profileSteps > 0) {
    const c = cfg.throughput.cases[0];
    notice(`bench: profiling ${c.name} on onnx-cpu`);
    profile = {
      case: c.name,
      profile: await profileTrainStep(buildModel(c.arch, { width: c.width, inputShape: c.inputShape, numClasses: 10 }), {
        batch: c.batchSize,
        threads,
        steps: cfg.throughput.profileSteps,
      }),
    };
  }
  const accuracy = cfg.accuracy.enabled ? await accuracyCheck(cfg.accuracy.training, runner, opts.reportDir) : null;
  const record: BenchRecord = { context, preset: opts.preset, threads, config: cfg, throughput, torch, grid, profile, accuracy };
  const md = renderTrainThroughput(record);
  // The planner reads this file: it must match its schema.
  validateConfig("train-throughput", record, `${opts.reportName}.json`);
  writeFileAtomic(join(opts.reportDir, `${opts.reportName}.json`), JSON.stringify(record, null, 2) + "\n");
  writeFileAtomic(join(opts.reportDir, `${opts.reportName}.csv`), throughputCsv(record));
  writeFileAtomic(join(opts.reportDir, `${opts.reportName}.md`), md + "\n");
  console.log(md);
  console.log(`\nwrote ${join(opts.reportDir, `${opts.reportName}.md`)} and .json`);
}
