import type { SparseInferenceConfig } from "../config/generated/sparse-inference.ts";
import type { ManifestModel } from "../onnx/manifest.ts";
import { quantile, type RunTiming } from "../onnx/session-timing.ts";
import type { StepProfile } from "../engine/onnx/profile.ts";
import { contextMarkdown, table } from "./markdown.ts";
import { type RunContext } from "../util/provenance.ts";
import type { Claim, Verdict } from "./verdict.ts";
import { speedupScatterSvg } from "./plots.ts";

/** How a model's weights were stored in the timed file. */
export type Storage = "dense initializers" | "sparse initializers";

export interface InferenceResult {
  model: string;
  kind: ManifestModel["kind"];
  storage: Storage;
  nominalDensity: number;
  /** Structured: kept channel counts are multiples of this (1 or absent: not aligned). */
  channelMultiple?: number;
  convWeightDensity: number;
  theoreticalSpeedup: number;
  /** Dense / this model's MACs with channels padded to the CPU EP's NCHWc block (absent off the CPU EP or without layer sizes). */
  paddedSpeedup?: number;
  testAccuracy: number | null;
  /** Correct on the check images in this session, and what the export recorded. */
  check: { images: number; correct: number; expected: number } | null;
  bytes: number;
  status: "measured" | "failed";
  reason?: string;
  latency?: RunTiming;
  throughput?: RunTiming[];
  /**
   * Speedup over the dense model per batch size (latency batch first), each round's taken against the mean of the
   * dense timings just before and after this model's: robust to the machine's drift. Absent for the dense model.
   */
  pairedSpeedup?: { batch: number; perRound: number[]; median: number }[];
}

export interface SparseInferenceData {
  context: RunContext;
  preset: string;
  provider: string;
  threads: number;
  /** ORT's NCHWc block on this CPU (floats per SIMD register), 0 when the CPU EP has no blocked kernels. */
  nchwcBlock: number;
  config: SparseInferenceConfig;
  model: { arch: string; width: number; inputShape: number[]; dataset: string; manifest: string };
  results: InferenceResult[];
  /** ORT profiles (CPU EP) of the dense and the sparsest structured model at one batch size. */
  profiles: { model: string; batch: number; profile: StepProfile }[];
  /** The paired estimator applied to the dense model against itself (mean of the dense timings around one / that one): its spread is the noise. */
  denseVsDense?: number[];
}

const x2 = (v: number) => `${v.toFixed(2)}x`;

/** The measured dense model, stored densely: the reference of every speedup. */
function denseResult(d: SparseInferenceData): InferenceResult | undefined {
  return d.results.find((x) => x.kind === "dense" && x.storage === "dense initializers" && x.status === "measured");
}

/**
 * Speedups of a result over the dense model: batch-1 latency and each throughput batch;
 * the paired per-round estimates where the benchmark made them, else ratios of medians.
 */
export function speedups(d: SparseInferenceData, r: InferenceResult): { latency: number; throughput: { batch: number; speedup: number }[] } | null {
  const dense = denseResult(d);
  if (!dense || r.status !== "measured") return null;
  if (r === dense) return { latency: 1, throughput: r.throughput!.map((t) => ({ batch: t.batch, speedup: 1 })) };
  if (r.pairedSpeedup) return { latency: r.pairedSpeedup[0]!.median, throughput: r.pairedSpeedup.slice(1).map((p) => ({ batch: p.batch, speedup: p.median })) };
  return {
    latency: dense.latency!.p50 / r.latency!.p50,
    throughput: r.throughput!.map((t) => ({
      batch: t.batch,
      speedup: t.imagesPerSecond / dense.throughput!.find((b) => b.batch === t.batch)!.imagesPerSecond,
    })),
  };
}

const geomean = (xs: number[]) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);

/** One number per result: the geometric mean of its speedups over the latency batch and every throughput batch. */
export function overallSpeedup(s: NonNullable<ReturnType<typeof speedups>>): number {
  return geomean([s.latency, ...s.throughput.map((t) => t.speedup)]);
}

/**
 * Timing noise: with paired timings, the 90th percentile of |e - 1| over the paired
 * estimator applied to the dense model against itself (e = 1 if timing were exact);
 * without them, the dense model's largest relative spread of per-chunk medians, or with
 * a single chunk its batch-1 (p90 - p50) / p50.
 */
export function timingNoise(d: SparseInferenceData, dense: InferenceResult): number {
  if (d.denseVsDense && d.denseVsDense.length >= 3)
    return quantile(
      d.denseVsDense.map((e) => Math.abs(e - 1)).sort((a, b) => a - b),
      0.9,
    );
  const all = [dense.latency!, ...dense.throughput!];
  if (all[0]!.roundP50s.length < 2) return (all[0]!.p90 - all[0]!.p50) / all[0]!.p50;
  return Math.max(
    ...all.map((t) => {
      const r = [...t.roundP50s].sort((a, b) => a - b);
      return (r.at(-1)! - r[0]!) / quantile(r, 0.5);
    }),
  );
}

/**
 * A measured speedup x is uncertain by the machine's noise n: the truth lies within
 * [x / (1 + n), x * (1 + n)]. A claim is decided only when the whole interval is on
 * one side of its threshold.
 */
function decide(x: number, noise: number, pass: (v: number) => boolean): Verdict {
  const lo = x / (1 + noise),
    hi = x * (1 + noise);
  if (pass(lo) && pass(hi)) return "REPRODUCED";
  if (!pass(lo) && !pass(hi)) return "NOT REPRODUCED";
  return "INCONCLUSIVE";
}

export function sparseInferenceClaims(d: SparseInferenceData): Claim[] {
  const v = d.config.verdicts;
  const measured = d.results.filter((r) => r.status === "measured");
  const dense = denseResult(d);
  const noise = dense ? timingNoise(d, dense) : Infinity;
  const noisy = noise > v.maxNoise;
  const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
  const noiseNote = noisy
    ? `timings too noisy: timing the dense model against itself is off by up to ${pct(noise)} (limit ${pct(v.maxNoise)})`
    : `within the ${pct(noise)} timing noise the measurement cannot tell`;
  const sparsest = (kind: InferenceResult["kind"], storage: Storage = "dense initializers") =>
    measured.filter((r) => r.kind === kind && r.storage === storage).sort((a, b) => b.theoreticalSpeedup - a.theoreticalSpeedup)[0];
  const judge = (x: number, pass: (v: number) => boolean): Verdict => (noisy ? "INCONCLUSIVE" : decide(x, noise, pass));
  const faster = (x: number) => x >= v.minSpeedup;
  const out: Claim[] = [];

  const u = sparsest("unstructured");
  if (!dense || !u) {
    out.push({
      claim: "Unstructured sparsity speeds up ONNX Runtime inference",
      paper: "FLOP count",
      measured: "-",
      verdict: "INCONCLUSIVE",
      reason: "no dense or unstructured model was measured",
    });
  } else {
    const s = speedups(d, u)!,
      x = overallSpeedup(s),
      verdict = judge(x, faster);
    out.push({
      claim: `Unstructured sparsity speeds up ONNX Runtime inference (${d.provider} EP)`,
      paper: `FLOP count: ${x2(u.theoreticalSpeedup)} for ${u.model} (${pct(u.convWeightDensity)} of conv weights)`,
      measured: `${x2(x)} (geometric mean of batch ${d.config.latencyBatch}: ${x2(s.latency)}; ${s.throughput.map((t) => `batch ${t.batch}: ${x2(t.speedup)}`).join("; ")}), noise ${pct(noise)}`,
      verdict,
      reason:
        verdict === "REPRODUCED"
          ? `the sparsest unstructured model runs at least ${x2(v.minSpeedup)} faster than dense, beyond the noise`
          : verdict === "NOT REPRODUCED"
            ? `below ${x2(v.minSpeedup)} even allowing for ${pct(noise)} noise: zeros stored in dense weight tensors are multiplied like any other value by ORT's dense conv kernels, so the ${x2(u.theoreticalSpeedup)} FLOP reduction buys no time`
            : `${noiseNote} whether ${x2(x)} clears ${x2(v.minSpeedup)}`,
    });
  }

  const st = sparsest("structured");
  if (!dense || !st) {
    out.push({
      claim: "Structured pruning realises its FLOP reduction",
      paper: "FLOP count",
      measured: "-",
      verdict: "INCONCLUSIVE",
      reason: "no dense or structured model was measured",
    });
  } else {
    const rows = measured.filter((r) => r.kind === "structured").map((r) => ({ r, s: speedups(d, r)! }));
    const x = overallSpeedup(speedups(d, st)!);
    const verdict = judge(x, (y) => y / st.theoreticalSpeedup >= v.minEfficiency && faster(y));
    out.push({
      claim: `Structured (channel) pruning's measured speedup is at least ${pct(v.minEfficiency)} of its FLOP reduction`,
      paper: `FLOP count: ${rows.map(({ r }) => `${r.model} ${x2(r.theoreticalSpeedup)}`).join(", ")}`,
      measured:
        rows
          .map(
            ({ r, s }) =>
              `${r.model}: ${x2(s.latency)} at batch ${d.config.latencyBatch}, ${s.throughput.map((t) => `${x2(t.speedup)} at ${t.batch}`).join(", ")} (overall ${x2(overallSpeedup(s))}, ${pct(overallSpeedup(s) / r.theoreticalSpeedup)} of theory)`,
          )
          .join("; ") + `; noise ${pct(noise)}`,
      verdict,
      reason:
        verdict === "INCONCLUSIVE"
          ? `${noiseNote} whether ${st.model}'s ${x2(x)} is ${pct(v.minEfficiency)} of ${x2(st.theoreticalSpeedup)}`
          : `the sparsest structured model (${st.model}) reaches ${pct(x / st.theoreticalSpeedup)} of its theoretical ${x2(st.theoreticalSpeedup)}${verdict === "REPRODUCED" ? "" : `; ${gapReason(d, st.model)}`}`,
    });
  }

  const sparseInit = measured.filter((r) => r.storage === "sparse initializers");
  const failedSparse = d.results.filter((r) => r.storage === "sparse initializers" && r.status === "failed");
  const sparseClaim = "ONNX sparse initializers make unstructured models faster on ONNX Runtime";
  if (!sparseInit.length) {
    out.push({
      claim: sparseClaim,
      paper: "-",
      measured: failedSparse.length ? `failed: ${failedSparse[0]!.reason}` : "not measured",
      verdict: "INCONCLUSIVE",
      reason: failedSparse.length ? "ORT did not run the sparse-initializer files" : "sparseInitializers is off in this configuration",
    });
  } else {
    const pairs = sparseInit.map((r) => {
      const same = measured.find((x) => x.model === r.model && x.storage === "dense initializers")!;
      // Both files' speedups over the dense model, divided: the sparse file's speed relative to the same weights stored densely.
      const a = speedups(d, r)!,
        b = speedups(d, same)!;
      const per = [a.latency / b.latency, ...a.throughput.map((t, i) => t.speedup / b.throughput[i]!.speedup)];
      return { r, per, overall: geomean(per), size: r.bytes / same.bytes };
    });
    // The sparsest model has the most to gain, so it decides.
    const top = [...pairs].sort((a, b) => b.r.theoreticalSpeedup - a.r.theoreticalSpeedup)[0]!;
    const verdict = judge(top.overall, faster);
    out.push({
      claim: sparseClaim,
      paper: "-",
      measured:
        pairs
          .map(
            (p) =>
              `${p.r.model}: ${x2(p.overall)} (${p.per.map(x2).join(" / ")} at batch ${[d.config.latencyBatch, ...d.config.throughputBatches].join(" / ")}), file ${x2(p.size)} the size of the dense-stored one`,
          )
          .join("; ") + `; noise ${pct(noise)}`,
      verdict,
      reason:
        verdict === "REPRODUCED"
          ? `${top.r.model} stored with sparse initializers runs ${x2(top.overall)} as fast as the same weights stored densely, beyond the noise`
          : verdict === "NOT REPRODUCED"
            ? "the files are smaller, but ONNX Runtime converts sparse initializers to dense tensors when it builds the graph (SparseTensorProtoToDenseTensorProto in onnxruntime/core/graph/graph.cc), so the same dense kernels run"
            : `${noiseNote} whether ${top.r.model}'s ${x2(top.overall)} clears ${x2(v.minSpeedup)}; ONNX Runtime converts sparse initializers to dense tensors when it builds the graph (onnxruntime/core/graph/graph.cc), so no gain is expected`,
    });
  }
  return out;
}

export async function renderSparseInference(d: SparseInferenceData): Promise<{ markdown: string; svg: string; claims: Claim[] }> {
  const claims = sparseInferenceClaims(d);
  const dense = denseResult(d);
  const ms = (x: number) => x.toFixed(3);
  const rows = d.results.map((r) => {
    const base = [
      r.model,
      r.kind,
      r.storage === "sparse initializers" ? "sparse" : "dense",
      `${(100 * r.convWeightDensity).toFixed(1)}%`,
      x2(r.theoreticalSpeedup),
      r.paddedSpeedup === undefined || d.provider !== "cpu" ? "-" : x2(r.paddedSpeedup),
    ];
    if (r.status !== "measured") return [...base, "-", "-", "-", "-", `failed: ${r.reason}`];
    const s = speedups(d, r);
    return [
      ...base,
      `${ms(r.latency!.p50)} / ${ms(r.latency!.p90)} / ${ms(r.latency!.p99)}`,
      r.throughput!.map((t) => t.imagesPerSecond.toFixed(0)).join(" / "),
      s ? `${x2(s.latency)} / ${s.throughput.map((t) => x2(t.speedup)).join(" / ")}` : "-",
      r.check ? `${r.check.correct}/${r.check.images} (export: ${r.check.expected})` : "-",
      r.testAccuracy === null ? "n/a" : `${(100 * r.testAccuracy).toFixed(2)}%`,
    ];
  });
  const points = d.results
    .filter((r) => r.status === "measured" && r.storage === "dense initializers" && r.kind !== "dense")
    .flatMap((r) => {
      const s = speedups(d, r)!;
      return [
        { x: r.theoreticalSpeedup, y: s.latency, series: seriesName(r), batch: d.config.latencyBatch },
        ...s.throughput.map((t) => ({ x: r.theoreticalSpeedup, y: t.speedup, series: seriesName(r), batch: t.batch })),
      ];
    });
  const svg = await speedupScatterSvg({ title: `Measured vs theoretical speedup (${d.model.arch} w${d.model.width}, ORT ${d.provider})`, points });
  const tb = d.config.throughputBatches.join(" / ");
  const markdown = [
    "# Sparse inference on ONNX Runtime",
    "",
    `Generated by \`bun run bench:sparse-inference --preset ${d.preset}\`. Models from \`${d.model.manifest}\` (written by \`bun run models:export\`): ${d.model.arch} width ${d.model.width}, input ${d.model.inputShape.join("x")}, trained on ${d.model.dataset}; unstructured = global magnitude pruning of conv weights, structured = L1-norm channel pruning of every residual block's inner channels, physically removed (compacted). Each model was fine-tuned with its mask fixed.`,
    "",
    contextMarkdown(d.context, {
      preset: d.preset,
      "execution provider": `${d.provider} (requested: ${d.config.provider})`,
      // Inference runs the exported files as they are; engine.precision applies to training only.
      precision: "fp32 (float32 ONNX models)",
      "ORT intra-op threads": d.threads,
    }),
    "",
    "## Claims",
    "",
    table(
      ["claim", "expected", "measured", "verdict", "reason"],
      claims.map((c) => [c.claim, c.paper, c.measured, `**${c.verdict}**`, c.reason]),
    ),
    "",
    "## Measurements",
    "",
    [
      `Timing: tinybench chunks of ${d.config.timing.warmupMs} ms warm-up, then at least ${d.config.timing.minIterations} runs and ${d.config.timing.minTimeMs} ms, in ${d.config.timing.rounds} round(s); in each round and batch size the dense model is timed between every two models, and a model's speedup is the mean of the dense chunk medians just before and after it divided by its own chunk median (machine drift cancels); the median over rounds is reported, and verdicts use the geometric mean over batch sizes.`,
      `Noise: the same estimator applied to the dense model against itself, 90th percentile of its deviation from 1: ${dense ? `${(100 * timingNoise(d, dense)).toFixed(1)}%` : "n/a"}${d.denseVsDense?.length ? ` (${d.denseVsDense.length} estimates)` : ""}.`,
      `Latency percentiles and img/s pool every sample of a model; throughput = batch / median run time.`,
      `Before timing, every session classified the first test images and had to get the count the export recorded.`,
      `Theoretical speedup = dense conv+fc MACs / MACs of the non-zero weights that remain.`,
      `NCHWc-padded speedup = the same ratio for the work ORT's CPU EP really schedules: it runs convs in a blocked layout of ${d.nchwcBlock || "n/a"} channels, padding output channels (and input channels, when there are at least a block of them) up to a multiple of the block and multiplying zeros like any other weight.`,
    ].join(" "),
    "",
    table(
      [
        "model",
        "kind",
        "weights stored",
        "conv weights kept",
        "theoretical speedup",
        `NCHWc-padded speedup (block ${d.nchwcBlock})`,
        `latency batch ${d.config.latencyBatch} p50 / p90 / p99 (ms)`,
        `img/s at batch ${tb}`,
        `measured speedup (batch ${d.config.latencyBatch} / ${tb})`,
        "check images correct",
        "test accuracy",
      ],
      rows,
    ),
    "",
    "![measured vs theoretical speedup](sparse-inference.svg)",
    "",
    ...profileSection(d),
  ].join("\n");
  return { markdown, svg, claims };
}

const CONV_OPS = ["Conv", "FusedConv"];

const seriesName = (r: InferenceResult) => `${r.kind}${(r.channelMultiple ?? 1) > 1 ? ` x${r.channelMultiple}` : ""}`;

/** Why a structured model falls short of its FLOP speedup, from the profiles when there are any. */
function gapReason(d: SparseInferenceData, model: string): string {
  const a = d.profiles.find((p) => p.model !== model),
    b = d.profiles.find((p) => p.model === model);
  if (!a || !b) return "the MAC count leaves out work that does not shrink with the inner channels (run with profileRuns > 0 for the per-op split)";
  const sa = convSplit(a.profile),
    sb = convSplit(b.profile);
  const r = d.results.find((x) => x.model === model && x.storage === "dense initializers");
  const theory = r?.theoreticalSpeedup ?? NaN;
  const convX = sa.conv / sb.conv,
    otherShare = sb.other / b.profile.kernelMs;
  const padded = d.provider === "cpu" ? r?.paddedSpeedup : undefined;
  const main =
    convX >= theory * d.config.verdicts.minEfficiency
      ? "the convolutions keep up with their MAC reduction; the kernels that do not shrink take the rest"
      : padded !== undefined
        ? `ORT pads channels to its NCHWc block of ${d.nchwcBlock}, so the work it schedules shrinks only ${padded.toFixed(2)}x, and the smaller blocked convs reach ${((100 * convX) / padded).toFixed(0)}% of even that`
        : "the convolutions themselves speed up far less than their MACs shrink";
  return `ORT's profile at batch ${b.batch}: convolutions ${sa.conv.toFixed(2)} -> ${sb.conv.toFixed(2)} ms (${convX.toFixed(2)}x for ${theory.toFixed(2)}x fewer MACs), other kernels ${sa.other.toFixed(2)} -> ${sb.other.toFixed(2)} ms (${(100 * otherShare).toFixed(0)}% of the compact model's kernel time): ${main}`;
}

/** Kernel ms per run in conv ops and in everything else, from a profile. */
export function convSplit(p: StepProfile): { conv: number; other: number } {
  const conv = p.byOp.filter((o) => CONV_OPS.includes(o.op)).reduce((s, o) => s + o.ms, 0);
  return { conv, other: p.kernelMs - conv };
}

function profileSection(d: SparseInferenceData): string[] {
  if (d.profiles.length < 2) return [];
  const [a, b] = d.profiles as [SparseInferenceData["profiles"][number], SparseInferenceData["profiles"][number]];
  const ops = [...new Set([...a.profile.byOp, ...b.profile.byOp].map((o) => o.op))];
  const ms = (p: StepProfile, op: string) => p.byOp.find((o) => o.op === op)?.ms ?? 0;
  const rows = ops
    .map((op) => [op, ms(a.profile, op), ms(b.profile, op)] as const)
    .sort((x, y) => y[1] - x[1])
    .map(([op, x, y]) => [op, x.toFixed(2), y.toFixed(2), y > 0 ? `${(x / y).toFixed(2)}x` : "-"]);
  const sa = convSplit(a.profile),
    sb = convSplit(b.profile);
  const theory = d.results.find((r) => r.model === b.model)?.theoreticalSpeedup;
  return [
    `## Where the time goes: ${a.model} vs ${b.model}`,
    "",
    `ORT profiler, CPU EP, batch ${a.batch}, ${d.config.profileRuns} runs each: kernel ms per run by op type (after ORT's graph optimisations, which fuse BN and ReLU into convs where they follow one and move convs into its blocked NCHWc layout with Reorder ops).`,
    "",
    table(
      ["op type", `${a.model} ms`, `${b.model} ms`, "speedup"],
      [...rows, ["**all kernels**", a.profile.kernelMs.toFixed(2), b.profile.kernelMs.toFixed(2), `${(a.profile.kernelMs / b.profile.kernelMs).toFixed(2)}x`]],
    ),
    "",
    `Convolutions: ${sa.conv.toFixed(2)} -> ${sb.conv.toFixed(2)} ms (${(sa.conv / sb.conv).toFixed(2)}x${theory ? `; the MAC count predicts ${theory.toFixed(2)}x for the whole model` : ""}); everything else: ${sa.other.toFixed(2)} -> ${sb.other.toFixed(2)} ms, ${((100 * sb.other) / b.profile.kernelMs).toFixed(0)}% of the compact model's kernel time.`,
    "",
  ];
}
