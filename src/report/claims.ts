/**
 * A paper claim as one small definition: its id, the claim and the paper's words, what
 * the harness measures to judge it, and its judge. Each experiment's claims are a
 * registry (an array of definitions); a new claim is one new entry, judged and rendered
 * like every other.
 */
import { table } from "./markdown.ts";
import type { Claim, Verdict } from "./verdict.ts";

/** What a judge decides from the measured input. */
export interface Judgement {
  measured: string;
  verdict: Verdict;
  reason: string;
  /** Overrides the definition's claim text when the input adds to it (e.g. the EP that ran). */
  claim?: string;
  /** Overrides the definition's paper text when the input adds to it (e.g. FLOP counts of the models measured). */
  paper?: string;
}

export interface ClaimDefinition<In> {
  /** Stable id, e.g. "fig2.lmc-barriers": reports and tests name a claim by it. */
  id: string;
  claim: string;
  /** What the paper reports, in its own numbers. */
  paper: string | ((input: In) => string);
  /** What the harness measures to judge it, and how (README, report). */
  measures: string;
  judge(input: In): Judgement;
}

/** Every claim of a registry judged on one input, in registry order. */
export function judgeClaims<In>(registry: readonly ClaimDefinition<In>[], input: In): Claim[] {
  return registry.map((d) => {
    const j = d.judge(input);
    return {
      id: d.id,
      claim: j.claim ?? d.claim,
      paper: j.paper ?? (typeof d.paper === "function" ? d.paper(input) : d.paper),
      measured: j.measured,
      verdict: j.verdict,
      reason: j.reason,
    };
  });
}

/** The claims table every report prints; `expected` names the column of what the paper (or theory) says. */
export function claimsTable(claims: Claim[], expected = "paper"): string {
  return table(
    ["claim", expected, "measured", "verdict", "reason"],
    claims.map((c) => [c.claim, c.paper, c.measured, `**${c.verdict}**`, c.reason]),
  );
}

/** Fails loudly at load time when two definitions share an id. */
export function registry<In>(defs: ClaimDefinition<In>[]): readonly ClaimDefinition<In>[] {
  const seen = new Set<string>();
  for (const d of defs) {
    if (seen.has(d.id)) throw new Error(`claim id ${d.id} is defined twice`);
    seen.add(d.id);
  }
  return defs;
}
