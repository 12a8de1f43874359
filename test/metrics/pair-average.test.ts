import { expect, test } from "bun:test";
import { averageOverPairs, jackknifeStdErr, type PairValue } from "../../src/metrics/pair-average.ts";
import { indexPairs } from "../../src/runner/kinds/cell-pair-metrics.ts";

const pv = (group: number, a: number, b: number, value: number, stdErr: number | null = null): PairValue => ({ group, models: [a, b], value, stdErr });

test("every unordered pair of n models, once each", () => {
  expect(indexPairs(2)).toEqual([[0, 1]]);
  expect(indexPairs(3)).toEqual([
    [0, 1],
    [0, 2],
    [1, 2],
  ]);
  expect(indexPairs(4)).toHaveLength(6);
  expect(indexPairs(1)).toEqual([]);
});

test("one pair: its value and its own measurement error", () => {
  expect(averageOverPairs([pv(1, 1, 2, -0.2, 0.016)])).toEqual({ mean: -0.2, stdErr: 0.016, errorFrom: "measurement", pairs: 1 });
  expect(averageOverPairs([])).toBeNull();
});

test("three pairs of three models: the delete-one-model jackknife, worked by hand", () => {
  // Leaving out model 1 leaves pair (2,3) = 0.2; model 2: (1,3) = 0.3; model 3: (1,2) = 0.1.
  // Centre 0.2; squared deviations 0 + 0.01 + 0.01; variance (3-1)/3 x 0.02 = 0.013333.
  const pairs = [pv(1, 1, 2, 0.1), pv(1, 1, 3, 0.3), pv(1, 2, 3, 0.2)];
  expect(jackknifeStdErr(pairs)!).toBeCloseTo(Math.sqrt(0.02 * (2 / 3)), 12);
  const a = averageOverPairs(pairs)!;
  expect(a.mean).toBeCloseTo(0.2, 12);
  expect(a.stdErr!).toBeCloseTo(0.11547005, 7);
  expect(a.errorFrom).toBe("jackknife");
  // Twice the naive sd/sqrt(3) of the pair values: the pairs share models, so they are not independent.
  const sd = Math.sqrt((0.01 + 0.01) / 2);
  expect(a.stdErr! / (sd / Math.sqrt(3))).toBeCloseTo(2, 6);
  expect(jackknifeStdErr([pv(1, 1, 2, 0.5)])).toBeNull();
});

test("two or more dense seeds: each seed's mean weighs the same, the error from their spread", () => {
  // Seed 1: three pairs at 0; seed 2: one pair at 0.4. Mean of the seed means: 0.2, not 0.1.
  const a = averageOverPairs([pv(1, 1, 2, 0), pv(1, 1, 3, 0), pv(1, 2, 3, 0), pv(2, 1, 2, 0.4)])!;
  expect(a.mean).toBeCloseTo(0.2, 12);
  // sd of (0, 0.4) = 0.28284; / sqrt(2) = 0.2.
  expect(a.stdErr!).toBeCloseTo(0.2, 12);
  expect(a.errorFrom).toBe("groups");
  expect(a.pairs).toBe(4);
});

test("a spread that comes out below the pairs' own measurement error is floored at it", () => {
  // Identical values: the jackknife gives 0; the floor is rms(0.03) / sqrt(3).
  const a = averageOverPairs([pv(1, 1, 2, 0.1, 0.03), pv(1, 1, 3, 0.1, 0.03), pv(1, 2, 3, 0.1, 0.03)])!;
  expect(a.stdErr!).toBeCloseTo(0.03 / Math.sqrt(3), 12);
  expect(a.errorFrom).toBe("measurement");
  // A wide spread wins over the floor.
  const b = averageOverPairs([pv(1, 1, 2, 0.1, 0.001), pv(1, 1, 3, 0.3, 0.001), pv(1, 2, 3, 0.2, 0.001)])!;
  expect(b.errorFrom).toBe("jackknife");
  expect(b.stdErr!).toBeCloseTo(0.11547005, 7);
});
