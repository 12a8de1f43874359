import type { Fig2Config } from "../config/generated/fig2.ts";
import { combined, side, stdErr, tally, type Claim, type Outcome, type Side } from "./verdict.ts";

/** LMC and CKA of one pair of a cell's retrained models (same dense seed, two retrain seeds). */
export interface Fig2Pair {
  denseSeed: number;
  retrainSeeds: [number, number];
  lmcBarrier: number;
  /** From the binomial error of the path's error rates. */
  lmcStdErr: number | null;
  cka: number;
  /** Bootstrap over the compared images. */
  ckaStdErr: number | null;
}

export interface Fig2Cell {
  temperature: number;
  /** 0 = hottest (fewest epochs, smallest batch, largest SAM rho). */
  hotRank: number;
  density: number;
  /** Mean over every retrained model (each dense seed's retrain seeds) of its mean test error over the averaging window. */
  testError: number | null;
  /** Each retrained model's, dense seed by dense seed. */
  seedErrors: number[];
  /** Per dense seed: the mean over its retrain seeds. */
  denseSeedErrors: { seed: number; error: number | null }[];
  /** Standard error of testError: the spread of the dense seeds' means with two or more, else of the retrain seeds. */
  testErrorStdErr: number | null;
  /** Every pair of retrain seeds under every dense seed. */
  pairs: Fig2Pair[];
  /** Mean over the pairs (each dense seed weighted equally). */
  lmcBarrier: number | null;
  /** Standard error of that mean (src/metrics/pair-average.ts); null when unknown. */
  lmcStdErr: number | null;
  cka: number | null;
  ckaStdErr: number | null;
  /** What the LMC barrier's standard error comes from: dense seeds, a jackknife over retrain seeds, or the pairs' measurement error (CKA's is found the same way, and may differ where its floor decides). */
  errorFrom: "groups" | "jackknife" | "measurement" | null;
  regime: "I" | "II-A" | "II-B" | null;
}

/** What Figure 2 shows, read off the paper (shared/spec/papers.md). */
export const PAPER_FIG2 = {
  ckaLow: 0.88,
  ckaHigh: 0.99,
  errorAt80: 0.076,
  errorAt5: 0.175,
  /** Densities at which the paper says higher temperature helps (5-8%) and hurts (>= 14%). */
  helpsUpTo: 0.08,
  hurtsFrom: 0.14,
} as const;

export function regimeOf(lmcBarrier: number | null, cka: number | null, t: Fig2Config["regimes"]): Fig2Cell["regime"] {
  if (lmcBarrier === null || cka === null) return null;
  if (lmcBarrier < t.lmcBarrier) return "I";
  return cka < t.cka ? "II-A" : "II-B";
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const cellSe = (c: Fig2Cell) => c.testErrorStdErr ?? stdErr(c.seedErrors);
const seOr0 = (se: number | null) => se ?? 0;

/**
 * Where a cell's LMC barrier and CKA lie relative to the regime thresholds, each judged
 * against `k` of its own standard errors; null when either is unmeasured.
 */
export function regimeSides(c: Fig2Cell, t: Fig2Config["regimes"], k: number): { lmc: Side; cka: Side } | null {
  if (c.lmcBarrier === null || c.cka === null) return null;
  return { lmc: side(c.lmcBarrier, seOr0(c.lmcStdErr), t.lmcBarrier, k), cka: side(c.cka, seOr0(c.ckaStdErr), t.cka, k) };
}

/**
 * The regime a cell is in beyond the noise of the thresholds (the rule of `regimeOf`, with
 * every comparison it makes clear by `k` standard errors); null when a value it depends on
 * is within the noise of its threshold, or unmeasured.
 */
export function clearRegime(c: Fig2Cell, t: Fig2Config["regimes"], k: number): Fig2Cell["regime"] {
  const s = regimeSides(c, t, k);
  if (!s) return null;
  if (s.lmc === "below") return "I";
  if (s.lmc !== "above" || s.cka === "within") return null;
  return s.cka === "below" ? "II-A" : "II-B";
}

/** The one pair comparison both temperature claims are made of: a - b against the two cells' own noise. */
function compare(a: Fig2Cell, b: Fig2Cell, k: number): { diff: number; se: number; side: Side } {
  const diff = a.testError! - b.testError!,
    se = combined(cellSe(a), cellSe(b));
  return { diff, se, side: side(diff, se, 0, k) };
}

export interface Fig2ClaimOptions {
  densities: number[];
  temperatures: number;
  regimes: Fig2Config["regimes"];
  verdicts: Fig2Config["verdicts"];
  dataset: string;
  comparableScale: boolean;
  /** Where the LMC and CKA standard errors come from, in words (the cells' errorFrom). */
  pairNoise: string;
}

/**
 * The paper's Figure 2 claims (shared/spec/papers.md), each judged from the measured
 * cells alone. A difference of test errors is judged against the standard errors of the
 * two cells compared (from their retrain seeds), never a noise level pooled over the
 * grid: noise differs a lot between densities. LMC and CKA values are judged against
 * their own measurement errors (binomial path errors, bootstrap over images), and a
 * value within `noiseMultiple` standard errors of a threshold gives INCONCLUSIVE.
 */
export function fig2Claims(cells: Fig2Cell[], o: Fig2ClaimOptions): Claim[] {
  const k = o.verdicts.noiseMultiple;
  const at = (rank: number, d: number) => cells.find((c) => c.hotRank === rank && c.density === d && c.testError !== null);
  const sortedD = [...o.densities].sort((a, b) => a - b);
  const lowest = sortedD[0]!;
  const coldest = o.temperatures - 1;
  const hottest = 0;
  const enoughSeeds = cells.some((c) => c.seedErrors.length >= 2);
  const noiseNote = `(noise: ${k} standard errors of the two cells compared, from their seeds)`;
  return [helps(), hurts(), lmc(), ckaRange(), regimesPresent(), errorRange()];

  // 1. High temperature helps at the lowest densities.
  function helps(): Claim {
    const claim = "High temperature helps at the lowest densities (regime I)";
    const paper = "at 5-8% density, dense checkpoints from epochs 60-80 give 2-3 points lower error than epochs 120-160";
    const low = sortedD.filter((d) => d <= PAPER_FIG2.helpsUpTo);
    const judged = (low.length ? low : [lowest]).flatMap((d) => {
      const cold = at(coldest, d);
      const hotter = cells.filter((c) => c.density === d && c.hotRank !== coldest && c.testError !== null);
      if (!cold || !hotter.length) return [];
      const best = hotter.reduce((a, b) => (a.testError! < b.testError! ? a : b));
      return [{ d, cold, best, ...compare(cold, best, k) }];
    });
    if (!judged.length) return { claim, paper, measured: "missing cells", verdict: "INCONCLUSIVE", reason: "the grid lacks the needed cells" };
    const measured = judged
      .map(
        (j) =>
          `density ${pct(j.d)}: coldest ${pct(j.cold.testError!)}, best hotter (temperature ${j.best.temperature}) ${pct(j.best.testError!)}, difference ${pct(j.diff)} (s.e. ${pct(j.se)})`,
      )
      .join("; ");
    if (!enoughSeeds) return { claim, paper, measured, verdict: "INCONCLUSIVE", reason: "no seed spread to judge noise (need >= 2 retrain seeds)" };
    const outcomes = judged.map((j): Outcome => (j.side === "above" ? "supported" : j.side === "below" ? "contradicted" : "unclear"));
    const verdict = tally(outcomes);
    const reason =
      verdict === "REPRODUCED"
        ? `a hotter dense model lowers the error beyond ${k} standard errors at ${outcomes.filter((x) => x === "supported").length} of ${judged.length} judged densities ${noiseNote}`
        : verdict === "NOT REPRODUCED"
          ? `the coldest dense model is better than every hotter one beyond the noise at ${outcomes.filter((x) => x === "contradicted").length} of ${judged.length} judged densities ${noiseNote}`
          : `the differences are within ${k} standard errors at ${outcomes.filter((x) => x === "unclear").length} of ${judged.length} judged densities ${noiseNote}`;
    return { claim, paper, measured, verdict, reason };
  }

  // 2. The hottest dense model gives the worst error at higher densities.
  function hurts(): Claim {
    const claim = "High temperature hurts at higher densities (regime II): the hottest is worst";
    const paper = "at 14% density and above, epochs 10-20 (the hottest) give the worst error";
    const judged = sortedD
      .filter((d) => d >= PAPER_FIG2.hurtsFrom)
      .flatMap((d) => {
        const hot = at(hottest, d);
        const colder = cells.filter((c) => c.density === d && c.hotRank !== hottest && c.testError !== null);
        if (!hot || !colder.length) return [];
        const best = colder.reduce((a, b) => (a.testError! < b.testError! ? a : b));
        const worst = colder.reduce((a, b) => (a.testError! > b.testError! ? a : b));
        // Worst within noise: clearly worse than the best colder model, clearly better than none.
        const vsBest = compare(hot, best, k),
          vsWorst = compare(hot, worst, k);
        const outcome: Outcome = colder.some((c) => compare(hot, c, k).side === "below") ? "contradicted" : vsBest.side === "above" ? "supported" : "unclear";
        return [{ d, hot, vsBest, vsWorst, outcome }];
      });
    if (!judged.length) return { claim, paper, measured: "no density >= 14% in the grid", verdict: "INCONCLUSIVE", reason: "grid too small" };
    const n = (o: string) => judged.filter((j) => j.outcome === o).length;
    const strictlyWorst = judged.filter((j) => j.vsWorst.diff > 0).length;
    const measured = `hottest is worst at ${strictlyWorst} of ${judged.length} densities >= 14% (worst within noise at ${n("supported")}, clearly better than a colder model at ${n("contradicted")}); excess over the best colder model ${judged.map((j) => `${pct(j.d)}: ${pct(j.vsBest.diff)} (s.e. ${pct(j.vsBest.se)})`).join(", ")}`;
    if (!enoughSeeds) return { claim, paper, measured, verdict: "INCONCLUSIVE", reason: "no seed spread to judge noise (need >= 2 retrain seeds)" };
    const verdict = tally(judged.map((j) => j.outcome));
    const reason =
      verdict === "REPRODUCED"
        ? `the hottest dense model is worse than the best colder one beyond the noise, and better than none, at ${n("supported")} of ${judged.length} densities ${noiseNote}`
        : verdict === "NOT REPRODUCED"
          ? `the hottest dense model is better than a colder one beyond the noise at ${n("contradicted")} of ${judged.length} densities ${noiseNote}`
          : `at ${n("unclear")} of ${judged.length} densities the hottest model is not worse than the best colder one beyond the noise${n("contradicted") ? `, and at ${n("contradicted")} it is clearly better than a colder one` : ""} ${noiseNote}`;
    return { claim, paper, measured, verdict, reason };
  }

  // 3. LMC barriers only at low density and low temperature.
  function lmc(): Claim {
    const claim = "LMC barriers appear only at low density and low temperature";
    const paper = "LMC about 0 everywhere except epochs >= 90 at densities <= 10% (down to about -0.65)";
    const t = o.regimes.lmcBarrier;
    const measuredCells = cells.filter((c) => c.lmcBarrier !== null);
    if (!measuredCells.length) return { claim, paper, measured: "none", verdict: "INCONCLUSIVE", reason: "no LMC measured" };
    const lowD = sortedD.slice(0, Math.ceil(sortedD.length / 2));
    const inCorner = (c: Fig2Cell) => lowD.includes(c.density) && c.hotRank >= Math.floor(o.temperatures / 2);
    const sideOf = (c: Fig2Cell) => side(c.lmcBarrier!, seOr0(c.lmcStdErr), t, k);
    const barrier = measuredCells.filter((c) => sideOf(c) === "below"),
      unsure = measuredCells.filter((c) => sideOf(c) === "within");
    const outside = barrier.filter((c) => !inCorner(c)),
      inside = barrier.filter(inCorner);
    const unsureOutside = unsure.filter((c) => !inCorner(c)),
      unsureInside = unsure.filter(inCorner);
    const minB = Math.min(...measuredCells.map((c) => c.lmcBarrier!));
    const measured = `${barrier.length} of ${measuredCells.length} cells below ${t} beyond the noise (${inside.length} in the low-density, cold quadrant), ${unsure.length} within the noise of it; minimum barrier ${minB.toFixed(3)}`;
    const noise = `(noise: ${k} standard errors of each cell's mean barrier, ${o.pairNoise})`;
    if (outside.length)
      return {
        claim,
        paper,
        measured,
        verdict: "NOT REPRODUCED",
        reason: `${outside.length} clear barrier(s) outside the low-density, cold quadrant ${noise}`,
      };
    if (inside.length && !unsureOutside.length)
      return {
        claim,
        paper,
        measured,
        verdict: "REPRODUCED",
        reason: `every barrier lies at low density and low temperature, and every other cell is connected beyond the noise ${noise}`,
      };
    if (!inside.length && !unsureInside.length)
      return {
        claim,
        paper,
        measured,
        verdict: "NOT REPRODUCED",
        reason: `no cell of the low-density, cold quadrant has a barrier below the regime-I threshold ${t} ${noise}`,
      };
    return {
      claim,
      paper,
      measured,
      verdict: "INCONCLUSIVE",
      reason: `${unsure.length} barrier(s) within the noise of the threshold ${t}${inside.length ? "" : " and no clear barrier"} ${noise}`,
    };
  }

  // 4. The CKA range, both ends.
  function ckaRange(): Claim {
    const claim = "CKA between retrained models ranges about 0.88 to 0.99";
    const paper = `${PAPER_FIG2.ckaLow}-${PAPER_FIG2.ckaHigh}`;
    const v = cells.filter((c) => c.cka !== null);
    if (!v.length) return { claim, paper, measured: "none", verdict: "INCONCLUSIVE", reason: "no CKA measured" };
    const lo = v.reduce((a, b) => (a.cka! < b.cka! ? a : b)),
      hi = v.reduce((a, b) => (a.cka! > b.cka! ? a : b));
    const tol = o.verdicts.ckaTolerance;
    const ends = [
      { name: "low end", cell: lo, paper: PAPER_FIG2.ckaLow },
      { name: "high end", cell: hi, paper: PAPER_FIG2.ckaHigh },
    ].map((e) => ({ ...e, side: side(Math.abs(e.cell.cka! - e.paper), seOr0(e.cell.ckaStdErr), tol, k) }));
    const measured = `${lo.cka!.toFixed(3)} (s.e. ${seOr0(lo.ckaStdErr).toFixed(3)}) to ${hi.cka!.toFixed(3)} (s.e. ${seOr0(hi.ckaStdErr).toFixed(3)})`;
    const scale = o.dataset !== "cifar10" ? ` (this run used ${o.dataset}, not CIFAR-10)` : "";
    const rule = `each end must lie within ${tol} of the paper's, beyond ${k} standard errors (${o.pairNoise})`;
    const off = ends.filter((e) => e.side === "above");
    if (off.length)
      return {
        claim,
        paper,
        measured,
        verdict: "NOT REPRODUCED",
        reason: `${off.map((e) => `${e.name} ${e.cell.cka!.toFixed(3)} is ${Math.abs(e.cell.cka! - e.paper).toFixed(3)} from ${e.paper}`).join("; ")}: ${rule}${scale}`,
      };
    if (ends.every((e) => e.side === "below")) return { claim, paper, measured, verdict: "REPRODUCED", reason: `both ends match: ${rule}` };
    return {
      claim,
      paper,
      measured,
      verdict: "INCONCLUSIVE",
      reason: `${ends
        .filter((e) => e.side === "within")
        .map((e) => e.name)
        .join(" and ")} within the noise of the tolerance: ${rule}`,
    };
  }

  // 5. All three regimes present.
  function regimesPresent(): Claim {
    const r = o.regimes;
    const counts = { I: 0, "II-A": 0, "II-B": 0 },
      clear = { I: 0, "II-A": 0, "II-B": 0 },
      possible = { I: 0, "II-A": 0, "II-B": 0 };
    for (const c of cells) {
      const sides = regimeSides(c, r, k);
      if (!sides) continue;
      counts[c.regime!]++;
      const { lmc: l, cka: s } = sides,
        sure = clearRegime(c, r, k);
      if (sure) clear[sure]++;
      if (l !== "above") possible.I++;
      if (l !== "below" && s !== "above") possible["II-A"]++;
      if (l !== "below" && s !== "below") possible["II-B"]++;
    }
    const names = ["I", "II-A", "II-B"] as const;
    const measured = `I: ${counts.I}, II-A: ${counts["II-A"]}, II-B: ${counts["II-B"]} cells (beyond the noise of the thresholds: ${names.map((n) => `${n} ${clear[n]}`).join(", ")}; thresholds: LMC < ${r.lmcBarrier}, CKA < ${r.cka})`;
    const claim = "All three regimes (I, II-A, II-B) appear in the grid";
    const paper = "all three, with the boundaries drawn by hand";
    const impossible = names.filter((n) => possible[n] === 0);
    if (impossible.length)
      return {
        claim,
        paper,
        measured,
        verdict: "NOT REPRODUCED",
        reason: `no cell can be in regime ${impossible.join(", ")} under these thresholds, even within the noise`,
      };
    if (names.every((n) => clear[n] > 0))
      return { claim, paper, measured, verdict: "REPRODUCED", reason: `every regime has a cell beyond ${k} standard errors of the thresholds` };
    return {
      claim,
      paper,
      measured,
      verdict: "INCONCLUSIVE",
      reason: `regime ${names.filter((n) => clear[n] === 0).join(", ")} has only cells within the noise of a threshold`,
    };
  }

  // 6. Error range.
  function errorRange(): Claim {
    const claim = "Test error range";
    const paper = `about ${PAPER_FIG2.errorAt80} at 80% density to about ${PAPER_FIG2.errorAt5} at 5% density (late epochs), CIFAR-10`;
    const highest = sortedD.at(-1)!;
    const hi = cells.filter((c) => c.density === highest && c.testError !== null).map((c) => c.testError!);
    const lo = at(coldest, lowest)?.testError;
    const measured =
      hi.length && lo != null ? `best ${pct(Math.min(...hi))} at ${pct(highest)} density; ${pct(lo)} at ${pct(lowest)} density, coldest` : "missing cells";
    if (!o.comparableScale)
      return {
        claim,
        paper,
        measured,
        verdict: "INCONCLUSIVE",
        reason: `error levels are only comparable on the full protocol (CIFAR-10, PreResNet-20 width 16, 160 epochs); this run used ${o.dataset} and a scaled-down preset`,
      };
    if (!hi.length || lo == null) return { claim, paper, measured, verdict: "INCONCLUSIVE", reason: "missing cells" };
    const ok = Math.abs(Math.min(...hi) - PAPER_FIG2.errorAt80) <= 0.02 && Math.abs(lo - PAPER_FIG2.errorAt5) <= 0.03;
    return {
      claim,
      paper,
      measured,
      verdict: ok ? "REPRODUCED" : "NOT REPRODUCED",
      reason: ok ? "within 2 points (80%) and 3 points (5%) of the paper" : "outside 2 points (80%) or 3 points (5%) of the paper",
    };
  }
}

/** Where the cells' LMC and CKA standard errors come from, in words for the report and the claims. */
export function pairNoiseText(cells: Fig2Cell[]): string {
  const from = new Set(cells.map((c) => c.errorFrom).filter((f) => f !== null));
  const words = {
    groups: "the spread of the dense seeds' means",
    jackknife: "a jackknife over the retrain seeds of every pair",
    measurement: "each pair's measurement error (binomial path errors; bootstrap over the CKA images)",
  } as const;
  const parts = (["groups", "jackknife", "measurement"] as const).filter((f) => from.has(f)).map((f) => words[f]);
  const floor = from.has("groups") || from.has("jackknife") ? ", never below the pairs' own measurement error" : "";
  return parts.length ? `from ${parts.join(" or ")}${floor}` : "unmeasured";
}
