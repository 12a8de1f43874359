import type { BenchTrainConfig } from "../config/generated/bench-train.ts";
import type { StepProfile } from "../engine/onnx/profile.ts";
import type { EpochRecord } from "../train/train-loop.ts";
import type { RunContext } from "../util/provenance.ts";
import { contextMarkdown, table } from "./markdown.ts";
import { engineRow, measuredPacks, rawTorch, throughputGoals, type MeasuredRow, type MeasuredTorch } from "./throughput-goals.ts";

export { throughputGoals } from "./throughput-goals.ts";
export type { AccuracyResult, BenchRecord, Case, EngineKey, GridResult, Measurement, PackResult, TorchResult } from "./train-throughput-record.ts";
import type { BenchRecord, Measurement } from "./train-throughput-record.ts";

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

/** Raw PyTorch on the device an engine row ran on: what its ratio is taken against. */
function referenceFor(r: BenchRecord, m: Extract<Measurement, { status: "measured" }>): MeasuredTorch | undefined {
  if (m.engine === "tfjs") return undefined;
  const fullBatch = m.batchSize === r.config.throughput.cases.find((c) => c.name === m.case)!.batchSize;
  return fullBatch ? rawTorch(r, m.case, m.provider.startsWith("cuda") ? "cuda" : "cpu") : undefined;
}

/** torch rows: the settings the engine applied, beside the engine's name. */
function engineLabel(m: MeasuredRow): string {
  if (m.precision === undefined) return m.engine;
  return `${m.engine} (${[m.precision, ...(m.cudaGraphs ? ["graphs"] : []), ...(m.channelsLast ? ["channels_last"] : [])].join(", ")})`;
}
const percent = (x: number) => `${(100 * x).toFixed(1)}%`;
const fmt = (x: number, d = 1) => x.toFixed(d);

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
