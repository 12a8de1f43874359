import { Bench } from "tinybench";
import type * as ort from "onnxruntime-node";

export interface TimingSettings {
  warmupMs: number;
  minTimeMs: number;
  minIterations: number;
  outlierMads: number;
}

/** Per-run wall time of one session.run at a fixed batch, in ms. */
export interface RunTiming {
  batch: number;
  samples: number;
  p50: number;
  p90: number;
  p99: number;
  /** Mean after dropping samples more than `outlierMads` MADs above the median. */
  trimmedMean: number;
  outliers: number;
  imagesPerSecond: number;
  /** Median of each round's samples (rounds interleave all models, so drift shows here). */
  roundP50s: number[];
}

export const quantile = (sorted: number[], q: number) => {
  const pos = (sorted.length - 1) * q,
    lo = Math.floor(pos),
    hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
};

/** Summary statistics of latency samples (ms) at one batch size, pooled over rounds. */
export function summarise(rounds: number[][], batch: number, outlierMads: number): RunTiming {
  const s = rounds.flat().sort((a, b) => a - b);
  const med = quantile(s, 0.5);
  const mad = quantile(
    [...s.map((x) => Math.abs(x - med))].sort((a, b) => a - b),
    0.5,
  );
  const kept = s.filter((x) => x <= med + outlierMads * Math.max(mad, 1e-9));
  return {
    batch,
    samples: s.length,
    p50: med,
    p90: quantile(s, 0.9),
    p99: quantile(s, 0.99),
    trimmedMean: kept.reduce((a, b) => a + b, 0) / kept.length,
    outliers: s.length - kept.length,
    imagesPerSecond: (batch / med) * 1000,
    roundP50s: rounds.map((r) =>
      quantile(
        [...r].sort((a, b) => a - b),
        0.5,
      ),
    ),
  };
}

/**
 * Times session.run on one input with tinybench: a warm-up budget, then at least
 * `minIterations` runs and `minTimeMs` of timed runs; every sample is kept.
 */
export async function timeSession(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, t: TimingSettings): Promise<number[]> {
  const bench = new Bench({ warmupTime: t.warmupMs, warmupIterations: 1, time: t.minTimeMs, iterations: t.minIterations, retainSamples: true });
  bench.add("run", async () => {
    await session.run(feeds);
  });
  await bench.run();
  const r = bench.tasks[0]!.result;
  if (r.state === "errored") throw r.error;
  const samples = "latency" in r ? r.latency.samples : undefined;
  if (!samples?.length) throw new Error(`tinybench returned no samples (task state ${r.state})`);
  return [...samples];
}
