import type { MethodPoint } from "./bip-claims.ts";
import type { Fig2Cell } from "./fig2-claims.ts";
import type { InferenceResult } from "./sparse-inference-report.ts";
import type { BenchRecord } from "./train-throughput-report.ts";

/**
 * Tables as CSV (RFC 4180) for pandas, R or a spreadsheet: a header row, then one line
 * per record. Missing values are empty; lists are joined with ";" (one cell, e.g. the
 * per-seed accuracies); other objects are written as JSON.
 */
export function toCsv(rows: Record<string, unknown>[], columns: string[] = [...new Set(rows.flatMap((r) => Object.keys(r)))]): string {
  const cell = (v: unknown): string => {
    const text =
      v === null || v === undefined
        ? ""
        : Array.isArray(v)
          ? v.map((x) => (typeof x === "object" && x !== null ? JSON.stringify(x) : String(x))).join(";")
          : typeof v === "object"
            ? JSON.stringify(v)
            : String(v);
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  return [columns.map(cell).join(","), ...rows.map((r) => columns.map((c) => cell(r[c])).join(","))].join("\n") + "\n";
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/**
 * fig2-cells.csv: one row per phase-diagram cell; per-model, per-dense-seed and per-pair
 * values as ;-lists in matching order (pairLabels names each pair: dense seed, then the
 * two retrain seeds, e.g. d1:1-2).
 */
export function fig2CellsCsv(cells: Fig2Cell[]): string {
  return toCsv(
    cells.map((c) => ({
      ...c,
      denseSeeds: c.denseSeedErrors.map((d) => d.seed),
      denseSeedErrors: c.denseSeedErrors.map((d) => d.error ?? ""),
      pairLabels: c.pairs.map((p) => `d${p.denseSeed}:${p.retrainSeeds.join("-")}`),
      pairLmcBarriers: c.pairs.map((p) => p.lmcBarrier),
      pairLmcStdErrs: c.pairs.map((p) => p.lmcStdErr ?? ""),
      pairCkas: c.pairs.map((p) => p.cka),
      pairCkaStdErrs: c.pairs.map((p) => p.ckaStdErr ?? ""),
    })),
    [
      "temperature",
      "hotRank",
      "density",
      "testError",
      "testErrorStdErr",
      "seedErrors",
      "denseSeeds",
      "denseSeedErrors",
      "lmcBarrier",
      "lmcStdErr",
      "cka",
      "ckaStdErr",
      "errorFrom",
      "regime",
      "pairLabels",
      "pairLmcBarriers",
      "pairLmcStdErrs",
      "pairCkas",
      "pairCkaStdErrs",
    ],
  );
}

/** bip-vs-imp.csv: one row per method and target sparsity (per-seed values as ;-lists). */
export function bipPointsCsv(points: MethodPoint[]): string {
  return toCsv(
    points.map((p) => ({
      method: p.method,
      target: p.target,
      sparsity: p.sparsity,
      seeds: p.accuracies.length,
      accuracyMean: mean(p.accuracies),
      accuracies: p.accuracies,
      accuracyRunningBnMean: p.accuraciesRunningBn ? mean(p.accuraciesRunningBn) : null,
      accuraciesRunningBn: p.accuraciesRunningBn ?? null,
      secondsMean: mean(p.seconds),
      seconds: p.seconds,
    })),
  );
}

/** sparse-inference.csv: one row per model file, storage and batch size (the latency batch first). */
export function inferenceCsv(results: InferenceResult[]): string {
  return toCsv(
    results.flatMap((r) => {
      const base = {
        model: r.model,
        kind: r.kind,
        storage: r.storage,
        nominalDensity: r.nominalDensity,
        channelMultiple: r.channelMultiple ?? 1,
        convWeightDensity: r.convWeightDensity,
        theoreticalSpeedup: r.theoreticalSpeedup,
        paddedSpeedup: r.paddedSpeedup ?? null,
        testAccuracy: r.testAccuracy,
        bytes: r.bytes,
        status: r.status,
        reason: r.reason ?? null,
      };
      const timings = [...(r.latency ? [r.latency] : []), ...(r.throughput ?? [])];
      if (!timings.length) return [base];
      return timings.map((t, i) => ({
        ...base,
        measure: i === 0 && r.latency ? "latency" : "throughput",
        batch: t.batch,
        samples: t.samples,
        p50Ms: t.p50,
        p90Ms: t.p90,
        p99Ms: t.p99,
        trimmedMeanMs: t.trimmedMean,
        imagesPerSecond: t.imagesPerSecond,
        pairedSpeedup: r.pairedSpeedup?.find((p) => p.batch === t.batch)?.median ?? null,
      }));
    }),
  );
}

/** train-throughput.csv: one row per timed engine, raw PyTorch device and grid row. */
export function throughputCsv(r: Pick<BenchRecord, "throughput" | "torch" | "grid">): string {
  return toCsv([
    ...r.throughput.map((m) => ({ source: "engine", ...m })),
    ...r.torch.map((m) => ({ source: "raw-pytorch", ...m })),
    ...r.grid.map((m) => ({ source: "grid", ...m })),
  ]);
}
