/** Claims as registries: each definition judged alone, its thresholds taken from the settings. */
import { expect, test } from "bun:test";
import type { Fig2Config } from "../../src/config/generated/fig2.ts";
import { validateConfig } from "../../src/config/load.ts";
import { BIP_CLAIMS, speedupClaim, ticketsClaim, type MethodPoint } from "../../src/report/bip-claims.ts";
import { claimsTable, judgeClaims, registry, type ClaimDefinition } from "../../src/report/claims.ts";
import { errorRangeClaim, FIG2_CLAIMS, fig2ClaimInput, lmcClaim, regimeOf, type Fig2Cell } from "../../src/report/fig2-claims.ts";
import { SPARSE_INFERENCE_CLAIMS } from "../../src/report/sparse-inference-claims.ts";
import { THROUGHPUT_GOALS } from "../../src/report/throughput-goals.ts";
import { methodPoint } from "../helpers/method-points.ts";

const fig2 = validateConfig<Fig2Config>("fig2", {});

function cell(hotRank: number, density: number, o: { error?: number; lmc?: number } = {}): Fig2Cell {
  const lmc = o.lmc ?? 0,
    error = o.error ?? 0.1;
  return {
    temperature: 10 * (hotRank + 1),
    hotRank,
    density,
    testError: error,
    seedErrors: [error - 0.001, error + 0.001],
    denseSeedErrors: [{ seed: 1, error }],
    testErrorStdErr: null,
    pairs: [],
    errorFrom: "measurement",
    lmcBarrier: lmc,
    lmcStdErr: 0.005,
    cka: 0.97,
    ckaStdErr: 0.002,
    regime: regimeOf(lmc, 0.97, fig2.regimes),
  };
}

/** 4 temperatures x 4 densities; `f` sets a cell's barrier and error. */
function grid(f: (rank: number, d: number) => { error?: number; lmc?: number }): Fig2Cell[] {
  const densities = [0.05, 0.1, 0.2, 0.8];
  return [0, 1, 2, 3].flatMap((r) => densities.map((d) => cell(r, d, f(r, d))));
}

const input = (cells: Fig2Cell[], verdicts: Partial<Fig2Config["verdicts"]> = {}, comparableScale = false) =>
  fig2ClaimInput(cells, {
    densities: [0.05, 0.1, 0.2, 0.8],
    temperatures: 4,
    regimes: fig2.regimes,
    verdicts: { ...fig2.verdicts, ...verdicts },
    dataset: "cifar10",
    comparableScale,
    pairNoise: "from each pair's measurement error",
  });

test("every registry has unique ids under its experiment's prefix, and every definition says what it measures", () => {
  const all: [string, readonly { id: string; measures: string }[]][] = [
    ["fig2.", FIG2_CLAIMS],
    ["bip.", BIP_CLAIMS],
    ["inference.", SPARSE_INFERENCE_CLAIMS],
    ["throughput.", THROUGHPUT_GOALS],
  ];
  for (const [prefix, defs] of all) {
    expect(new Set(defs.map((d) => d.id)).size).toBe(defs.length);
    for (const d of defs) {
      expect(d.id.startsWith(prefix)).toBe(true);
      expect(d.measures.length).toBeGreaterThan(30);
    }
  }
  const twice: ClaimDefinition<null> = {
    id: "x.a",
    claim: "a",
    paper: "p",
    measures: "m",
    judge: () => ({ measured: "", verdict: "INCONCLUSIVE", reason: "" }),
  };
  expect(() => registry([twice, twice])).toThrow("claim id x.a is defined twice");
});

test("judgeClaims keeps registry order and the definition's texts unless the judge overrides them; one table renders every report's claims", () => {
  const a: ClaimDefinition<number> = {
    id: "t.a",
    claim: "A",
    paper: (n) => `paper ${n}`,
    measures: "m",
    judge: (n) => ({ measured: `${n}`, verdict: "REPRODUCED", reason: "r" }),
  };
  const b: ClaimDefinition<number> = {
    id: "t.b",
    claim: "B",
    paper: "P",
    measures: "m",
    judge: () => ({ measured: "x", verdict: "NOT REPRODUCED", reason: "s", claim: "B (EP)" }),
  };
  const claims = judgeClaims([a, b], 7);
  expect(claims).toEqual([
    { id: "t.a", claim: "A", paper: "paper 7", measured: "7", verdict: "REPRODUCED", reason: "r" },
    { id: "t.b", claim: "B (EP)", paper: "P", measured: "x", verdict: "NOT REPRODUCED", reason: "s" },
  ]);
  const md = claimsTable(claims, "expected").split("\n");
  expect(md[0]).toBe("| claim | expected | measured | verdict | reason |");
  expect(md[2]).toBe("| A | paper 7 | 7 | **REPRODUCED** | r |");
  expect(md).toHaveLength(4);
});

test("LMC: the corner where barriers belong is verdicts.barrierCorner's share of densities (lowest) and temperatures (coldest)", () => {
  // A clear barrier at the second-hottest temperature, lowest density.
  const cells = grid((r, d) => (r === 1 && d === 0.05 ? { lmc: -0.3 } : {}));
  // Default: the coldest half (ranks 2, 3) and the lowest half of densities: outside.
  expect(lmcClaim.judge(input(cells)).verdict).toBe("NOT REPRODUCED");
  // The coldest three quarters (ranks 1-3): inside, and every other cell is connected.
  expect(lmcClaim.judge(input(cells, { barrierCorner: { densityShare: 0.5, temperatureShare: 0.75 } })).verdict).toBe("REPRODUCED");
  // A barrier at 20% density: inside only when the corner takes three quarters of the densities.
  const mid = grid((r, d) => (r === 3 && d === 0.2 ? { lmc: -0.3 } : {}));
  expect(lmcClaim.judge(input(mid)).verdict).toBe("NOT REPRODUCED");
  expect(lmcClaim.judge(input(mid, { barrierCorner: { densityShare: 0.75, temperatureShare: 0.5 } })).verdict).toBe("REPRODUCED");
  expect(lmcClaim.judge(input(mid)).reason).toContain("corner: the lowest 50.0% of densities and coldest 50.0% of temperatures");
});

test("error range: each end within verdicts.errorRangeTolerance of the paper's 7.6% (highest density) and 17.5% (lowest, coldest)", () => {
  // 2.5 points above at 80%, exact at 5%.
  const cells = grid((r, d) => ({ error: d === 0.8 ? 0.101 : d === 0.05 ? 0.175 : 0.12 }));
  expect(errorRangeClaim.judge(input(cells, {}, true)).verdict).toBe("NOT REPRODUCED");
  expect(errorRangeClaim.judge(input(cells, { errorRangeTolerance: { highDensity: 0.03, lowDensity: 0.03 } }, true)).verdict).toBe("REPRODUCED");
  // 2.5 points off at 5% is within the default 3.
  const low = grid((r, d) => ({ error: d === 0.8 ? 0.076 : d === 0.05 ? 0.2 : 0.12 }));
  expect(errorRangeClaim.judge(input(low, {}, true)).verdict).toBe("REPRODUCED");
  expect(errorRangeClaim.judge(input(low, { errorRangeTolerance: { highDensity: 0.02, lowDensity: 0.02 } }, true)).verdict).toBe("NOT REPRODUCED");
  expect(errorRangeClaim.judge(input(low, {}, true)).reason).toBe("within 2.0 points (highest density) and 3.0 points (lowest) of the paper");
});

test("BiP speedup: judged from verdicts.speedupFromSparsity up, so a slow low sparsity counts only when the setting includes it", () => {
  // 1.2x at 20% (one IMP round), 3x at 59%.
  const points = [methodPoint("IMP", 0.2, 0.9, 120), methodPoint("BiP", 0.2, 0.9, 100), methodPoint("IMP", 0.59, 0.9, 300), methodPoint("BiP", 0.59, 0.9, 100)];
  const o = { noiseMultiple: 2, accuracyTolerance: 0.005, speedupFromSparsity: 0.5 };
  expect(speedupClaim.judge({ points, denseAccuracy: 0.9, o }).verdict).toBe("REPRODUCED");
  const all = speedupClaim.judge({ points, denseAccuracy: 0.9, o: { ...o, speedupFromSparsity: 0.1 } });
  expect(all.verdict).toBe("NOT REPRODUCED");
  expect(all.reason).toContain("below 2x beyond 2 standard errors of the timing at 20.0%");
});

test("the tickets claim's paper text is counted from the paper's Figure 3 numbers, not a literal", () => {
  const paper = judgeClaims([ticketsClaim], { points: [], denseAccuracy: 0.9, o: { noiseMultiple: 2, accuracyTolerance: 0.005, speedupFromSparsity: 0.5 } })[0]!
    .paper;
  // Fig. 3: BiP >= IMP at 20%, 89% and 94.5%; 0.19 points below at 59%, 0.15 at 74%.
  expect(paper).toContain("BiP at or above IMP at 3 of 5 sparsities of Fig. 3, at most 0.19 points below at the others");
});
