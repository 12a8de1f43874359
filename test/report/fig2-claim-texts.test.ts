/**
 * What each Figure 2 judge says besides its verdict: the measured line and the reason,
 * with the numbers they carry, worked by hand on small grids; and the edge cases (missing
 * cells, ties, the lowest density when none is at or below 8%).
 */
import { expect, test } from "bun:test";
import type { Fig2Config } from "../../src/config/generated/fig2.ts";
import { validateConfig } from "../../src/config/load.ts";
import {
  ckaRangeClaim,
  clearRegime,
  errorRangeClaim,
  fig2ClaimInput,
  helpsClaim,
  hurtsClaim,
  lmcClaim,
  pairNoiseText,
  regimeSides,
  regimesClaim,
  regimeOf,
  type Fig2Cell,
} from "../../src/report/fig2-claims.ts";

const fig2 = validateConfig<Fig2Config>("fig2", {});

/** A cell with two seeds 0.002 apart (s.e. of the mean 0.001), LMC 0 +- 0.005 and CKA 0.97 +- 0.002 unless given. */
function cell(hotRank: number, density: number, o: Partial<Fig2Cell> = {}): Fig2Cell {
  const error = o.testError === undefined ? 0.1 : o.testError;
  const lmc = o.lmcBarrier === undefined ? 0 : o.lmcBarrier,
    cka = o.cka === undefined ? 0.97 : o.cka;
  return {
    temperature: [10, 20, 30][hotRank]!,
    hotRank,
    density,
    testError: error,
    seedErrors: error === null ? [] : [error - 0.001, error + 0.001],
    denseSeedErrors: [{ seed: 1, error }],
    testErrorStdErr: null,
    pairs: [],
    errorFrom: "measurement",
    lmcStdErr: 0.005,
    ckaStdErr: 0.002,
    ...o,
    lmcBarrier: lmc,
    cka,
    regime: regimeOf(lmc, cka, fig2.regimes),
  };
}

const DENSITIES = [0.05, 0.2, 0.8];
/** 3 temperatures (rank 0 hottest, 2 coldest) x 3 densities; `f` overrides a cell's fields. */
const grid = (f: (r: number, d: number) => Partial<Fig2Cell> = () => ({})) => [0, 1, 2].flatMap((r) => DENSITIES.map((d) => cell(r, d, f(r, d))));
const input = (cells: Fig2Cell[], o: { comparableScale?: boolean; dataset?: string; densities?: number[] } = {}) =>
  fig2ClaimInput(cells, {
    densities: o.densities ?? DENSITIES,
    temperatures: 3,
    regimes: fig2.regimes,
    verdicts: fig2.verdicts,
    dataset: o.dataset ?? "cifar10",
    comparableScale: o.comparableScale ?? false,
    pairNoise: "NOISE",
  });
const NOTE = "(noise: 2 standard errors of the two cells compared, from their seeds)";

test("helps: the measured line gives each judged density's coldest and best hotter error; the reason counts the densities", () => {
  const helps = grid((r, d) => (d === 0.05 ? { testError: [0.2, 0.15, 0.18][r]! } : {}));
  const j = helpsClaim.judge(input(helps));
  expect(j.verdict).toBe("REPRODUCED");
  expect(j.measured).toBe("density 5.0%: coldest 18.0%, best hotter (temperature 20) 15.0%, difference 3.0% (s.e. 0.1%)");
  expect(j.reason).toBe(`a hotter dense model lowers the error beyond 2 standard errors at 1 of 1 judged densities ${NOTE}`);
  const hurts = helpsClaim.judge(input(grid((r, d) => (d === 0.05 ? { testError: [0.25, 0.22, 0.15][r]! } : {}))));
  expect([hurts.verdict, hurts.reason]).toEqual([
    "NOT REPRODUCED",
    `the coldest dense model is better than every hotter one beyond the noise at 1 of 1 judged densities ${NOTE}`,
  ]);
  const unclear = helpsClaim.judge(input(grid((r, d) => (d === 0.05 ? { testError: [0.2, 0.1995, 0.2][r]! } : {}))));
  expect([unclear.verdict, unclear.reason]).toEqual(["INCONCLUSIVE", `the differences are within 2 standard errors at 1 of 1 judged densities ${NOTE}`]);
  // No density at or below 8%: the lowest one is judged.
  const noLow = helpsClaim.judge(
    input(
      grid((r, d) => (d === 0.2 ? { testError: [0.2, 0.15, 0.18][r]! } : {})).filter((c) => c.density !== 0.05),
      { densities: [0.2, 0.8] },
    ),
  );
  expect(noLow.measured).toStartWith("density 20.0%: coldest 18.0%");
  // The coldest cell unmeasured: nothing to judge.
  const missing = helpsClaim.judge(input(grid((r, d) => (d === 0.05 && r === 2 ? { testError: null } : {}))));
  expect([missing.verdict, missing.measured, missing.reason]).toEqual(["INCONCLUSIVE", "missing cells", "the grid lacks the needed cells"]);
  // One seed per cell: no spread to judge by.
  const oneSeed = grid((r, d) => (d === 0.05 ? { testError: [0.2, 0.15, 0.18][r]!, seedErrors: [[0.2, 0.15, 0.18][r]!] } : { seedErrors: [0.1] }));
  expect(helpsClaim.judge(input(oneSeed)).reason).toBe("no seed spread to judge noise (need >= 2 retrain seeds)");
  // One cell with a single seed among cells with two: the others' spread is enough to judge.
  const mixed = grid((r, d) => (d === 0.05 ? { testError: [0.2, 0.15, 0.18][r]! } : r === 0 && d === 0.8 ? { seedErrors: [0.1] } : {}));
  expect(helpsClaim.judge(input(mixed)).verdict).toBe("REPRODUCED");
});

test("hurts: the hottest must be worse than the best colder model and better than none; the measured line says how often it is strictly worst", () => {
  const worst = hurtsClaim.judge(input(grid((r, d) => (d >= 0.2 ? { testError: [0.12, 0.1, 0.11][r]! } : {}))));
  expect(worst.verdict).toBe("REPRODUCED");
  expect(worst.measured).toBe(
    "hottest is worst at 2 of 2 densities >= 14% (worst within noise at 2, clearly better than a colder model at 0); excess over the best colder model 20.0%: 2.0% (s.e. 0.1%), 80.0%: 2.0% (s.e. 0.1%)",
  );
  expect(worst.reason).toBe(`the hottest dense model is worse than the best colder one beyond the noise, and better than none, at 2 of 2 densities ${NOTE}`);
  // Worse than the best, better than another colder one: contradicted.
  const middle = hurtsClaim.judge(input(grid((r, d) => (d >= 0.2 ? { testError: [0.11, 0.1, 0.12][r]! } : {}))));
  expect(middle.verdict).toBe("NOT REPRODUCED");
  expect(middle.measured).toStartWith("hottest is worst at 0 of 2 densities >= 14% (worst within noise at 0, clearly better than a colder model at 2)");
  expect(middle.reason).toBe(`the hottest dense model is better than a colder one beyond the noise at 2 of 2 densities ${NOTE}`);
  const flat = hurtsClaim.judge(input(grid()));
  expect([flat.verdict, flat.reason]).toEqual([
    "INCONCLUSIVE",
    `at 2 of 2 densities the hottest model is not worse than the best colder one beyond the noise ${NOTE}`,
  ]);
  // 14% itself counts as a higher density.
  const at14 = hurtsClaim.judge(
    input(
      grid((r) => ({ testError: [0.12, 0.1, 0.11][r]! })).map((c) => ({ ...c, density: c.density === 0.05 ? 0.14 : c.density })),
      { densities: [0.14, 0.2, 0.8] },
    ),
  );
  expect(at14.measured).toStartWith("hottest is worst at 3 of 3 densities");
  const none = hurtsClaim.judge(
    input(
      grid().filter((c) => c.density === 0.05),
      { densities: [0.05] },
    ),
  );
  expect([none.verdict, none.measured, none.reason]).toEqual(["INCONCLUSIVE", "no density >= 14% in the grid", "grid too small"]);
});

test("LMC: the measured line counts barriers, those in the corner, those within the noise, and the deepest", () => {
  const corner = lmcClaim.judge(input(grid((r, d) => (r === 2 && d === 0.05 ? { lmcBarrier: -0.3 } : r === 0 && d === 0.8 ? { lmcBarrier: -0.045 } : {}))));
  expect(corner.measured).toBe(
    "1 of 9 cells below -0.05 beyond the noise (1 in the low-density, cold corner), 1 within the noise of it; minimum barrier -0.300",
  );
  // The borderline cell lies outside the corner: not yet REPRODUCED.
  expect(corner.verdict).toBe("INCONCLUSIVE");
  expect(corner.reason).toStartWith(
    "1 barrier(s) within the noise of the threshold -0.05 (noise: 2 standard errors of each cell's mean barrier, NOISE; corner:",
  );
  const none = lmcClaim.judge(input(grid()));
  expect(none.reason).toStartWith("no cell of the low-density, cold corner has a barrier below the regime-I threshold -0.05");
  const unmeasured = lmcClaim.judge(input(grid(() => ({ lmcBarrier: null }))));
  expect([unmeasured.verdict, unmeasured.measured, unmeasured.reason]).toEqual(["INCONCLUSIVE", "none", "no LMC measured"]);
  // Unmeasured cells are left out of the count.
  const some = lmcClaim.judge(input(grid((r, d) => (d === 0.8 ? { lmcBarrier: null } : r === 2 && d === 0.05 ? { lmcBarrier: -0.3 } : {}))));
  expect(some.measured).toStartWith("1 of 6 cells below -0.05");
  expect(some.verdict).toBe("REPRODUCED");
});

test("CKA range: the measured line gives both ends with their errors; the reasons name the end that is off, or within the noise", () => {
  const range = (lo: number, hi: number) => grid((r, d) => ({ cka: d === 0.05 ? lo : d === 0.8 ? hi : (lo + hi) / 2 }));
  const ok = ckaRangeClaim.judge(input(range(0.88, 0.99)));
  expect([ok.verdict, ok.measured]).toEqual(["REPRODUCED", "0.880 (s.e. 0.002) to 0.990 (s.e. 0.002)"]);
  expect(ok.reason).toBe("both ends match: each end must lie within 0.03 of the paper's, beyond 2 standard errors (NOISE)");
  const off = ckaRangeClaim.judge(input(range(0.95, 0.99), { dataset: "fashion-mnist" }));
  expect(off.reason).toBe(
    "low end 0.950 is 0.070 from 0.88: each end must lie within 0.03 of the paper's, beyond 2 standard errors (NOISE) (this run used fashion-mnist, not CIFAR-10)",
  );
  const highOff = ckaRangeClaim.judge(input(range(0.88, 0.9)));
  expect(highOff.reason).toStartWith("high end 0.900 is 0.090 from 0.99:");
  const within = ckaRangeClaim.judge(input(grid((r, d) => ({ cka: d === 0.05 ? 0.912 : 0.99, ckaStdErr: 0.005 }))));
  expect([within.verdict, within.reason]).toEqual([
    "INCONCLUSIVE",
    "low end within the noise of the tolerance: each end must lie within 0.03 of the paper's, beyond 2 standard errors (NOISE)",
  ]);
  const none = ckaRangeClaim.judge(input(grid(() => ({ cka: null }))));
  expect([none.measured, none.reason]).toEqual(["none", "no CKA measured"]);
});

test("regimes: cells counted per regime, beyond the noise and in all; unmeasured cells left out", () => {
  const cells = grid((r, d) => (r === 2 && d === 0.05 ? { lmcBarrier: -0.3 } : d === 0.2 ? { cka: 0.9 } : { cka: 0.99 }));
  const j = regimesClaim.judge(input(cells));
  expect(j.verdict).toBe("REPRODUCED");
  expect(j.measured).toBe("I: 1, II-A: 3, II-B: 5 cells (beyond the noise of the thresholds: I 1, II-A 3, II-B 5; thresholds: LMC < -0.05, CKA < 0.95)");
  const unclear = regimesClaim.judge(
    input(grid((r, d) => (r === 2 && d === 0.05 ? { lmcBarrier: -0.3 } : d === 0.2 && r === 0 ? { cka: 0.945, ckaStdErr: 0.01 } : { cka: 0.99 }))),
  );
  expect([unclear.verdict, unclear.reason]).toEqual(["INCONCLUSIVE", "regime II-A has only cells within the noise of a threshold"]);
  const impossible = regimesClaim.judge(input(grid(() => ({ cka: 0.99 }))));
  expect([impossible.verdict, impossible.reason]).toEqual(["NOT REPRODUCED", "no cell can be in regime I, II-A under these thresholds, even within the noise"]);
  const partly = regimesClaim.judge(input(grid((r, d) => (d === 0.8 ? { cka: null } : {}))));
  expect(partly.measured).toStartWith("I: 0, II-A: 0, II-B: 6 cells");
  // A cell's sides and clear regime, by hand: LMC -0.3 is below -0.05 beyond 2 x 0.005; CKA 0.9 below 0.95.
  const c = cell(0, 0.05, { lmcBarrier: -0.3, cka: 0.9 });
  expect(regimeSides(c, fig2.regimes, 2)).toEqual({ lmc: "below", cka: "below" });
  expect(clearRegime(c, fig2.regimes, 2)).toBe("I");
  expect(clearRegime(cell(0, 0.05, { cka: 0.9 }), fig2.regimes, 2)).toBe("II-A");
  expect(clearRegime(cell(0, 0.05, { cka: 0.99 }), fig2.regimes, 2)).toBe("II-B");
  expect(clearRegime(cell(0, 0.05, { cka: 0.951 }), fig2.regimes, 2)).toBeNull();
  expect(regimeSides(cell(0, 0.05, { cka: null }), fig2.regimes, 2)).toBeNull();
  expect(clearRegime(cell(0, 0.05, { cka: null }), fig2.regimes, 2)).toBeNull();
  expect(regimeSides(cell(0, 0.05, { lmcBarrier: null }), fig2.regimes, 2)).toBeNull();
});

test("error range: the best error at the highest density and the coldest at the lowest; missing cells say so", () => {
  const cells = grid((r, d) => ({ testError: d === 0.8 ? [0.09, 0.076, 0.08][r]! : d === 0.05 ? [0.15, 0.16, 0.175][r]! : 0.1 }));
  const j = errorRangeClaim.judge(input(cells, { comparableScale: true }));
  expect([j.verdict, j.measured]).toEqual(["REPRODUCED", "best 7.6% at 80.0% density; 17.5% at 5.0% density, coldest"]);
  const noCold = errorRangeClaim.judge(
    input(
      grid((r, d) => (d === 0.05 && r === 2 ? { testError: null } : {})),
      { comparableScale: true },
    ),
  );
  expect([noCold.verdict, noCold.measured, noCold.reason]).toEqual(["INCONCLUSIVE", "missing cells", "missing cells"]);
  const scaled = errorRangeClaim.judge(input(cells, { dataset: "fashion-mnist" }));
  expect(scaled.reason).toBe(
    "error levels are only comparable on the full protocol (CIFAR-10, PreResNet-20 width 16, 160 epochs); this run used fashion-mnist and a scaled-down preset",
  );
});

test("where the noise comes from, in words: each source once, the floor when a spread is used", () => {
  const of = (...from: Fig2Cell["errorFrom"][]) => pairNoiseText(from.map((f) => cell(0, 0.05, { errorFrom: f })));
  expect(of("measurement", null)).toBe("from each pair's measurement error (binomial path errors; bootstrap over the CKA images)");
  expect(of("jackknife", "jackknife")).toBe("from a jackknife over the retrain seeds of every pair, never below the pairs' own measurement error");
  expect(of("groups", "measurement")).toBe(
    "from the spread of the dense seeds' means or each pair's measurement error (binomial path errors; bootstrap over the CKA images), never below the pairs' own measurement error",
  );
  expect(of(null)).toBe("unmeasured");
});
