/**
 * What the kernel microbenchmarks (bench:conv-grad, bench:strided-grad) share: a CPU
 * session per formulation, the check of its output against the reference formulation
 * before it is timed, the per-variant timing line, and the exit when one disagrees.
 */
import * as ort from "onnxruntime-node";

/** A CPU EP session with the harness's settings: all graph optimizations, one inter-op thread. */
export function cpuSession(model: Uint8Array, threads: number): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model, { executionProviders: ["cpu"], intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: "all" });
}

/** Largest |out - ref| / max(1, |ref|). */
export function maxRelDiff(out: Float32Array, ref: Float32Array): number {
  let maxd = 0;
  for (let i = 0; i < out.length; i++) maxd = Math.max(maxd, Math.abs(out[i]! - ref[i]!) / Math.max(1, Math.abs(ref[i]!)));
  return maxd;
}

export interface Check {
  verdict: string;
  fails: boolean;
}

/** A formulation's output against the reference's: its max relative difference, failing beyond `tolerance` (or on another size). */
export function checkAgainst(out: Float32Array, ref: Float32Array, tolerance: number): Check {
  if (out.length !== ref.length) return { verdict: `${out.length} values, the reference has ${ref.length}`, fails: true };
  const d = maxRelDiff(out, ref);
  return { verdict: `max rel diff ${d.toExponential(1)}`, fails: !(d <= tolerance) };
}

/** One variant's line: median and min per call from mitata's samples (ns), and its check. */
export function timingLine(name: string, width: number, stats: { p50: number; min: number }, check: Check): string {
  const ms = (ns: number) => (ns / 1e6).toFixed(3).padStart(8);
  return `${name.padEnd(width)}  median ${ms(stats.p50)} ms  min ${ms(stats.min)} ms  ${check.verdict}`;
}

/** Exits 1 after the table when any variant disagreed with its reference. */
export function exitIfDisagree(bad: string[], tolerance: number, noun: string): void {
  if (!bad.length) return;
  console.error(`\n${bad.length} ${noun}(s) disagree with the reference beyond --tolerance ${tolerance}:\n  ${bad.join("\n  ")}`);
  process.exit(1);
}
