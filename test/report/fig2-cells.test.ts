import { expect, test } from "bun:test";
import type { Fig2Config } from "../../src/config/generated/fig2.ts";
import { validateConfig } from "../../src/config/load.ts";
import { fig2Cells, type Fig2GridCell } from "../../src/experiments/fig2-cells.ts";
import { lmcBarrierStdErr } from "../../src/metrics/lmc.ts";
import type { Unit } from "../../src/runner/unit.ts";

const cfg = validateConfig<Fig2Config>("fig2", {});
const unit = (id: string): Unit<unknown> => ({ id, kind: id.split("-")[0]!, config: {}, deps: [] });
/** A path whose barrier is `b` at t = 0.5 (ends at 0.1 error), as a cell unit records it. */
const path = (b: number) => [
  { t: 0, error: 0.1 },
  { t: 0.5, error: 0.1 - b },
  { t: 1, error: 0.1 },
];

/** One cell, two dense seeds of three retrain seeds each. */
function grid(): Fig2GridCell {
  return {
    value: 30,
    rank: 1,
    density: 0.05,
    bySeed: [1, 2].map((d) => ({
      denseSeed: d,
      dense: unit(`dense-${d}`),
      retrains: [1, 2, 3].map((seed) => ({ seed, unit: unit(`retrain-d${d}s${seed}`) })),
      cell: unit(`cell-${d}`),
    })),
  };
}

function metrics(): Map<string, Record<string, unknown>> {
  const m = new Map<string, Record<string, unknown>>();
  const errors: Record<number, number[]> = { 1: [0.2, 0.22, 0.24], 2: [0.3, 0.3, 0.3] };
  for (const d of [1, 2]) {
    errors[d]!.forEach((e, i) => m.set(`retrain-d${d}s${i + 1}`, { testError: e }));
    // Pairs listed in another order than the retrain seeds, to check each is mapped to its seeds.
    const barriers: [number, number, number][] =
      d === 1
        ? [
            [2, 3, -0.3],
            [1, 2, -0.1],
            [1, 3, -0.2],
          ]
        : [
            [1, 2, 0],
            [1, 3, 0],
            [2, 3, 0],
          ];
    m.set(`cell-${d}`, {
      pairs: barriers.map(([a, b, v]) => ({
        models: [`retrain-d${d}s${a}`, `retrain-d${d}s${b}`],
        lmcBarrier: v,
        lmcTStar: 0.5,
        lmcPath: path(v),
        cka: 0.9 + 0.01 * a,
        ckaStdErr: 0.001,
      })),
    });
  }
  return m;
}

test("a cell averages every pair under every dense seed, each dense seed weighing the same; errors over dense seeds' means", () => {
  const m = metrics();
  const [c] = fig2Cells([grid()], (id) => m.get(id), cfg, 1000);
  // Test error: mean of all six models; its s.e. from the two dense seeds' means (0.22, 0.30): sd 0.05657 / sqrt 2 = 0.04.
  expect(c!.testError!).toBeCloseTo((0.2 + 0.22 + 0.24 + 0.9) / 6, 12);
  expect(c!.denseSeedErrors.map((d) => d.seed)).toEqual([1, 2]);
  expect(c!.denseSeedErrors[0]!.error!).toBeCloseTo(0.22, 12);
  expect(c!.testErrorStdErr!).toBeCloseTo(0.04, 12);
  // LMC: seed means -0.2 and 0 -> -0.1; s.e. sd(-0.2, 0)/sqrt 2 = 0.1 (above every pair's binomial floor).
  expect(c!.lmcBarrier!).toBeCloseTo(-0.1, 12);
  expect(c!.lmcStdErr!).toBeCloseTo(0.1, 12);
  expect(c!.errorFrom).toBe("groups");
  expect(c!.regime).toBe("I");
  // Every pair kept with its seeds and its own binomial error.
  expect(c!.pairs.map((p) => `${p.denseSeed}:${p.retrainSeeds.join("-")}`)).toEqual(["1:2-3", "1:1-2", "1:1-3", "2:1-2", "2:1-3", "2:2-3"]);
  expect(c!.pairs[0]!.lmcStdErr!).toBeCloseTo(lmcBarrierStdErr([0.1, 0.4, 0.1], 1, 1000), 12);
  expect(c!.cka!).toBeCloseTo((0.92 + 0.91 + 0.91) / 6 + (0.91 + 0.91 + 0.92) / 6, 12);
});

test("one dense seed: test error s.e. from the retrained models, LMC s.e. from the jackknife over retrain seeds", () => {
  const m = metrics();
  const g = grid();
  g.bySeed = g.bySeed.slice(0, 1);
  const [c] = fig2Cells([g], (id) => m.get(id), cfg, 1000);
  // sd(0.2, 0.22, 0.24) = 0.02; / sqrt 3.
  expect(c!.testErrorStdErr!).toBeCloseTo(0.02 / Math.sqrt(3), 12);
  expect(c!.lmcBarrier!).toBeCloseTo(-0.2, 12);
  // Leave-one-out means: -0.3 (without 1), -0.2 (without 2), -0.1 (without 3): (2/3) x 0.02.
  expect(c!.lmcStdErr!).toBeCloseTo(Math.sqrt((2 / 3) * 0.02), 12);
  expect(c!.errorFrom).toBe("jackknife");
});

test("a cell with a missing model or a missing pair unit is left empty, not averaged over what is there", () => {
  const m = metrics();
  m.delete("retrain-d2s3");
  m.delete("cell-2");
  const [c] = fig2Cells([grid()], (id) => m.get(id), cfg, 1000);
  expect(c!.testError).toBeNull();
  expect(c!.testErrorStdErr).toBeNull();
  expect(c!.denseSeedErrors[1]!.error).toBeNull();
  expect(c!.lmcBarrier).toBeNull();
  expect(c!.cka).toBeNull();
  expect(c!.regime).toBeNull();
});
