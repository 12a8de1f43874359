import type { BenchTrainConfig } from "../config/generated/bench-train.ts";
import type { StepProfile } from "../engine/onnx/profile.ts";
import type { EpochRecord } from "../train/train-loop.ts";
import type { RunContext } from "../util/provenance.ts";
import { contextMarkdown, table } from "./markdown.ts";

/** bench:train's record (schemas/train-throughput.schema.json checks what the planner reads) and its report. */
export type Case = BenchTrainConfig["throughput"]["cases"][number];
export type EngineKey = BenchTrainConfig["throughput"]["engines"][number];

export type Measurement =
  | {
      case: string;
      engine: EngineKey;
      status: "measured";
      provider: string;
      threads: number;
      batchSize: number;
      /** Steps of the timed epoch (the median of throughput.timedEpochs). */
      steps: number;
      /** The epoch's augmentation: crop padding in px (scaled to the case's image size) and flips. */
      cropPadding: number;
      flip: boolean;
      epochSeconds: number;
      /** epochSeconds / steps, in ms: single steps are not observable when many go in one request. */
      msPerStep: number;
      /** Building batches per step: on the engine's device (torch, CPU only: null on CUDA, where it overlaps the steps) or in JS (onnx, tfjs). */
      batchMsPerStep: number | null;
      /** torch engine: ms per step outside its own computation (JS side, requests, pipe; on the CPU building batches too); null elsewhere. */
      hostMsPerStep: number | null;
      /** hostMsPerStep / msPerStep. */
      hostShare: number | null;
      /** The epoch's images over its wall time. */
      imagesPerSecond: number;
      /** torch engine: the server's device, and the settings it applied (engine.precision, cudaGraphs, channelsLast). */
      gpu?: string | null;
      precision?: string;
      cudaGraphs?: boolean;
      channelsLast?: boolean;
    }
  | { case: string; engine: EngineKey; status: "skipped"; reason: string };

/** Raw PyTorch (bench/torch_train_step.py) on one device. */
export type TorchResult =
  | {
      case: string;
      device: "cpu" | "cuda";
      status: "measured";
      python: string;
      torch: string;
      gpu: string | null;
      threads: number;
      /** One epoch of this many batches, the data already on the device (torch_train_step.py --epoch). */
      steps: number;
      epochSeconds: number;
      msPerStep: number;
      imagesPerSecond: number;
      /** Timed epochs this row is the median of, each run just after one of the torch engine's (absent: timed by itself). */
      interleavedEpochs?: number;
    }
  | { case: string; device: "cpu" | "cuda"; status: "skipped"; reason: string };

/** N runs of the torch engine sharing one GPU, timed over the same window. */
export type GridResult =
  | { case: string; workers: number; status: "measured"; provider: string; imagesPerSecond: number; perRun: number[] }
  | { case: string; workers: number; status: "skipped"; reason: string };

/** K models of one case trained as a pack (throughput.packs), timed over whole packed epochs. */
export type PackResult =
  | {
      case: string;
      engine: EngineKey;
      formulation: "grouped" | "loop";
      size: number;
      status: "measured";
      provider: string;
      threads: number;
      batchSize: number;
      /** Steps of the timed epoch (every member takes each). */
      steps: number;
      epochSeconds: number;
      /** All members' images over the epoch's wall time. */
      imagesPerSecond: number;
      /** imagesPerSecond / size. */
      perModel: number;
    }
  | { case: string; engine: EngineKey; formulation: "grouped" | "loop"; size: number; status: "skipped"; reason: string };

export interface AccuracyResult {
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
  /** What its trainers computed in (engine.precision): fp32, tf32, bf16, several joined by "or". */
  precision: string;
}

export interface BenchRecord {
  context: RunContext;
  preset: string;
  threads: number;
  config: BenchTrainConfig;
  throughput: Measurement[];
  torch: TorchResult[];
  grid: GridResult[];
  /** Absent in records from before packed rows existed. */
  packs?: PackResult[];
  profile: { case: string; profile: StepProfile } | null;
  accuracy: AccuracyResult | null;
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
    const t = rawTorch(r, m.case, "cpu");
    if (m.status === "measured" && m.engine === "onnx-cpu" && t) out.push({ case: m.case, ratio: m.imagesPerSecond / t.imagesPerSecond });
  }
  return out;
}

type MeasuredTorch = Extract<TorchResult, { status: "measured" }>;
const rawTorch = (r: BenchRecord, c: string, device: "cpu" | "cuda") =>
  r.torch.find((t) => t.case === c && t.device === device && t.status === "measured") as MeasuredTorch | undefined;

/** Raw PyTorch on the device an engine row ran on: what its ratio is taken against. */
function referenceFor(r: BenchRecord, m: Extract<Measurement, { status: "measured" }>): MeasuredTorch | undefined {
  if (m.engine === "tfjs") return undefined;
  const fullBatch = m.batchSize === r.config.throughput.cases.find((c) => c.name === m.case)!.batchSize;
  return fullBatch ? rawTorch(r, m.case, m.provider.startsWith("cuda") ? "cuda" : "cpu") : undefined;
}

type MeasuredRow = Extract<Measurement, { status: "measured" }>;
/**
 * The row of an engine and case a goal is judged on: for torch rows, the fp32 one with
 * CUDA graphs as asked (eager: what raw PyTorch eager is compared with), the fastest if several.
 */
const engineRow = (r: BenchRecord, c: string, engine: EngineKey, graphs = false) =>
  (
    r.throughput.filter(
      (x) => x.case === c && x.engine === engine && x.status === "measured" && (x.precision ?? "fp32") === "fp32" && (x.cudaGraphs ?? false) === graphs,
    ) as MeasuredRow[]
  ).sort((a, b) => b.imagesPerSecond - a.imagesPerSecond)[0];

/** torch rows: the settings the engine applied, beside the engine's name. */
function engineLabel(m: MeasuredRow): string {
  if (m.precision === undefined) return m.engine;
  return `${m.engine} (${[m.precision, ...(m.cudaGraphs ? ["graphs"] : []), ...(m.channelsLast ? ["channels_last"] : [])].join(", ")})`;
}
const percent = (x: number) => `${(100 * x).toFixed(1)}%`;
const fmt = (x: number, d = 1) => x.toFixed(d);
const NOT_MEASURED = "not measured here";

type MeasuredPack = Extract<PackResult, { status: "measured" }>;
const measuredPacks = (r: BenchRecord) => (r.packs ?? []).filter((p) => p.status === "measured") as MeasuredPack[];

/** The torch engine's grouped pack: its best K's images/s over its K=1 pack's, per case and device. */
function packGoals(r: BenchRecord): string[][] {
  const min = r.config.goals.packSpeedupMin;
  const rows: string[][] = [];
  const cases = r.config.throughput.cases.filter((c) => (r.packs ?? []).some((p) => p.case === c.name));
  for (const engine of ["torch-cpu", "torch-cuda"] as const) {
    for (const c of cases) {
      const goal = `packed training: best pack's images/s >= ${min}x one model's (K=1), ${engine} grouped, same threads, ${c.name}`;
      const rowsHere = measuredPacks(r).filter((p) => p.case === c.name && p.engine === engine && p.formulation === "grouped");
      const one = rowsHere.find((p) => p.size === 1);
      const best = rowsHere.filter((p) => p.size > 1).sort((a, b) => b.imagesPerSecond - a.imagesPerSecond)[0];
      const skipped = (r.packs ?? []).find((p) => p.case === c.name && p.engine === engine && p.status === "skipped") as
        Extract<PackResult, { status: "skipped" }> | undefined;
      if (!one || !best) rows.push([goal, NOT_MEASURED, skipped?.reason ?? `no ${engine} pack rows`]);
      else {
        const ratio = best.imagesPerSecond / one.imagesPerSecond;
        rows.push([
          goal,
          ratio >= min ? "met" : "NOT met",
          `${ratio.toFixed(2)}x at K=${best.size} (${best.imagesPerSecond.toFixed(0)} vs ${one.imagesPerSecond.toFixed(0)} img/s, ${best.threads} thread(s))`,
        ]);
      }
    }
  }
  return rows;
}

/** The packed rows' table: each beside its own engine and formulation at K=1. */
function packTable(r: BenchRecord): string {
  const rows = (r.packs ?? []).map((p) => {
    if (p.status === "skipped") return [p.case, p.engine, p.formulation, p.size, "-", "-", "-", "-", `skipped: ${p.reason}`];
    const one = measuredPacks(r).find((q) => q.case === p.case && q.engine === p.engine && q.formulation === p.formulation && q.size === 1);
    return [
      p.case,
      p.engine,
      p.formulation,
      p.size,
      p.threads,
      `${fmt((p.epochSeconds / p.steps) * 1000, 1)} ms`,
      `**${fmt(p.imagesPerSecond)}**`,
      fmt(p.perModel),
      one ? `${(p.imagesPerSecond / one.imagesPerSecond).toFixed(2)}x` : "-",
    ];
  });
  return table(["case", "engine", "formulation", "K", "threads", "ms / step (all members)", "img/s, all members", "img/s per model", "vs K=1"], rows);
}

/**
 * The issue's throughput goals, each computed from this run's rows (thresholds from the
 * config's goals) or marked not measured here: rows of [goal, status, measured].
 */
export function throughputGoals(r: BenchRecord): string[][] {
  const g = r.config.goals;
  const rows: string[][] = [];
  for (const device of ["cpu", "cuda"] as const) {
    const min = device === "cpu" ? g.torchEngineVsRawMin : g.torchEngineVsRawMinCuda;
    for (const c of r.config.throughput.cases) {
      const m = engineRow(r, c.name, `torch-${device}`);
      const t = rawTorch(r, c.name, device);
      const goal = `torch engine epoch (augmented, batches built on the device) >= ${min}x raw PyTorch epoch (data in memory${device === "cuda" ? ", eager" : ""}), ${device}, ${c.name}`;
      if (!m || !t) rows.push([goal, NOT_MEASURED, `no ${!m ? `torch-${device} row` : `raw PyTorch ${device} row`} on this machine`]);
      else {
        const ratio = m.imagesPerSecond / t.imagesPerSecond;
        rows.push([
          goal,
          ratio >= min ? "met" : "NOT met",
          `${ratio.toFixed(2)}x (${m.imagesPerSecond.toFixed(0)} vs ${t.imagesPerSecond.toFixed(0)} img/s; ${m.msPerStep.toFixed(2)} vs ${t.msPerStep.toFixed(2)} ms per step over epochs of ${m.steps} and ${t.steps} steps)`,
        ]);
      }
    }
  }
  for (const device of ["cpu", "cuda"] as const) {
    for (const c of r.config.throughput.cases) {
      const m = engineRow(r, c.name, `torch-${device}`);
      const goal = `torch engine host time <= ${percent(g.hostShareMax)} of the step, ${device}, ${c.name}`;
      if (!m || m.hostShare === null || m.hostMsPerStep === null) rows.push([goal, NOT_MEASURED, `no torch-${device} row on this machine`]);
      else {
        const build =
          m.batchMsPerStep === null
            ? "building batches on the device is not separable on CUDA, counted as the step's"
            : `of which building batches on the device ${m.batchMsPerStep.toFixed(2)} ms`;
        rows.push([
          goal,
          m.hostShare <= g.hostShareMax ? "met" : "NOT met",
          `${percent(m.hostShare)} (${m.hostMsPerStep.toFixed(2)} of ${m.msPerStep.toFixed(2)} ms per step; ${build})`,
        ]);
      }
    }
  }
  const gc = g.graphCase;
  const graphCase = r.config.throughput.cases.find((c) => c.arch === gc.arch && c.width === gc.width && c.batchSize === gc.batchSize);
  const graphGoal = `torch engine with CUDA graphs >= ${g.graphImagesPerSecond} img/s, ${gc.arch} w${gc.width} batch ${gc.batchSize}, on ${g.graphGpus.join("/")}`;
  const cudaRow = graphCase && (engineRow(r, graphCase.name, "torch-cuda", true) ?? engineRow(r, graphCase.name, "torch-cuda"));
  if (!graphCase) rows.push([graphGoal, NOT_MEASURED, "no such case in throughput.cases"]);
  else if (!cudaRow) rows.push([graphGoal, NOT_MEASURED, "no torch-cuda row on this machine"]);
  else if (!cudaRow.cudaGraphs) rows.push([graphGoal, NOT_MEASURED, `CUDA graphs were off (${cudaRow.imagesPerSecond.toFixed(0)} img/s)`]);
  else if (!g.graphGpus.some((name) => (cudaRow.gpu ?? "").includes(name)))
    rows.push([graphGoal, NOT_MEASURED, `${cudaRow.imagesPerSecond.toFixed(0)} img/s on ${cudaRow.gpu ?? cudaRow.provider}, not one of the goal's GPUs`]);
  else
    rows.push([
      graphGoal,
      cudaRow.imagesPerSecond >= g.graphImagesPerSecond ? "met" : "NOT met",
      `${cudaRow.imagesPerSecond.toFixed(0)} img/s on ${cudaRow.gpu}`,
    ]);
  rows.push(...packGoals(r));
  const measured = r.grid.filter((x) => x.status === "measured") as Extract<GridResult, { status: "measured" }>[];
  const one = measured.find((x) => x.workers === 1);
  const best = measured.filter((x) => x.workers > 1).sort((a, b) => b.imagesPerSecond - a.imagesPerSecond)[0];
  const goal = `a grid of small runs on one GPU >= ${g.gridSpeedupMin}x one at a time`;
  const skipped = r.grid.find((x) => x.status === "skipped") as Extract<GridResult, { status: "skipped" }> | undefined;
  if (!one || !best) rows.push([goal, NOT_MEASURED, skipped?.reason ?? "no grid rows"]);
  else {
    const ratio = best.imagesPerSecond / one.imagesPerSecond;
    rows.push([
      goal,
      ratio >= g.gridSpeedupMin ? "met" : "NOT met",
      `${ratio.toFixed(2)}x with ${best.workers} runs (${best.imagesPerSecond.toFixed(0)} vs ${one.imagesPerSecond.toFixed(0)} img/s)`,
    ]);
  }
  return rows;
}

/** What building batches in JS costs the engines that take them from JS: why the ONNX engine has no resident path. */
function jsBatchesNote(r: BenchRecord): string {
  const rows = r.throughput.filter((m) => m.status === "measured" && m.engine.startsWith("onnx-") && m.batchMsPerStep !== null) as MeasuredRow[];
  if (!rows.length) return "No ONNX engine row was measured here, so what building batches in JS costs it is not shown.";
  return `Measured here, building batches in JS (BatchLoader: crops, flips, normalisation) takes ${rows
    .map(
      (m) => `${m.batchMsPerStep!.toFixed(2)} of ${m.msPerStep.toFixed(2)} ms per step (${percent(m.batchMsPerStep! / m.msPerStep)}) on ${m.engine}, ${m.case}`,
    )
    .join("; ")}: the most a resident path could save the ONNX engine.`;
}

export function renderTrainThroughput(r: BenchRecord): string {
  const rows = r.throughput.map((m) => {
    if (m.status === "skipped") return [m.case, m.engine, "-", "-", "-", "-", "-", `skipped: ${m.reason}`];
    const t = referenceFor(r, m);
    const ratio = t ? `${fmt(m.imagesPerSecond / t.imagesPerSecond, 2)}x raw PyTorch ${t.device}` : "no raw PyTorch row to compare";
    const outside =
      m.hostMsPerStep !== null && m.hostShare !== null
        ? `host ${fmt(m.hostMsPerStep, 2)} ms (${percent(m.hostShare)})`
        : m.batchMsPerStep !== null
          ? `JS batches ${fmt(m.batchMsPerStep, 2)} ms (${percent(m.batchMsPerStep / m.msPerStep)})`
          : "-";
    return [m.case, engineLabel(m), m.provider, m.threads, m.batchSize, `${fmt(m.msPerStep, 2)} ms`, outside, `**${fmt(m.imagesPerSecond)}** img/s (${ratio})`];
  });
  for (const t of r.torch) {
    const batch = r.config.throughput.cases.find((c) => c.name === t.case)!.batchSize;
    rows.push(
      t.status === "measured"
        ? [
            t.case,
            `raw pytorch ${t.device}`,
            `torch ${t.torch} ${t.gpu ?? "CPU"}`,
            t.threads,
            batch,
            `${fmt(t.msPerStep, 2)} ms`,
            "-",
            `**${fmt(t.imagesPerSecond)}** img/s`,
          ]
        : [t.case, `raw pytorch ${t.device}`, "-", "-", "-", "-", "-", `skipped: ${t.reason}`],
    );
  }
  const parts = [
    "# Training throughput",
    "",
    `Generated by \`bun run bench:train --preset ${r.preset}\`. Each row times ${r.config.throughput.timedEpochs} whole training epochs (forward, backward, SGD update, BN statistics, every step) of ${r.config.throughput.measuredSteps} steps on random uint8 images, after ${r.config.throughput.warmupSteps} warm-up steps, and reports the median epoch (the TF.js oracle: one): images/s is that epoch's images over its wall time, and ms/step that time over its steps (single steps are not observable when an engine takes many per request). The same model and batch for every engine unless the batch column says otherwise.`,
    "",
    contextMarkdown(r.context, { preset: r.preset, "engine threads": r.threads }),
    "",
    "## Images per second",
    "",
    table(["case", "engine", "EP / backend", "threads", "batch", "ms / step", "outside the model", "throughput"], rows),
    "",
    `Engine rows: the harness's trainers, at precision fp32 (the engine.precision default: strict float32, TF32 off) unless the engine column names other torch settings (throughput.torchVariants), timing whole epochs with batches built the way training builds them (src/train/epoch-steps.ts), augmented as training does (random crops with ${r.config.throughput.augment.cropPadding} px of zero padding at ${r.config.throughput.augment.cropPaddingImageSize} px images, scaled down for smaller ones${r.config.throughput.augment.flip ? ", and random flips" : ""}). torch-*: the PyTorch engine's Python process holds the uint8 split on its device and builds each batch there (crop, flip, normalisation) from plans sent engine.stepsPerRequest steps per request; "host" is its time per step outside the model's own computation: the JS side, the requests and the pipe (wall time less the server's), plus on the CPU building batches on the device (on CUDA that overlaps the steps and cannot be told apart). onnx-*: ONNX Runtime with that execution provider, batches built in JS one step per call, because the ONNX engine runs in this process and a resident path gains it nothing; "JS batches" is what building them costs. ${jsBatchesNote(r)} tfjs: the pure-JS oracle, at its own batch and ${r.config.throughput.oracleSteps} steps. Raw PyTorch rows: the same model and step written as a PyTorch user would (bench/torch_train_step.py --epoch, no harness), a whole epoch with the data already on the device as float tensors and no augmentation, one sync per epoch; each of its timed epochs runs just after one of the torch engine's on the same case and device (the first torch variant, which the goal compares it with), so a shared machine's drift over minutes falls on both alike.`,
    "",
    "The dry-run planner (src/runner/plan.ts, behind the --dry-run of every command that trains) estimates compute time from the measured engine rows' images/s in this file's .json, so its estimates include building batches as training does.",
    "",
    "## Packed training",
    "",
    `K models of one case trained together (runner.pack), each member on its own seed's batches, through the pack loop's own step path (src/train/pack-loop.ts packRequest); ${r.config.throughput.warmupSteps} warm-up steps per pack, then ${r.config.throughput.packs.timedEpochs ?? r.config.throughput.timedEpochs} rounds in which every pack size of an engine and formulation trains one epoch of ${r.config.throughput.packs.steps} steps in turn (so drift on a shared machine falls on all sizes alike); each row reports its median epoch. grouped: one computation of K models (torch: one model with grouped convolutions, BN over K*C channels and a batched classifier; onnx: K copies of the training graph in one session run); loop: K trainers stepped in turn, as each trains alone. "vs K=1" compares the same engine and formulation with one member.`,
    "",
    packTable(r),
    "",
    "## Several runs sharing one GPU",
    "",
    table(
      ["case", "runs at once", "device", "img/s, all runs together", "img/s per run"],
      r.grid.map((g) =>
        g.status === "measured"
          ? [g.case, g.workers, g.provider, `**${fmt(g.imagesPerSecond)}**`, g.perRun.map((x) => fmt(x)).join(", ")]
          : [g.case, g.workers, "-", "-", `skipped: ${g.reason}`],
      ),
    ),
    "",
    "## Throughput goals",
    "",
    table(["goal", "status", "measured"], throughputGoals(r)),
    "",
  ];
  if (r.profile) {
    const p = r.profile.profile;
    parts.push(
      "## Where the ONNX Runtime step spends its time",
      "",
      `ORT profiler, CPU EP, ${r.profile.case}: ${fmt(p.kernelMs)} ms of kernel time per step (${fmt(p.wallMs)} ms wall with profiling on). Conv includes the forward convolutions and stride-1 input gradients (ORT's blocked NCHWc kernels, com.microsoft.nchwc) and the one-hot grouped convs that build the shifted activation copies for filter gradients; FusedMatMul is the filter-gradient GEMM; ReorderInput/ReorderOutput move activations in and out of the blocked layout around each conv.`,
      "",
      table(
        ["op type", "ms / step", "share", "nodes"],
        p.byOp.filter((o) => o.share >= 0.002).map((o) => [o.op, fmt(o.ms, 2), `${fmt(100 * o.share)}%`, o.nodes]),
      ),
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
      `${a.arch} width ${a.width} trained with the preset's configuration on **${a.dataset}** (${a.source}; ${a.trainImages} training / ${a.testImages} test images), engine ${a.engine}/${a.provider}, precision ${a.precision}: status ${a.status}, final test accuracy **${a.finalTestAccuracy === null ? "n/a" : (100 * a.finalTestAccuracy).toFixed(2) + "%"}**, ${fmt(a.wallSeconds / 60)} min wall.`,
      "",
      table(
        ["epoch", "lr", "train loss", "train acc", "test acc", "s"],
        a.epochs
          .filter((e, i) => e.testAccuracy !== undefined && (e.epoch % 5 === 0 || i === a.epochs.length - 1))
          .map((e) => [e.epoch, e.lr.toPrecision(2), fmt(e.trainLoss, 4), fmt(100 * e.trainAccuracy, 2), fmt(100 * e.testAccuracy!, 2), fmt(e.seconds)]),
      ),
      "",
    );
  }
  return parts.join("\n");
}
