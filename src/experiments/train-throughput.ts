import { execa } from "execa";
import { join } from "node:path";
import type { BenchTrainConfig } from "../config/generated/bench-train.ts";
import type { RunnerConfig } from "../config/generated/runner.ts";
import { ConfigError, validateConfig } from "../config/load.ts";
import { loadPresetConfig } from "../config/presets.ts";
import { profileTrainStep } from "../engine/onnx/profile.ts";
import { detectProviders } from "../engine/onnx/providers.ts";
import { createPack, createTrainer, type EngineChoice } from "../engine/registry.ts";
import { packRequest } from "../train/pack-loop.ts";
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
  type PackResult,
  type TorchResult,
} from "../report/train-throughput-report.ts";
import { trainUnit } from "../runner/kinds/train.ts";
import { runUnits } from "../runner/run-units.ts";
import type { EpochRecord } from "../train/train-loop.ts";
import { throughputCsv } from "../report/csv.ts";
import { precisionsOf } from "../report/markdown.ts";
import { writeFileAtomic } from "../util/atomic-write.ts";
import { notice } from "../util/notice.ts";
import { runContext } from "../util/provenance.ts";
import { Rng } from "../util/rng.ts";
import { trainBatches, type AugmentOptions } from "../data/batches.ts";
import { channelStats } from "../data/stats.ts";
import type { Dataset } from "../data/types.ts";
import { TorchTrainer } from "../engine/torch/torch-trainer.ts";
import type { PackTrainer, ResidentTraining, Trainer } from "../engine/types.ts";
import { epochSteps, type SgdSettings } from "../train/epoch-steps.ts";

/** The models bench/torch_train_step.py builds (its MODELS), as src/models builds them. */
export const RAW_TORCH_ARCHS: readonly string[] = ["preresnet20", "resnet18", "vgg16"];

/** The raw PyTorch reference script and the grid worker live with the benchmark scripts. */
const BENCH_DIR = join(import.meta.dir, "../../bench");

/** The step bench/torch_train_step.py takes (its lr, momentum and weight decay), so engine and raw rows time the same update; lr is small enough that random labels never diverge. */
const BENCH_SGD: SgdSettings = { lr: 0.01, samRho: 0, momentum: 0.9, weightDecay: 1e-4 };
/** The timed models' classes, as the reference script's. */
const NUM_CLASSES = 10;

/** The augmentation of a case's timed epochs: the bench's crop padding scaled down to small images, so a 16x16 case is not cropped by half its size. */
export function benchAugment(a: BenchTrainConfig["throughput"]["augment"], inputShape: readonly number[]): AugmentOptions {
  const side = Math.min(inputShape[1]!, inputShape[2]!);
  return { cropPadding: Math.round(a.cropPadding * Math.min(1, side / a.cropPaddingImageSize)), flip: a.flip };
}

/**
 * `count` random uint8 images of `shape` with random labels, normalised by their own
 * statistics: what the timed epochs train on. The pixels do not change the speed; the
 * uint8 split is what training hands an engine, so batches are built as in training.
 */
export function benchDataset(shape: readonly [number, number, number], count: number, numClasses: number): Dataset {
  const [c, h, w] = shape;
  const rng = new Rng(0, "bench-data");
  const bytes = count * c * h * w;
  // Four pixels per draw: the generator, not the engine, would otherwise dominate a large case's setup.
  const words = new Uint32Array(Math.ceil(bytes / 4));
  for (let i = 0; i < words.length; i++) words[i] = rng.nextU32();
  const images = new Uint8Array(words.buffer, 0, bytes);
  const labels = Uint8Array.from({ length: count }, () => rng.int(numClasses));
  const { mean, std } = channelStats(images, count, c, h * w);
  const empty = { images: new Uint8Array(0), labels: new Uint8Array(0), count: 0 };
  return {
    name: "synthetic",
    source: `random uint8 pixels (bench:train), ${c}x${h}x${w}`,
    channels: c,
    height: h,
    width: w,
    numClasses,
    mean,
    std,
    train: { images, labels, count },
    test: empty,
  };
}

/** What one epoch cost, split where the engine lets us see it. */
export interface EpochTiming {
  steps: number;
  images: number;
  /** Wall seconds of the epoch, as a training loop sees it. */
  seconds: number;
  /** Resident engines (torch): seconds the engine spent on its requests, of which building batches on its device (CPU only, else null). */
  engineSeconds: number | null;
  deviceBuildSeconds: number | null;
  /** Other engines: seconds building batches in JS (BatchLoader.batch). */
  jsBuildSeconds: number;
}

/** Per-step costs of a timed epoch: what the report's rows and goals are computed from. */
export function stepCosts(t: EpochTiming): { msPerStep: number; batchMsPerStep: number | null; hostMsPerStep: number | null; hostShare: number | null } {
  const perStep = (s: number) => (s / t.steps) * 1000;
  const msPerStep = perStep(t.seconds);
  if (t.engineSeconds === null) return { msPerStep, batchMsPerStep: perStep(t.jsBuildSeconds), hostMsPerStep: null, hostShare: null };
  // Outside the engine's request (plans, the pipe, JS), plus building batches inside it: neither is the model's own computation.
  const hostMsPerStep = perStep(t.seconds - t.engineSeconds + (t.deviceBuildSeconds ?? 0));
  return {
    msPerStep,
    batchMsPerStep: t.deviceBuildSeconds === null ? null : perStep(t.deviceBuildSeconds),
    hostMsPerStep,
    hostShare: hostMsPerStep / msPerStep,
  };
}

/**
 * Epochs of `data` through epochSteps, exactly as training runs them (a resident engine
 * gets the uint8 split once and builds batches on its device; others get batches built
 * in JS), with the engine's own timing of each request and the JS batch building recorded.
 */
export class EpochBench {
  private epoch = 0;

  constructor(
    private readonly trainer: Trainer,
    private readonly data: Dataset,
    private readonly batchSize: number,
    private readonly augment: AugmentOptions,
  ) {}

  /**
   * One epoch, or its first `maxSteps` steps (a warm-up): a resident engine then gets
   * requests of at most that many steps, so the warm-up costs what it says.
   */
  async run(maxSteps?: number): Promise<EpochTiming> {
    const loader = trainBatches(this.data, { batchSize: this.batchSize, seed: 0, epoch: this.epoch++, augment: this.augment, dropLast: true });
    let jsBuildSeconds = 0;
    const timedLoader = new Proxy(loader, {
      get(target, key, receiver) {
        if (key !== "batch") return Reflect.get(target, key, receiver);
        return (index: number) => {
          const t0 = performance.now();
          const b = target.batch(index);
          jsBuildSeconds += (performance.now() - t0) / 1000;
          return b;
        };
      },
    });
    const inner = this.trainer.resident;
    let engineSeconds: number | null = null;
    let deviceBuildSeconds: number | null = null;
    const resident: ResidentTraining | undefined = inner && {
      stepsPerRequest: maxSteps === undefined ? inner.stepsPerRequest : Math.min(maxSteps, inner.stepsPerRequest),
      loadSplit: (slot, split) => inner.loadSplit(slot, split),
      predictSplit: (slot, start, count) => inner.predictSplit(slot, start, count),
      trainSteps: async (r) => {
        const out = await inner.trainSteps(r);
        if (!out.timing) throw new Error(`${this.trainer.engine} engine: trainSteps reported no timing; the bench cannot split host from engine time`);
        engineSeconds = (engineSeconds ?? 0) + out.timing.seconds;
        if (out.timing.buildSeconds !== null) deviceBuildSeconds = (deviceBuildSeconds ?? 0) + out.timing.buildSeconds;
        return out;
      },
    };
    const trainer = new Proxy(this.trainer, {
      get(target, key) {
        if (key === "resident") return resident;
        const v = Reflect.get(target, key, target) as unknown;
        return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    let steps = 0,
      images = 0;
    const t0 = performance.now();
    for await (const s of epochSteps(trainer, this.data, timedLoader, BENCH_SGD)) {
      if (!Number.isFinite(s.loss)) throw new Error(`bench: loss ${s.loss} at step ${steps} on ${this.trainer.provider}; a diverged step is not a timing`);
      steps++;
      images += s.size;
      if (maxSteps !== undefined && steps >= maxSteps) break;
    }
    const seconds = (performance.now() - t0) / 1000;
    return { steps, images, seconds, engineSeconds, deviceBuildSeconds, jsBuildSeconds };
  }
}

type TorchVariant = BenchTrainConfig["throughput"]["torchVariants"][number];

/**
 * The variants a torch-* engine key is measured in: all of them on CUDA; on the CPU, with
 * the settings that do nothing there dropped (no TF32, graphs or channels_last), once each.
 */
export function variantsFor(key: EngineKey, variants: TorchVariant[]): (TorchVariant | undefined)[] {
  if (!key.startsWith("torch-")) return [undefined];
  if (key === "torch-cuda") return variants;
  const seen = new Map<string, TorchVariant>();
  for (const v of variants) {
    const cpu: TorchVariant = { precision: v.precision === "tf32" ? "fp32" : v.precision, cudaGraphs: false, channelsLast: false };
    seen.set(JSON.stringify(cpu), cpu);
  }
  return [...seen.values()];
}

async function measureEngine(
  key: EngineKey,
  c: Case,
  cfg: BenchTrainConfig["throughput"],
  threads: number,
  torchPython: string,
  variant?: TorchVariant,
  /** Run after each timed epoch (the raw PyTorch epoch it is compared with, interleaved). */
  between?: () => Promise<void>,
): Promise<Measurement> {
  settle();
  const spec = buildModel(c.arch, { width: c.width, inputShape: c.inputShape, numClasses: NUM_CLASSES });
  const choice = await choiceFor(key, torchPython, variant);
  if ("skip" in choice) return { case: c.name, engine: key, status: "skipped", reason: choice.skip };
  const opts = { spec, sgd: { momentum: BENCH_SGD.momentum, weightDecay: BENCH_SGD.weightDecay }, bn: { eps: 1e-5, momentum: 0.1 }, threads };
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
  const augment = benchAugment(cfg.augment, c.inputShape);
  const bench = new EpochBench(trainer, benchDataset(spec.inputShape, steps * batchSize, NUM_CLASSES), batchSize, augment);
  notice(
    `bench: ${c.name} on ${key} (${trainer.provider}), batch ${batchSize}, crop ${augment.cropPadding}px${augment.flip ? " + flip" : ""}: ${warmup} warm-up steps + ${slow ? 1 : cfg.timedEpochs} timed epoch(s) of ${steps} steps (the median is reported)`,
  );
  let timing: EpochTiming;
  try {
    if (warmup > 0) await bench.run(warmup);
    const epochs: EpochTiming[] = [];
    for (let i = 0; i < (slow ? 1 : cfg.timedEpochs); i++) {
      epochs.push(await bench.run());
      await between?.();
    }
    timing = epochs.sort((a, b) => a.seconds - b.seconds)[epochs.length >> 1]!;
  } finally {
    await trainer.dispose();
  }
  const torchInfo =
    trainer instanceof TorchTrainer
      ? { gpu: trainer.info.gpu, precision: trainer.info.precision, cudaGraphs: trainer.info.cudaGraphs, channelsLast: trainer.info.channelsLast }
      : {};
  return {
    case: c.name,
    engine: key,
    status: "measured",
    provider: trainer.provider,
    threads: key === "tfjs" ? 1 : threads,
    batchSize,
    steps: timing.steps,
    cropPadding: augment.cropPadding,
    flip: augment.flip,
    epochSeconds: timing.seconds,
    ...stepCosts(timing),
    imagesPerSecond: timing.images / timing.seconds,
    ...torchInfo,
  };
}

/** The choice an engine key trains with (torch: fp32, no graphs; the row says so), or why it cannot run here. */
async function choiceFor(key: EngineKey, torchPython: string, variant?: TorchVariant): Promise<EngineChoice | { skip: string }> {
  if (key === "tfjs") return { engine: "tfjs", tfjsBackend: "auto" };
  if (key.startsWith("torch-")) {
    const device = key.slice("torch-".length);
    const probe = await probeTorch(torchPython);
    if ("missing" in probe) return { skip: probe.missing };
    if (device === "cuda" && !probe.found.cuda) return { skip: `torch ${probe.found.torch} (${probe.found.python}) sees no CUDA device` };
    // The variant's settings, whatever the engine's defaults: each row says which it ran with.
    const v = variant ?? { precision: "fp32", cudaGraphs: false, channelsLast: false };
    return { engine: "torch", device, python: probe.found.python, ...v, log: notice };
  }
  const ep = key.slice("onnx-".length) as "cpu" | "cuda" | "webgpu";
  const st = detectProviders().find((p) => p.name === ep)!;
  if (!st.available) return { skip: st.reason ?? "unavailable" };
  return { engine: "onnx", provider: ep, log: notice };
}

/**
 * Packs of each size in `sizes` of case `c` on one engine and formulation: all packs are
 * built first, warmed up, then timed one epoch each in turn (K=1, 2, 4, ..., K=1, 2, ...)
 * for packs.timedEpochs rounds, so a shared machine's drift over minutes falls on every
 * size alike and the ratios to K=1 hold; each row reports its median epoch. An epoch is
 * packs.steps steps of every member through packRequest (what the pack loop runs), each
 * member on its own seed's batches.
 */
async function measurePacks(
  key: EngineKey,
  c: Case,
  cfg: BenchTrainConfig["throughput"],
  threads: number,
  torchPython: string,
  sizes: number[],
  formulation: "grouped" | "loop",
): Promise<PackResult[]> {
  settle();
  const head = (size: number) => ({ case: c.name, engine: key, formulation, size });
  const choice = await choiceFor(key, torchPython);
  if ("skip" in choice) return sizes.map((k) => ({ ...head(k), status: "skipped", reason: choice.skip }));
  const spec = buildModel(c.arch, { width: c.width, inputShape: c.inputShape, numClasses: NUM_CLASSES });
  const opts = { spec, sgd: { momentum: BENCH_SGD.momentum, weightDecay: BENCH_SGD.weightDecay }, bn: { eps: 1e-5, momentum: 0.1 }, threads };
  const { steps, timedEpochs } = cfg.packs;
  const data = benchDataset(spec.inputShape, steps * c.batchSize, NUM_CLASSES);
  const augment = benchAugment(cfg.augment, c.inputShape);
  const wanted = key.slice(key.indexOf("-") + 1);
  const packs = new Map<number, PackTrainer>();
  const out = new Map<number, PackResult>();
  try {
    for (const size of sizes) {
      try {
        const p = await createPack(
          { ...choice, packFormulation: formulation },
          opts,
          Array.from({ length: size }, (_, k) => ({ state: freshState(spec, k + 1), masks: {} })),
        );
        if (p.provider.split(":")[0] !== wanted) {
          await p.dispose();
          out.set(size, { ...head(size), status: "skipped", reason: `requested ${wanted}, the pack runs on ${p.provider}` });
        } else packs.set(size, p);
      } catch (e) {
        out.set(size, { ...head(size), status: "skipped", reason: (e as Error).message.split("\n")[0]! });
      }
    }
    notice(
      `bench: ${c.name}, packs of ${[...packs.keys()].join(", ")} on ${key} (${formulation}): ${cfg.warmupSteps} warm-up steps each, then ${timedEpochs} rounds of one timed epoch of ${steps} steps per pack, in turn`,
    );
    const epochOf = new Map<number, number>();
    const run = async (size: number, maxSteps: number) => {
      const pack = packs.get(size)!;
      const epoch = epochOf.get(size) ?? 0;
      epochOf.set(size, epoch + 1);
      const loaders = Array.from({ length: size }, (_, k) => trainBatches(data, { batchSize: c.batchSize, seed: k + 1, epoch, augment, dropLast: true }));
      let done = 0;
      const t0 = performance.now();
      while (done < Math.min(maxSteps, loaders[0]!.numBatches)) {
        const r = await packRequest(pack, data, augment.cropPadding, loaders, done, BENCH_SGD.lr, maxSteps - done);
        if (r.losses.some((l) => Array.from(l).some((x) => !Number.isFinite(x))))
          throw new Error(`bench: a pack member's loss is not finite on ${pack.provider}; a diverged step is not a timing`);
        done += r.done;
      }
      return { steps: done, seconds: (performance.now() - t0) / 1000 };
    };
    for (const size of packs.keys()) if (cfg.warmupSteps > 0) await run(size, cfg.warmupSteps);
    const epochs = new Map<number, { steps: number; seconds: number }[]>();
    for (let round = 0; round < timedEpochs; round++)
      for (const size of packs.keys()) {
        settle();
        epochs.set(size, [...(epochs.get(size) ?? []), await run(size, Infinity)]);
      }
    for (const [size, pack] of packs) {
      const timing = epochs.get(size)!.sort((a, b) => a.seconds - b.seconds)[timedEpochs >> 1]!;
      const imagesPerSecond = (timing.steps * c.batchSize * size) / timing.seconds;
      out.set(size, {
        ...head(size),
        status: "measured",
        provider: pack.provider,
        threads,
        batchSize: c.batchSize,
        steps: timing.steps,
        epochSeconds: timing.seconds,
        imagesPerSecond,
        perModel: imagesPerSecond / size,
      });
    }
  } finally {
    for (const p of packs.values()) await p.dispose();
  }
  return sizes.map((k) => out.get(k)!);
}

/** One raw PyTorch row from single-epoch runs: the median epoch, or the first skip. */
function medianRaw(runs: TorchResult[], timedEpochs: number): TorchResult {
  const skipped = runs.find((r) => r.status === "skipped");
  if (skipped) return skipped;
  const measured = (runs as Extract<TorchResult, { status: "measured" }>[]).sort((a, b) => a.epochSeconds - b.epochSeconds);
  return { ...measured[measured.length >> 1]!, interleavedEpochs: timedEpochs };
}

/**
 * Collects what the previous row left (the TF.js oracle's tensors are hundreds of MB) before
 * the next is timed, so the collector does not run on the cores the next row is timed on.
 */
function settle(): void {
  Bun.gc(true);
}

async function measureTorch(python: string, device: "cpu" | "cuda", c: Case, cfg: BenchTrainConfig["throughput"], threads: number): Promise<TorchResult> {
  settle();
  const skip = (reason: string): TorchResult => ({ case: c.name, device, status: "skipped", reason });
  if (!RAW_TORCH_ARCHS.includes(c.arch)) return skip(`the PyTorch reference script implements ${RAW_TORCH_ARCHS.join(", ")} only`);
  if (c.inputShape[1] !== 32 || c.inputShape[2] !== 32) return skip("the PyTorch reference script uses 32x32 inputs");
  notice(
    `bench: ${c.name} on raw PyTorch ${device} (${python}), ${cfg.warmupSteps} warm-up steps + ${cfg.timedEpochs} timed epoch(s) of ${cfg.measuredSteps} steps (the median is reported)`,
  );
  const args = [
    join(BENCH_DIR, "torch_train_step.py"),
    // Whole epochs from data already on the device, as the engine rows time whole epochs.
    "--epoch",
    "--arch",
    c.arch,
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
    "--epochs",
    String(cfg.timedEpochs),
    "--device",
    device,
  ];
  const r = await execa(python, args, { reject: false });
  if (r.exitCode !== 0) return skip(`PyTorch script failed: ${String(r.stderr).split("\n").slice(-2).join(" ")}`);
  const j = JSON.parse(String(r.stdout).trim().split("\n").at(-1)!) as {
    torch: string;
    gpu: string | null;
    threads: number;
    epoch_s: number;
    steps: number;
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
    steps: j.steps,
    epochSeconds: j.epoch_s,
    msPerStep: (j.epoch_s / j.steps) * 1000,
    imagesPerSecond: j.images_per_s,
  };
}

/**
 * N grid workers (train-grid-worker.ts) on one GPU: each warms up and reports ready,
 * then all are told to go at once, so their timed windows overlap; the row's rate is
 * all their images over the span from the first start to the last end.
 */
async function measureGrid(python: string, c: Case, workers: number, cfg: BenchTrainConfig["throughput"]): Promise<GridResult> {
  notice(`bench: grid of ${workers} torch-engine run(s) sharing ${cfg.grid.device}, ${c.name}, a timed epoch of ${cfg.grid.steps} steps each`);
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
    "--augment",
    JSON.stringify(benchAugment(cfg.augment, c.inputShape)),
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
    precision: precisionsOf([r]).join(" or ") || "not recorded",
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
  // Checked before anything is timed: a mismatch found after minutes of rows would waste them.
  const packCases = cfg.throughput.packs.cases.map((pc) => {
    const c = cfg.throughput.cases.find((x) => x.arch === pc.arch && x.width === pc.width && x.batchSize === pc.batchSize);
    if (!c)
      throw new ConfigError(
        `throughput.packs.cases: no case of throughput.cases is ${pc.arch} w${pc.width} batch ${pc.batchSize}; set throughput.packs.cases to cases that are timed (or [] for no packed rows)`,
      );
    return c;
  });
  const context = runContext();
  const throughput: Measurement[] = [];
  const probe = await probeTorch(cfg.torch.python);
  const torch: TorchResult[] = [];
  const rawTorch = async (c: Case, device: "cpu" | "cuda", epochs = cfg.throughput.timedEpochs): Promise<TorchResult> => {
    if ("missing" in probe) return { case: c.name, device, status: "skipped", reason: probe.missing };
    if (device === "cuda" && !probe.found.cuda) return { case: c.name, device, status: "skipped", reason: `torch ${probe.found.torch} sees no CUDA device` };
    return measureTorch(probe.found.python, device, c, { ...cfg.throughput, timedEpochs: epochs }, threads);
  };
  for (const c of cfg.throughput.cases) {
    for (const e of cfg.throughput.engines) {
      const device = e === "torch-cpu" ? "cpu" : e === "torch-cuda" ? "cuda" : null;
      // The goal compares the torch engine's first variant with raw PyTorch on the same device: their epochs
      // alternate (engine, raw, engine, raw, ...), so a shared machine's drift falls on both alike.
      const raws: TorchResult[] = [];
      const between = cfg.torch.enabled && device ? async () => void raws.push(await rawTorch(c, device, 1)) : undefined;
      for (const [i, v] of variantsFor(e, cfg.throughput.torchVariants).entries())
        throughput.push(await measureEngine(e, c, cfg.throughput, threads, cfg.torch.python, v, i === 0 ? between : undefined));
      if (between && device) torch.push(raws.length ? medianRaw(raws, cfg.throughput.timedEpochs) : await rawTorch(c, device));
    }
    if (cfg.torch.enabled)
      for (const device of ["cpu", "cuda"] as const) if (!torch.some((t) => t.case === c.name && t.device === device)) torch.push(await rawTorch(c, device));
  }
  const packs: PackResult[] = [];
  for (const c of packCases) {
    for (const e of cfg.throughput.packs.engines)
      for (const f of cfg.throughput.packs.formulations) {
        // torch's loop pack is K unpacked trainers in turn: the engine row's rate, not worth the minutes.
        if (e.startsWith("torch-") && f === "loop") continue;
        packs.push(...(await measurePacks(e, c, cfg.throughput, threads, cfg.torch.python, cfg.throughput.packs.sizes, f)));
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
      profile: await profileTrainStep(buildModel(c.arch, { width: c.width, inputShape: c.inputShape, numClasses: NUM_CLASSES }), {
        batch: c.batchSize,
        threads,
        steps: cfg.throughput.profileSteps,
      }),
    };
  }
  const accuracy = cfg.accuracy.enabled ? await accuracyCheck(cfg.accuracy.training, runner, opts.reportDir) : null;
  const record: BenchRecord = { context, preset: opts.preset, threads, config: cfg, throughput, torch, grid, packs, profile, accuracy };
  const md = renderTrainThroughput(record);
  // The planner reads this file: it must match its schema.
  validateConfig("train-throughput", record, `${opts.reportName}.json`);
  writeFileAtomic(join(opts.reportDir, `${opts.reportName}.json`), JSON.stringify(record, null, 2) + "\n");
  writeFileAtomic(join(opts.reportDir, `${opts.reportName}.csv`), throughputCsv(record));
  writeFileAtomic(join(opts.reportDir, `${opts.reportName}.md`), md + "\n");
  console.log(md);
  console.log(`\nwrote ${join(opts.reportDir, `${opts.reportName}.md`)} and .json`);
}
