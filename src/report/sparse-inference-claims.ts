/**
 * The sparse-inference benchmark's claims: what FLOP counts promise for pruned models on
 * ONNX Runtime, judged against the machine's own timing noise.
 */
import { judgeClaims, registry, type ClaimDefinition } from "./claims.ts";
import {
  denseResult,
  gapReason,
  geomean,
  overallSpeedup,
  speedups,
  timingNoise,
  x2,
  type InferenceResult,
  type SparseInferenceData,
  type Storage,
} from "./sparse-inference-data.ts";
import type { Claim, Verdict } from "./verdict.ts";

/** What every judge reads: the data, its measured rows and the dense reference, the noise, and the rule that decides. */
export interface SparseInferenceInput {
  d: SparseInferenceData;
  v: SparseInferenceData["config"]["verdicts"];
  measured: InferenceResult[];
  dense: InferenceResult | undefined;
  noise: number;
  /** Decides whether speedup x passes, or INCONCLUSIVE when the noise (or an over-noisy machine) leaves it open. */
  judge(x: number, pass: (v: number) => boolean): Verdict;
  /** Why a claim is INCONCLUSIVE on timing grounds. */
  noiseNote: string;
  faster(x: number): boolean;
  /** The measured model of a kind with the largest FLOP reduction. */
  sparsest(kind: InferenceResult["kind"], storage?: Storage): InferenceResult | undefined;
}

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;

/**
 * A measured speedup x is uncertain by the machine's noise n: the truth lies within
 * [x / (1 + n), x * (1 + n)]. A claim is decided only when the whole interval is on
 * one side of its threshold.
 */
export function decide(x: number, noise: number, pass: (v: number) => boolean): Verdict {
  const lo = x / (1 + noise),
    hi = x * (1 + noise);
  if (pass(lo) && pass(hi)) return "REPRODUCED";
  if (!pass(lo) && !pass(hi)) return "NOT REPRODUCED";
  return "INCONCLUSIVE";
}

export function sparseInferenceInput(d: SparseInferenceData): SparseInferenceInput {
  const v = d.config.verdicts;
  const measured = d.results.filter((r) => r.status === "measured");
  const dense = denseResult(d);
  const noise = dense ? timingNoise(d, dense) : Infinity;
  const noisy = noise > v.maxNoise;
  return {
    d,
    v,
    measured,
    dense,
    noise,
    judge: (x, pass) => (noisy ? "INCONCLUSIVE" : decide(x, noise, pass)),
    noiseNote: noisy
      ? `timings too noisy: timing the dense model against itself is off by up to ${pct(noise)} (limit ${pct(v.maxNoise)})`
      : `within the ${pct(noise)} timing noise the measurement cannot tell`,
    faster: (x) => x >= v.minSpeedup,
    sparsest: (kind, storage = "dense initializers") =>
      measured.filter((r) => r.kind === kind && r.storage === storage).sort((a, b) => b.theoreticalSpeedup - a.theoreticalSpeedup)[0],
  };
}

export const unstructuredClaim: ClaimDefinition<SparseInferenceInput> = {
  id: "inference.unstructured-speedup",
  claim: "Unstructured sparsity speeds up ONNX Runtime inference",
  paper: "FLOP count",
  measures:
    "the sparsest unstructured model's speedup over the dense one (geometric mean over batch sizes) against verdicts.minSpeedup, beyond the timing noise",
  judge(x) {
    const u = x.sparsest("unstructured");
    if (!x.dense || !u) return { measured: "-", verdict: "INCONCLUSIVE", reason: "no dense or unstructured model was measured" };
    const s = speedups(x.d, u)!,
      sp = overallSpeedup(s),
      verdict = x.judge(sp, x.faster);
    const min = x2(x.v.minSpeedup);
    return {
      claim: `Unstructured sparsity speeds up ONNX Runtime inference (${x.d.provider} EP)`,
      paper: `FLOP count: ${x2(u.theoreticalSpeedup)} for ${u.model} (${pct(u.convWeightDensity)} of conv weights)`,
      measured: `${x2(sp)} (geometric mean of batch ${x.d.config.latencyBatch}: ${x2(s.latency)}; ${s.throughput.map((t) => `batch ${t.batch}: ${x2(t.speedup)}`).join("; ")}), noise ${pct(x.noise)}`,
      verdict,
      reason:
        verdict === "REPRODUCED"
          ? `the sparsest unstructured model runs at least ${min} faster than dense, beyond the noise`
          : verdict === "NOT REPRODUCED"
            ? `below ${min} even allowing for ${pct(x.noise)} noise: zeros stored in dense weight tensors are multiplied like any other value by ORT's dense conv kernels, so the ${x2(u.theoreticalSpeedup)} FLOP reduction buys no time`
            : `${x.noiseNote} whether ${x2(sp)} clears ${min}`,
    };
  },
};

export const structuredClaim: ClaimDefinition<SparseInferenceInput> = {
  id: "inference.structured-efficiency",
  claim: "Structured pruning realises its FLOP reduction",
  paper: "FLOP count",
  measures:
    "the sparsest structured model's speedup as a share of its FLOP reduction, against verdicts.minEfficiency (and verdicts.minSpeedup), beyond the timing noise",
  judge(x) {
    const st = x.sparsest("structured");
    if (!x.dense || !st) return { measured: "-", verdict: "INCONCLUSIVE", reason: "no dense or structured model was measured" };
    const rows = x.measured.filter((r) => r.kind === "structured").map((r) => ({ r, s: speedups(x.d, r)! }));
    const sp = overallSpeedup(speedups(x.d, st)!);
    const verdict = x.judge(sp, (y) => y / st.theoreticalSpeedup >= x.v.minEfficiency && x.faster(y));
    return {
      claim: `Structured (channel) pruning's measured speedup is at least ${pct(x.v.minEfficiency)} of its FLOP reduction`,
      paper: `FLOP count: ${rows.map(({ r }) => `${r.model} ${x2(r.theoreticalSpeedup)}`).join(", ")}`,
      measured:
        rows
          .map(
            ({ r, s }) =>
              `${r.model}: ${x2(s.latency)} at batch ${x.d.config.latencyBatch}, ${s.throughput.map((t) => `${x2(t.speedup)} at ${t.batch}`).join(", ")} (overall ${x2(overallSpeedup(s))}, ${pct(overallSpeedup(s) / r.theoreticalSpeedup)} of theory)`,
          )
          .join("; ") + `; noise ${pct(x.noise)}`,
      verdict,
      reason:
        verdict === "INCONCLUSIVE"
          ? `${x.noiseNote} whether ${st.model}'s ${x2(sp)} is ${pct(x.v.minEfficiency)} of ${x2(st.theoreticalSpeedup)}`
          : `the sparsest structured model (${st.model}) reaches ${pct(sp / st.theoreticalSpeedup)} of its theoretical ${x2(st.theoreticalSpeedup)}${verdict === "REPRODUCED" ? "" : `; ${gapReason(x.d, st.model)}`}`,
    };
  },
};

export const sparseInitializerClaim: ClaimDefinition<SparseInferenceInput> = {
  id: "inference.sparse-initializers",
  claim: "ONNX sparse initializers make unstructured models faster on ONNX Runtime",
  paper: "-",
  measures:
    "the sparsest model stored with sparse initializers against the same weights stored densely (speedup ratio, geometric mean over batch sizes), against verdicts.minSpeedup, beyond the timing noise",
  judge(x) {
    const sparseInit = x.measured.filter((r) => r.storage === "sparse initializers");
    const failedSparse = x.d.results.filter((r) => r.storage === "sparse initializers" && r.status === "failed");
    if (!sparseInit.length)
      return {
        measured: failedSparse.length ? `failed: ${failedSparse[0]!.reason}` : "not measured",
        verdict: "INCONCLUSIVE",
        reason: failedSparse.length ? "ORT did not run the sparse-initializer files" : "sparseInitializers is off in this configuration",
      };
    const pairs = sparseInit.map((r) => {
      const same = x.measured.find((m) => m.model === r.model && m.storage === "dense initializers")!;
      // Both files' speedups over the dense model, divided: the sparse file's speed relative to the same weights stored densely.
      const a = speedups(x.d, r)!,
        b = speedups(x.d, same)!;
      const per = [a.latency / b.latency, ...a.throughput.map((t, i) => t.speedup / b.throughput[i]!.speedup)];
      return { r, per, overall: geomean(per), size: r.bytes / same.bytes };
    });
    // The sparsest model has the most to gain, so it decides.
    const top = [...pairs].sort((a, b) => b.r.theoreticalSpeedup - a.r.theoreticalSpeedup)[0]!;
    const verdict = x.judge(top.overall, x.faster);
    return {
      measured:
        pairs
          .map(
            (p) =>
              `${p.r.model}: ${x2(p.overall)} (${p.per.map(x2).join(" / ")} at batch ${[x.d.config.latencyBatch, ...x.d.config.throughputBatches].join(" / ")}), file ${x2(p.size)} the size of the dense-stored one`,
          )
          .join("; ") + `; noise ${pct(x.noise)}`,
      verdict,
      reason:
        verdict === "REPRODUCED"
          ? `${top.r.model} stored with sparse initializers runs ${x2(top.overall)} as fast as the same weights stored densely, beyond the noise`
          : verdict === "NOT REPRODUCED"
            ? "the files are smaller, but ONNX Runtime converts sparse initializers to dense tensors when it builds the graph (SparseTensorProtoToDenseTensorProto in onnxruntime/core/graph/graph.cc), so the same dense kernels run"
            : `${x.noiseNote} whether ${top.r.model}'s ${x2(top.overall)} clears ${x2(x.v.minSpeedup)}; ONNX Runtime converts sparse initializers to dense tensors when it builds the graph (onnxruntime/core/graph/graph.cc), so no gain is expected`,
    };
  },
};

/** The sparse-inference benchmark's claims. */
export const SPARSE_INFERENCE_CLAIMS = registry([unstructuredClaim, structuredClaim, sparseInitializerClaim]);

export function sparseInferenceClaims(d: SparseInferenceData): Claim[] {
  return judgeClaims(SPARSE_INFERENCE_CLAIMS, sparseInferenceInput(d));
}
