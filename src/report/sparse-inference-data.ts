/** The sparse-inference benchmark's measured results, and what the report and the claims derive from them alike. */
import type { SparseInferenceConfig } from "../config/generated/sparse-inference.ts";
import type { ManifestModel } from "../onnx/manifest.ts";
import { quantile, type RunTiming } from "../onnx/session-timing.ts";
import type { StepProfile } from "../engine/onnx/profile.ts";
import { type RunContext } from "../util/provenance.ts";

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
  /** Set when the report was drawn again from saved measurements (bench:sparse-inference --rerender): when, and at which commit. */
  redrawn?: { commit: string; date: string };
}

export const x2 = (v: number) => `${v.toFixed(2)}x`;

/** The measured dense model, stored densely: the reference of every speedup. */
export function denseResult(d: SparseInferenceData): InferenceResult | undefined {
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

export const geomean = (xs: number[]) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);

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
const CONV_OPS = ["Conv", "FusedConv"];

/** Why a structured model falls short of its FLOP speedup, from the profiles when there are any. */
export function gapReason(d: SparseInferenceData, model: string): string {
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
