/**
 * How every claim in every report is judged: a measured value with its standard error
 * is compared with a threshold, and only a distance beyond `k` standard errors counts.
 * Within that band the answer is "within": the verdict it feeds is INCONCLUSIVE rather
 * than a coin flip decided by noise.
 */

export type Verdict = "REPRODUCED" | "NOT REPRODUCED" | "INCONCLUSIVE";

export interface Claim {
  /** The claim definition's id (src/report/claims.ts). */
  id: string;
  claim: string;
  paper: string;
  measured: string;
  verdict: Verdict;
  reason: string;
}

export type Side = "above" | "below" | "within";

/** Where `value` lies relative to `threshold` given its standard error (unknown = exact). */
export function side(value: number, se: number, threshold: number, k: number): Side {
  const margin = k * (Number.isFinite(se) ? se : 0);
  if (value - threshold > margin) return "above";
  if (threshold - value > margin) return "below";
  return "within";
}

// The sample statistics every judge uses, from the one place the metrics share them with.
export { mean, sd, stdErr } from "../util/stats.ts";

/** Standard error of a sum or difference of independent estimates. */
export const combined = (...ses: number[]) => Math.sqrt(ses.reduce((s, e) => s + e * e, 0));

export type Outcome = "supported" | "contradicted" | "unclear";

/**
 * A claim that must hold across several cases (densities, sparsities), each found
 * supported, contradicted or unclear: NOT REPRODUCED when contradictions are at least
 * as many as supports; REPRODUCED when none contradicts and most cases support it;
 * INCONCLUSIVE otherwise.
 */
export function tally(outcomes: Outcome[]): Verdict {
  const s = outcomes.filter((o) => o === "supported").length,
    c = outcomes.filter((o) => o === "contradicted").length;
  if (c > 0 && c >= s) return "NOT REPRODUCED";
  if (c === 0 && s > outcomes.length / 2) return "REPRODUCED";
  return "INCONCLUSIVE";
}
