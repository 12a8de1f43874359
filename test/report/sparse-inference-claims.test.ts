import { expect, test } from "bun:test";
import { summarise } from "../../src/onnx/session-timing.ts";
import { sparseInferenceClaims, timingNoise, type InferenceResult, type SparseInferenceData, type Storage } from "../../src/report/sparse-inference-report.ts";
import { inferenceData, inferenceResult, siConfig } from "../helpers/inference-results.ts";

const cfg = siConfig;
const result = inferenceResult;
const data = (results: InferenceResult[]) => inferenceData(results);

test("verdicts follow the measured speedups: zeros that cost the same time are NOT REPRODUCED, a compacted model at 80% of its FLOP speedup is REPRODUCED", () => {
  const claims = sparseInferenceClaims(
    data([
      result("dense", "dense", 1, 1),
      result("u10", "unstructured", 6, 1.01),
      result("u10", "unstructured", 6, 1.0, { storage: "sparse initializers" }),
      result("s50", "structured", 2, 0.625),
    ]),
  );
  expect(claims.map((c) => c.verdict)).toEqual(["NOT REPRODUCED", "REPRODUCED", "NOT REPRODUCED"]);
  expect(claims[1]!.reason).toContain("80%");
});

test("an unstructured model that really runs faster, and a structured one that gains little, flip the verdicts", () => {
  const claims = sparseInferenceClaims(data([result("dense", "dense", 1, 1), result("u10", "unstructured", 6, 0.5), result("s25", "structured", 4, 0.9)]));
  expect(claims[0]!.verdict).toBe("REPRODUCED");
  expect(claims[1]!.verdict).toBe("NOT REPRODUCED");
  expect(claims[2]!.verdict).toBe("INCONCLUSIVE"); // no sparse-initializer files measured
});

test("timings whose dense spread exceeds the noise limit give INCONCLUSIVE, not a verdict", () => {
  const claims = sparseInferenceClaims(
    data([result("dense", "dense", 1, 1, { spread: 10 }), result("u10", "unstructured", 6, 1), result("s50", "structured", 2, 0.5)]),
  );
  expect(claims[0]!.verdict).toBe("INCONCLUSIVE");
  expect(claims[1]!.verdict).toBe("INCONCLUSIVE");
});

test("with several rounds, noise is the drift of the dense model's round medians, and only speedups clear of it get a verdict", () => {
  const dense = result("dense", "dense", 1, 1);
  const drift = (t: NonNullable<InferenceResult["latency"]>) =>
    summarise(
      [
        [t.p50, t.p50, t.p50],
        [1.3 * t.p50, 1.3 * t.p50, 1.3 * t.p50],
      ],
      t.batch,
      5,
    );
  const drifting = { ...dense, latency: drift(dense.latency!), throughput: dense.throughput!.map(drift) };
  // Noise (1.3 - 1) / median 1.15 = 26%, and the dense median is 1.15 ms: a 1/1.2 ms model is 1.38x, somewhere in
  // 1.09x..1.74x (undecided); a 0.5 ms one is 2.3x, at least 1.82x; a 1.4 ms one is 0.82x, at most 1.04x.
  const unsure = sparseInferenceClaims(data([drifting, result("u10", "unstructured", 6, 1 / 1.2), result("s50", "structured", 2, 0.5)]));
  expect(unsure[0]!.verdict).toBe("INCONCLUSIVE");
  expect(unsure[0]!.reason).toContain("26%");
  expect(unsure[1]!.verdict).toBe("REPRODUCED");
  const slower = sparseInferenceClaims(data([drifting, result("u10", "unstructured", 6, 1.4)]));
  expect(slower[0]!.verdict).toBe("NOT REPRODUCED");
});

test("paired timings: speedups come from the per-round paired estimates and noise from the dense model timed against itself", () => {
  const dense = result("dense", "dense", 1, 1, { spread: 10 }); // its own percentiles are wide, but pairing makes that irrelevant
  const u = { ...result("u10", "unstructured", 6, 1), pairedSpeedup: [1, 64, 128].map((batch) => ({ batch, perRound: [1.01, 0.99, 1.0], median: 1.0 })) };
  const s = { ...result("s50", "structured", 2, 1), pairedSpeedup: [1, 64, 128].map((batch) => ({ batch, perRound: [1.6, 1.7, 1.65], median: 1.65 })) };
  const d = { ...data([dense, u, s]), denseVsDense: [1.01, 0.99, 1.02, 0.98, 1.0, 1.03] };
  expect(timingNoise(d, dense)).toBeCloseTo(0.025, 6); // 90th percentile of 0, .01, .01, .02, .02, .03
  const claims = sparseInferenceClaims(d);
  expect(claims[0]!.verdict).toBe("NOT REPRODUCED"); // 1.00x, at most 1.025x
  expect(claims[1]!.verdict).toBe("REPRODUCED"); // 1.65x of 2x = 82%, at least 80%
  expect(claims[1]!.measured).toContain("overall 1.65x");
});

test("what each claim says, worked by hand: the sparsest model of each kind decides, speedups as dense time over the model's, the file size ratio", () => {
  // dense 1 ms; u10 (6x fewer FLOPs) 1.01 ms; u20 (3x) 1 ms; u10 stored sparsely 1 ms in 0.4 of the bytes; s50 (2x) 0.625 ms; s75 (1.5x) 0.8 ms.
  // Listed so that neither the sparsest nor the dense-stored twin comes first.
  const sparse = { ...result("u10", "unstructured", 6, 1.0, { storage: "sparse initializers" }), bytes: 400 };
  const claims = sparseInferenceClaims(
    data([
      result("dense", "dense", 1, 1),
      result("u20", "unstructured", 3, 1.0),
      sparse,
      result("u10", "unstructured", 6, 1.01),
      result("s75", "structured", 1.5, 0.8),
      result("s50", "structured", 2, 0.625),
    ]),
  );
  const [u, s, i] = claims;
  expect(u!.claim).toBe("Unstructured sparsity speeds up ONNX Runtime inference (cpu EP)");
  expect(u!.paper).toBe("FLOP count: 6.00x for u10 (17% of conv weights)");
  // 1 / 1.01 = 0.99x at every batch; the noise is the dense latency's (p90 - p50) / p50, 2% for a 5% spread.
  expect(u!.measured).toBe("0.99x (geometric mean of batch 1: 0.99x; batch 64: 0.99x; batch 128: 0.99x), noise 2%");
  expect(u!.reason).toStartWith("below 1.15x even allowing for 2% noise");
  expect(s!.paper).toBe("FLOP count: s75 1.50x, s50 2.00x");
  // 1 / 0.625 = 1.6x, 80% of 2x; 1 / 0.8 = 1.25x, 83% of 1.5x.
  expect(s!.measured).toBe(
    "s75: 1.25x at batch 1, 1.25x at 64, 1.25x at 128 (overall 1.25x, 83% of theory); s50: 1.60x at batch 1, 1.60x at 64, 1.60x at 128 (overall 1.60x, 80% of theory); noise 2%",
  );
  expect([s!.verdict, s!.reason]).toEqual(["REPRODUCED", "the sparsest structured model (s50) reaches 80% of its theoretical 2.00x"]);
  // The sparse file against the same weights stored densely: 1.01 / 1.0 at every batch, 400 of 1000 bytes.
  expect(i!.measured).toBe("u10: 1.01x (1.01x / 1.01x / 1.01x at batch 1 / 64 / 128), file 0.40x the size of the dense-stored one; noise 2%");
  expect(i!.verdict).toBe("NOT REPRODUCED");
  expect(claims.map((c) => c.id)).toEqual(["inference.unstructured-speedup", "inference.structured-efficiency", "inference.sparse-initializers"]);
});

test("too noisy a machine decides nothing; no dense model, or a sparse file ORT could not run, says so", () => {
  const noisy = sparseInferenceClaims({
    ...data([result("dense", "dense", 1, 1, { spread: 2 }), result("u10", "unstructured", 6, 0.5)]),
    config: { ...cfg, verdicts: { ...cfg.verdicts, maxNoise: 0.1 } },
  });
  expect(noisy[0]!.verdict).toBe("INCONCLUSIVE");
  expect(noisy[0]!.reason).toMatch(
    /^timings too noisy: timing the dense model against itself is off by up to \d+% \(limit 10%\) whether \d+\.\d+x clears 1\.15x$/,
  );
  const noDense = sparseInferenceClaims(data([result("u10", "unstructured", 6, 0.5), result("s50", "structured", 2, 0.5)]));
  expect(noDense.slice(0, 2).map((c) => [c.verdict, c.measured, c.reason])).toEqual([
    ["INCONCLUSIVE", "-", "no dense or unstructured model was measured"],
    ["INCONCLUSIVE", "-", "no dense or structured model was measured"],
  ]);
  const failed = { ...result("u10", "unstructured", 6, 1, { storage: "sparse initializers" }), status: "failed" as const, reason: "ORT: unsupported" };
  const f = sparseInferenceClaims(data([result("dense", "dense", 1, 1), failed]))[2]!;
  expect([f.verdict, f.measured, f.reason]).toEqual(["INCONCLUSIVE", "failed: ORT: unsupported", "ORT did not run the sparse-initializer files"]);
  expect(sparseInferenceClaims(data([result("dense", "dense", 1, 1)]))[2]!.reason).toBe("sparseInitializers is off in this configuration");
});
