import { expect, test } from "bun:test";
import { cellNoise, fig2Claims, regimeOf, type Fig2Cell } from "../../src/report/fig2-claims.ts";

const regimes = { lmcBarrier: -0.05, cka: 0.95 };
const densities = [0.05, 0.2, 0.8];

/** A 3 x 3 grid (hotRank 0 = hottest) with test errors from a function and small seed spread. */
function grid(err: (rank: number, d: number) => number, lmc: (rank: number, d: number) => number = () => 0, cka: (rank: number, d: number) => number = () => 0.97): Fig2Cell[] {
  const cells: Fig2Cell[] = [];
  for (let rank = 0; rank < 3; rank++)
    for (const d of densities) {
      const e = err(rank, d);
      cells.push({ temperature: [10, 60, 160][rank]!, hotRank: rank, density: d, testError: e, seedErrors: [e - 0.001, e + 0.001], lmcBarrier: lmc(rank, d), cka: cka(rank, d), regime: regimeOf(lmc(rank, d), cka(rank, d), regimes) });
    }
  return cells;
}

const judge = (cells: Fig2Cell[]) => Object.fromEntries(fig2Claims(cells, { densities, temperatures: 3, regimes, dataset: "cifar10", comparableScale: false }).map((c) => [c.claim.split(" ").slice(0, 4).join(" "), c.verdict]));

test("regimes follow the explicit thresholds", () => {
  expect(regimeOf(-0.2, 0.99, regimes)).toBe("I");
  expect(regimeOf(0, 0.9, regimes)).toBe("II-A");
  expect(regimeOf(-0.01, 0.97, regimes)).toBe("II-B");
  expect(regimeOf(null, 0.97, regimes)).toBeNull();
});

test("the noise level is the pooled standard error of a cell mean", () => {
  // Two seeds 0.002 apart: sample variance 2e-6, standard error sqrt(2e-6 / 2) = 0.001.
  expect(cellNoise(grid(() => 0.1))).toBeCloseTo(0.001, 9);
});

test("the paper's pattern is judged REPRODUCED", () => {
  const cells = grid(
    (rank, d) => (d === 0.05 ? [0.2, 0.15, 0.18][rank]! : [0.12, 0.09, 0.08][rank]!),
    (rank, d) => (d === 0.05 && rank === 2 ? -0.3 : 0),
    (rank, d) => (d === 0.8 ? 0.99 : 0.9),
  );
  const v = judge(cells);
  expect(v["High temperature helps at"]).toBe("REPRODUCED");
  expect(v["High temperature hurts at"]).toBe("REPRODUCED");
  expect(v["LMC barriers appear only"]).toBe("REPRODUCED");
  expect(v["All three regimes (I,"]).toBe("REPRODUCED");
  expect(v["Test error range"]).toBe("INCONCLUSIVE");
});

test("the opposite pattern is NOT REPRODUCED, and differences within noise are INCONCLUSIVE", () => {
  const opposite = judge(grid((rank, d) => (d === 0.05 ? [0.25, 0.22, 0.15][rank]! : [0.07, 0.09, 0.1][rank]!), (rank, d) => (d === 0.8 && rank === 0 ? -0.2 : 0)));
  expect(opposite["High temperature helps at"]).toBe("NOT REPRODUCED");
  expect(opposite["High temperature hurts at"]).toBe("NOT REPRODUCED");
  expect(opposite["LMC barriers appear only"]).toBe("NOT REPRODUCED");
  const flat = judge(grid(() => 0.1));
  expect(flat["High temperature helps at"]).toBe("INCONCLUSIVE");
  expect(flat["High temperature hurts at"]).toBe("INCONCLUSIVE");
  expect(flat["LMC barriers appear only"]).toBe("NOT REPRODUCED");
  expect(flat["All three regimes (I,"]).toBe("NOT REPRODUCED");
});
