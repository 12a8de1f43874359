import { expect, test } from "bun:test";
import type { InferenceResult } from "../../src/report/sparse-inference-data.ts";
import { renderSparseInference } from "../../src/report/sparse-inference-report.ts";
import { inferenceData, inferenceResult } from "../helpers/inference-results.ts";
import { tableRows } from "../helpers/markdown-tables.ts";

/**
 * reports/sparse-inference.md's measurement table, plot and profile section, from results
 * whose timings are flat (every run of a model takes the same time), so each number in
 * the report is worked out by hand below.
 */
const flat = (model: string, kind: InferenceResult["kind"], theory: number, ms: number, o: Parameters<typeof inferenceResult>[4] = {}) =>
  inferenceResult(model, kind, theory, ms, { spread: 0, ...o });

function results(): InferenceResult[] {
  return [
    // Dense: 2 ms at batch 1; at batch b, b/8 x 2 ms, so 4000 img/s.
    flat("dense", "dense", 1, 2),
    // 6x fewer MACs, 1 ms: 2x faster at every batch; 16.7% of conv weights kept.
    flat("u6", "unstructured", 6, 1),
    { ...flat("u6", "unstructured", 6, 1.6, { storage: "sparse initializers" }), testAccuracy: null, check: null },
    { ...flat("s4", "structured", 4, 0.8, { channelMultiple: 8 }), paddedSpeedup: 3.25, testAccuracy: 0.9123 },
    { ...flat("s9", "structured", 9, 1), status: "failed", reason: "session failed to load", latency: undefined, throughput: undefined },
  ];
}

test("the measurement table: storage, weights kept, the speedups worked from the timings, the check and accuracy, failures named", async () => {
  const { markdown } = await renderSparseInference(inferenceData(results()));
  expect(tableRows(markdown, "model")).toEqual([
    ["dense", "dense", "dense", "100.0%", "1.00x", "-", "2.000 / 2.000 / 2.000", "4000 / 4000", "1.00x / 1.00x / 1.00x", "9/10 (export: 9)", "90.00%"],
    ["u6", "unstructured", "dense", "16.7%", "6.00x", "-", "1.000 / 1.000 / 1.000", "8000 / 8000", "2.00x / 2.00x / 2.00x", "9/10 (export: 9)", "90.00%"],
    ["u6", "unstructured", "sparse", "16.7%", "6.00x", "-", "1.600 / 1.600 / 1.600", "5000 / 5000", "1.25x / 1.25x / 1.25x", "-", "n/a"],
    ["s4", "structured", "dense", "25.0%", "4.00x", "3.25x", "0.800 / 0.800 / 0.800", "10000 / 10000", "2.50x / 2.50x / 2.50x", "9/10 (export: 9)", "91.23%"],
    ["s9", "structured", "dense", "11.1%", "9.00x", "-", "-", "-", "-", "-", "failed: session failed to load"],
  ]);
  // The NCHWc-padded ratio is the CPU EP's: on another provider it is not shown.
  const cuda = await renderSparseInference(inferenceData(results(), { provider: "cuda" }));
  expect(tableRows(cuda.markdown, "model")[3]![5]).toBe("-");
});

test("the header names the preset, the provider asked and got, the threads and the timing noise; a CPU without blocked kernels says n/a", async () => {
  const { markdown } = await renderSparseInference(
    inferenceData([{ ...flat("dense", "dense", 1, 2), latency: inferenceResult("dense", "dense", 1, 2, { spread: 0.1 }).latency }]),
  );
  expect(markdown).toContain("bun run bench:sparse-inference --preset test");
  expect(markdown).toContain("cpu (requested: ");
  expect(markdown).toMatch(/ORT intra-op threads \| 2/);
  // Dense batch-1 spread 10% over 20 runs: p90 / p50 - 1 of an even ramp.
  const lat = inferenceResult("dense", "dense", 1, 2, { spread: 0.1 }).latency!;
  expect(markdown).toContain(
    `Noise: the same estimator applied to the dense model against itself, 90th percentile of its deviation from 1: ${((100 * (lat.p90 - lat.p50)) / lat.p50).toFixed(1)}%.`,
  );
  expect(markdown).toContain("blocked layout of 16 channels");
  const none = await renderSparseInference(inferenceData(results(), { nchwcBlock: 0 }));
  expect(none.markdown).toContain("blocked layout of n/a channels");
  const noDense = await renderSparseInference(inferenceData(results().slice(1, 2)));
  expect(noDense.markdown).toContain("deviation from 1: n/a.");
});

test("the plot shows the measured models stored densely and not the dense one: one point per batch size each", async () => {
  const { svg } = await renderSparseInference(inferenceData(results()));
  // u6 and s4 (s9 failed; the sparse-initializer u6 and the dense model are not points), at batches 1, 64 and 128.
  const symbols = svg.split('class="mark-symbol role-mark layer_5_marks"')[1]?.split("</g>")[0] ?? "";
  expect(symbols.match(/<path/g)).toHaveLength(2 * 3);
  expect(svg).toContain(">structured x8<");
  expect(svg).not.toMatch(/>dense<\/text>/);
});

test("the profile section: op types by the dense model's time, speedups where the compact model has time, conv and other kernels split", async () => {
  const profile = (kernelMs: number, byOp: [string, number][]) => ({
    wallMs: kernelMs + 1,
    kernelMs,
    byOp: byOp.map(([op, ms]) => ({ op, ms, share: ms / kernelMs, nodes: 1 })),
    topNodes: [],
  });
  const d = inferenceData(results(), {
    profiles: [
      {
        model: "dense",
        batch: 64,
        profile: profile(10, [
          ["Relu", 1],
          ["Conv", 6],
          ["FusedConv", 2],
          ["Add", 1],
        ]),
      },
      {
        model: "s4",
        batch: 64,
        profile: profile(4, [
          ["Conv", 2],
          ["Reorder", 1],
          ["FusedConv", 0.5],
          ["Add", 0.5],
        ]),
      },
    ],
  });
  const { markdown } = await renderSparseInference(d);
  expect(markdown).toContain("## Where the time goes: dense vs s4");
  expect(tableRows(markdown, "op type")).toEqual([
    ["Conv", "6.00", "2.00", "3.00x"],
    ["FusedConv", "2.00", "0.50", "4.00x"],
    ["Relu", "1.00", "0.00", "-"],
    ["Add", "1.00", "0.50", "2.00x"],
    ["Reorder", "0.00", "1.00", "0.00x"],
    ["**all kernels**", "10.00", "4.00", "2.50x"],
  ]);
  // Convs 8 -> 2.5 ms; other kernels 2 -> 1.5 ms, 38% of the compact model's 4 ms.
  expect(markdown).toContain(
    "Convolutions: 8.00 -> 2.50 ms (3.20x; the MAC count predicts 4.00x for the whole model); everything else: 2.00 -> 1.50 ms, 38% of the compact model's kernel time.",
  );
  // One profile is no comparison: no section.
  const one = await renderSparseInference(inferenceData(results(), { profiles: d.profiles.slice(0, 1) }));
  expect(one.markdown).not.toContain("## Where the time goes");
  // A compact model not among the results: no MAC prediction.
  const other = await renderSparseInference(inferenceData(results(), { profiles: [d.profiles[0]!, { ...d.profiles[1]!, model: "elsewhere" }] }));
  expect(other.markdown).toContain("Convolutions: 8.00 -> 2.50 ms (3.20x); everything else");
});
