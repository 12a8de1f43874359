import { expect, test } from "bun:test";
import { summarise } from "../../src/onnx/session-timing.ts";

test("timing summary: interpolated percentiles over all samples, outliers dropped from the mean only", () => {
  // 1..10 ms plus one 100 ms hiccup. Median 6, MAD 3; 100 > 6 + 5*3 is an outlier.
  // Two rounds: medians 3 (of 1, 2, 3, 10, 100) and 6.5 (of 4..9).
  const s = summarise(
    [
      [100, 1, 2, 3, 10],
      [4, 5, 6, 7, 8, 9],
    ],
    4,
    5,
  );
  expect(s.roundP50s).toEqual([3, 6.5]);
  expect(s.p50).toBe(6);
  expect(s.p90).toBeCloseTo(10, 10); // position 9 of 0..10 in sorted order
  expect(s.p99).toBeCloseTo(10 + 0.9 * 90, 10);
  expect(s.outliers).toBe(1);
  expect(s.trimmedMean).toBe(5.5);
  expect(s.imagesPerSecond).toBeCloseTo(4 / 0.006, 6);
  expect(s.samples).toBe(11);
});
