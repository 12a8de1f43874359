import type { Fig2Config } from "../config/generated/fig2.ts";
import { judgeClaims, registry, type ClaimDefinition } from "./claims.ts";
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

/** What every Figure 2 judge reads: the cells, the options, and the grid's landmarks. */
export interface Fig2ClaimInput {
  cells: Fig2Cell[];
  o: Fig2ClaimOptions;
  /** verdicts.noiseMultiple. */
  k: number;
  densities: number[];
  lowest: number;
  coldest: number;
  hottest: number;
  /** Whether any cell has two or more retrained models, so a spread to judge differences by. */
  enoughSeeds: boolean;
  /** The cell at (temperature rank, density) with a measured error. */
  at(rank: number, density: number): Fig2Cell | undefined;
  /** Whether a cell lies in the corner of the grid where the paper puts LMC barriers (verdicts.barrierCorner). */
  inBarrierCorner(c: Fig2Cell): boolean;
}

export function fig2ClaimInput(cells: Fig2Cell[], o: Fig2ClaimOptions): Fig2ClaimInput {
  const densities = [...o.densities].sort((a, b) => a - b);
  const corner = o.verdicts.barrierCorner;
  const cornerDensities = densities.slice(0, Math.ceil(corner.densityShare * densities.length));
  // Temperature ranks run from 0 (hottest) to temperatures - 1 (coldest).
  const firstColdRank = o.temperatures - Math.ceil(corner.temperatureShare * o.temperatures);
  return {
    cells,
    o,
    k: o.verdicts.noiseMultiple,
    densities,
    lowest: densities[0]!,
    coldest: o.temperatures - 1,
    hottest: 0,
    enoughSeeds: cells.some((c) => c.seedErrors.length >= 2),
    at: (rank, d) => cells.find((c) => c.hotRank === rank && c.density === d && c.testError !== null),
    inBarrierCorner: (c) => cornerDensities.includes(c.density) && c.hotRank >= firstColdRank,
  };
}

const NO_SPREAD = "no seed spread to judge noise (need >= 2 retrain seeds)";
const noiseNote = (k: number) => `(noise: ${k} standard errors of the two cells compared, from their seeds)`;
const outcomeOf = (s: Side): Outcome => (s === "above" ? "supported" : s === "below" ? "contradicted" : "unclear");
const count = <T extends { outcome: Outcome }>(xs: T[], o: Outcome) => xs.filter((x) => x.outcome === o).length;

export const helpsClaim: ClaimDefinition<Fig2ClaimInput> = {
  id: "fig2.high-temperature-helps",
  claim: "High temperature helps at the lowest densities (regime I)",
  paper: "at 5-8% density, dense checkpoints from epochs 60-80 give 2-3 points lower error than epochs 120-160",
  measures: `at each density up to ${PAPER_FIG2.helpsUpTo} (or the lowest), the coldest model's test error minus the best hotter model's, against the two cells' standard errors`,
  judge(x) {
    const low = x.densities.filter((d) => d <= PAPER_FIG2.helpsUpTo);
    const judged = (low.length ? low : [x.lowest]).flatMap((d) => {
      const cold = x.at(x.coldest, d);
      const hotter = x.cells.filter((c) => c.density === d && c.hotRank !== x.coldest && c.testError !== null);
      if (!cold || !hotter.length) return [];
      const best = hotter.reduce((a, b) => (a.testError! < b.testError! ? a : b));
      const cmp = compare(cold, best, x.k);
      return [{ d, cold, best, ...cmp, outcome: outcomeOf(cmp.side) }];
    });
    if (!judged.length) return { measured: "missing cells", verdict: "INCONCLUSIVE", reason: "the grid lacks the needed cells" };
    const measured = judged
      .map(
        (j) =>
          `density ${pct(j.d)}: coldest ${pct(j.cold.testError!)}, best hotter (temperature ${j.best.temperature}) ${pct(j.best.testError!)}, difference ${pct(j.diff)} (s.e. ${pct(j.se)})`,
      )
      .join("; ");
    if (!x.enoughSeeds) return { measured, verdict: "INCONCLUSIVE", reason: NO_SPREAD };
    const verdict = tally(judged.map((j) => j.outcome));
    const of = `of ${judged.length} judged densities ${noiseNote(x.k)}`;
    const reason =
      verdict === "REPRODUCED"
        ? `a hotter dense model lowers the error beyond ${x.k} standard errors at ${count(judged, "supported")} ${of}`
        : verdict === "NOT REPRODUCED"
          ? `the coldest dense model is better than every hotter one beyond the noise at ${count(judged, "contradicted")} ${of}`
          : `the differences are within ${x.k} standard errors at ${count(judged, "unclear")} ${of}`;
    return { measured, verdict, reason };
  },
};

export const hurtsClaim: ClaimDefinition<Fig2ClaimInput> = {
  id: "fig2.high-temperature-hurts",
  claim: "High temperature hurts at higher densities (regime II): the hottest is worst",
  paper: "at 14% density and above, epochs 10-20 (the hottest) give the worst error",
  measures: `at each density from ${PAPER_FIG2.hurtsFrom}, the hottest model's test error against every colder one's: worse than the best beyond the noise, and better than none`,
  judge(x) {
    const judged = x.densities
      .filter((d) => d >= PAPER_FIG2.hurtsFrom)
      .flatMap((d) => {
        const hot = x.at(x.hottest, d);
        const colder = x.cells.filter((c) => c.density === d && c.hotRank !== x.hottest && c.testError !== null);
        if (!hot || !colder.length) return [];
        const best = colder.reduce((a, b) => (a.testError! < b.testError! ? a : b));
        const worst = colder.reduce((a, b) => (a.testError! > b.testError! ? a : b));
        // Worst within noise: clearly worse than the best colder model, clearly better than none.
        const vsBest = compare(hot, best, x.k),
          vsWorst = compare(hot, worst, x.k);
        const outcome: Outcome = colder.some((c) => compare(hot, c, x.k).side === "below") ? "contradicted" : vsBest.side === "above" ? "supported" : "unclear";
        return [{ d, vsBest, vsWorst, outcome }];
      });
    if (!judged.length) return { measured: "no density >= 14% in the grid", verdict: "INCONCLUSIVE", reason: "grid too small" };
    const n = (o: Outcome) => count(judged, o);
    const strictlyWorst = judged.filter((j) => j.vsWorst.diff > 0).length;
    const measured = `hottest is worst at ${strictlyWorst} of ${judged.length} densities >= 14% (worst within noise at ${n("supported")}, clearly better than a colder model at ${n("contradicted")}); excess over the best colder model ${judged.map((j) => `${pct(j.d)}: ${pct(j.vsBest.diff)} (s.e. ${pct(j.vsBest.se)})`).join(", ")}`;
    if (!x.enoughSeeds) return { measured, verdict: "INCONCLUSIVE", reason: NO_SPREAD };
    const verdict = tally(judged.map((j) => j.outcome));
    const of = `of ${judged.length} densities ${noiseNote(x.k)}`;
    const reason =
      verdict === "REPRODUCED"
        ? `the hottest dense model is worse than the best colder one beyond the noise, and better than none, at ${n("supported")} ${of}`
        : verdict === "NOT REPRODUCED"
          ? `the hottest dense model is better than a colder one beyond the noise at ${n("contradicted")} ${of}`
          : `at ${n("unclear")} of ${judged.length} densities the hottest model is not worse than the best colder one beyond the noise${n("contradicted") ? `, and at ${n("contradicted")} it is clearly better than a colder one` : ""} ${noiseNote(x.k)}`;
    return { measured, verdict, reason };
  },
};

export const lmcClaim: ClaimDefinition<Fig2ClaimInput> = {
  id: "fig2.lmc-barriers",
  claim: "LMC barriers appear only at low density and low temperature",
  paper: "LMC about 0 everywhere except epochs >= 90 at densities <= 10% (down to about -0.65)",
  measures:
    "every cell's mean LMC barrier against the regime-I threshold, beyond the noise: a clear barrier outside the corner of low densities and cold temperatures (verdicts.barrierCorner) contradicts the claim",
  judge(x) {
    const t = x.o.regimes.lmcBarrier;
    const measuredCells = x.cells.filter((c) => c.lmcBarrier !== null);
    if (!measuredCells.length) return { measured: "none", verdict: "INCONCLUSIVE", reason: "no LMC measured" };
    const sideOf = (c: Fig2Cell) => side(c.lmcBarrier!, seOr0(c.lmcStdErr), t, x.k);
    const barrier = measuredCells.filter((c) => sideOf(c) === "below"),
      unsure = measuredCells.filter((c) => sideOf(c) === "within");
    const outside = barrier.filter((c) => !x.inBarrierCorner(c)),
      inside = barrier.filter(x.inBarrierCorner);
    const unsureOutside = unsure.filter((c) => !x.inBarrierCorner(c)),
      unsureInside = unsure.filter(x.inBarrierCorner);
    const minB = Math.min(...measuredCells.map((c) => c.lmcBarrier!));
    const measured = `${barrier.length} of ${measuredCells.length} cells below ${t} beyond the noise (${inside.length} in the low-density, cold corner), ${unsure.length} within the noise of it; minimum barrier ${minB.toFixed(3)}`;
    const noise = `(noise: ${x.k} standard errors of each cell's mean barrier, ${x.o.pairNoise}; corner: the lowest ${pct(x.o.verdicts.barrierCorner.densityShare)} of densities and coldest ${pct(x.o.verdicts.barrierCorner.temperatureShare)} of temperatures)`;
    if (outside.length)
      return { measured, verdict: "NOT REPRODUCED", reason: `${outside.length} clear barrier(s) outside the low-density, cold corner ${noise}` };
    if (inside.length && !unsureOutside.length)
      return {
        measured,
        verdict: "REPRODUCED",
        reason: `every barrier lies at low density and low temperature, and every other cell is connected beyond the noise ${noise}`,
      };
    if (!inside.length && !unsureInside.length)
      return {
        measured,
        verdict: "NOT REPRODUCED",
        reason: `no cell of the low-density, cold corner has a barrier below the regime-I threshold ${t} ${noise}`,
      };
    return {
      measured,
      verdict: "INCONCLUSIVE",
      reason: `${unsure.length} barrier(s) within the noise of the threshold ${t}${inside.length ? "" : " and no clear barrier"} ${noise}`,
    };
  },
};

export const ckaRangeClaim: ClaimDefinition<Fig2ClaimInput> = {
  id: "fig2.cka-range",
  claim: "CKA between retrained models ranges about 0.88 to 0.99",
  paper: `${PAPER_FIG2.ckaLow}-${PAPER_FIG2.ckaHigh}`,
  measures: "the lowest and highest cell CKA, each against the paper's end within verdicts.ckaTolerance, beyond the noise",
  judge(x) {
    const v = x.cells.filter((c) => c.cka !== null);
    if (!v.length) return { measured: "none", verdict: "INCONCLUSIVE", reason: "no CKA measured" };
    const lo = v.reduce((a, b) => (a.cka! < b.cka! ? a : b)),
      hi = v.reduce((a, b) => (a.cka! > b.cka! ? a : b));
    const tol = x.o.verdicts.ckaTolerance;
    const ends = [
      { name: "low end", cell: lo, paper: PAPER_FIG2.ckaLow },
      { name: "high end", cell: hi, paper: PAPER_FIG2.ckaHigh },
    ].map((e) => ({ ...e, side: side(Math.abs(e.cell.cka! - e.paper), seOr0(e.cell.ckaStdErr), tol, x.k) }));
    const measured = `${lo.cka!.toFixed(3)} (s.e. ${seOr0(lo.ckaStdErr).toFixed(3)}) to ${hi.cka!.toFixed(3)} (s.e. ${seOr0(hi.ckaStdErr).toFixed(3)})`;
    const scale = x.o.dataset !== "cifar10" ? ` (this run used ${x.o.dataset}, not CIFAR-10)` : "";
    const rule = `each end must lie within ${tol} of the paper's, beyond ${x.k} standard errors (${x.o.pairNoise})`;
    const off = ends.filter((e) => e.side === "above");
    if (off.length)
      return {
        measured,
        verdict: "NOT REPRODUCED",
        reason: `${off.map((e) => `${e.name} ${e.cell.cka!.toFixed(3)} is ${Math.abs(e.cell.cka! - e.paper).toFixed(3)} from ${e.paper}`).join("; ")}: ${rule}${scale}`,
      };
    if (ends.every((e) => e.side === "below")) return { measured, verdict: "REPRODUCED", reason: `both ends match: ${rule}` };
    const within = ends.filter((e) => e.side === "within").map((e) => e.name);
    return { measured, verdict: "INCONCLUSIVE", reason: `${within.join(" and ")} within the noise of the tolerance: ${rule}` };
  },
};

const REGIMES = ["I", "II-A", "II-B"] as const;

export const regimesClaim: ClaimDefinition<Fig2ClaimInput> = {
  id: "fig2.three-regimes",
  claim: "All three regimes (I, II-A, II-B) appear in the grid",
  paper: "all three, with the boundaries drawn by hand",
  measures: "each cell's regime from its LMC barrier and CKA against the regime thresholds; a regime counts when a cell is in it beyond the noise",
  judge(x) {
    const r = x.o.regimes;
    const zero = () => ({ I: 0, "II-A": 0, "II-B": 0 });
    const counts = zero(),
      clear = zero(),
      possible = zero();
    for (const c of x.cells) {
      const sides = regimeSides(c, r, x.k);
      if (!sides) continue;
      counts[c.regime!]++;
      const sure = clearRegime(c, r, x.k);
      if (sure) clear[sure]++;
      if (sides.lmc !== "above") possible.I++;
      if (sides.lmc !== "below" && sides.cka !== "above") possible["II-A"]++;
      if (sides.lmc !== "below" && sides.cka !== "below") possible["II-B"]++;
    }
    const measured = `I: ${counts.I}, II-A: ${counts["II-A"]}, II-B: ${counts["II-B"]} cells (beyond the noise of the thresholds: ${REGIMES.map((n) => `${n} ${clear[n]}`).join(", ")}; thresholds: LMC < ${r.lmcBarrier}, CKA < ${r.cka})`;
    const impossible = REGIMES.filter((n) => possible[n] === 0);
    if (impossible.length)
      return { measured, verdict: "NOT REPRODUCED", reason: `no cell can be in regime ${impossible.join(", ")} under these thresholds, even within the noise` };
    if (REGIMES.every((n) => clear[n] > 0))
      return { measured, verdict: "REPRODUCED", reason: `every regime has a cell beyond ${x.k} standard errors of the thresholds` };
    return {
      measured,
      verdict: "INCONCLUSIVE",
      reason: `regime ${REGIMES.filter((n) => clear[n] === 0).join(", ")} has only cells within the noise of a threshold`,
    };
  },
};

export const errorRangeClaim: ClaimDefinition<Fig2ClaimInput> = {
  id: "fig2.error-range",
  claim: "Test error range",
  paper: `about ${PAPER_FIG2.errorAt80} at 80% density to about ${PAPER_FIG2.errorAt5} at 5% density (late epochs), CIFAR-10`,
  measures:
    "the best test error at the highest density and the coldest model's at the lowest, each within verdicts.errorRangeTolerance of the paper's; only at the paper's scale",
  judge(x) {
    const highest = x.densities.at(-1)!;
    const hi = x.cells.filter((c) => c.density === highest && c.testError !== null).map((c) => c.testError!);
    const lo = x.at(x.coldest, x.lowest)?.testError;
    const measured =
      hi.length && lo != null ? `best ${pct(Math.min(...hi))} at ${pct(highest)} density; ${pct(lo)} at ${pct(x.lowest)} density, coldest` : "missing cells";
    if (!x.o.comparableScale)
      return {
        measured,
        verdict: "INCONCLUSIVE",
        reason: `error levels are only comparable on the full protocol (CIFAR-10, PreResNet-20 width 16, 160 epochs); this run used ${x.o.dataset} and a scaled-down preset`,
      };
    if (!hi.length || lo == null) return { measured, verdict: "INCONCLUSIVE", reason: "missing cells" };
    const tol = x.o.verdicts.errorRangeTolerance;
    const ok = Math.abs(Math.min(...hi) - PAPER_FIG2.errorAt80) <= tol.highDensity && Math.abs(lo - PAPER_FIG2.errorAt5) <= tol.lowDensity;
    const rule = `${(100 * tol.highDensity).toFixed(1)} points (highest density) and ${(100 * tol.lowDensity).toFixed(1)} points (lowest) of the paper`;
    return { measured, verdict: ok ? "REPRODUCED" : "NOT REPRODUCED", reason: ok ? `within ${rule}` : `outside ${rule}` };
  },
};

/** The paper's Figure 2 claims (shared/spec/papers.md). */
export const FIG2_CLAIMS = registry([helpsClaim, hurtsClaim, lmcClaim, ckaRangeClaim, regimesClaim, errorRangeClaim]);

/**
 * Every Figure 2 claim judged from the measured cells alone. A difference of test errors
 * is judged against the standard errors of the two cells compared (from their seeds),
 * never a noise level pooled over the grid: noise differs a lot between densities. LMC
 * and CKA values are judged against each cell's own standard error, and a value within
 * `noiseMultiple` standard errors of a threshold gives INCONCLUSIVE.
 */
export function fig2Claims(cells: Fig2Cell[], o: Fig2ClaimOptions): Claim[] {
  return judgeClaims(FIG2_CLAIMS, fig2ClaimInput(cells, o));
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
