import { expect, test } from "bun:test";
import { ckaBootstrapStdErr, ckaOfOutputs } from "../../src/metrics/pair-metrics.ts";
import { Rng } from "../../src/util/rng.ts";

function outputs(n: number, k: number, seed: number, mix?: { from: Float64Array; weight: number }): Float64Array {
  const rng = new Rng(seed, "test-outputs");
  return Float64Array.from({ length: n * k }, (_, i) => (mix ? mix.weight * mix.from[i]! : 0) + rng.normal());
}

test("identical outputs have CKA 1 on every resample: no noise", () => {
  const a = outputs(200, 10, 1);
  expect(ckaOfOutputs(a, a, 200)).toBeCloseTo(1, 12);
  expect(ckaBootstrapStdErr(a, a, 200, 50, 1)).toBeLessThan(1e-12);
});

test("the bootstrap error of related outputs is positive, shrinks like 1/sqrt(n) and is seeded", () => {
  const se = (n: number) => {
    const a = outputs(n, 10, 2);
    return ckaBootstrapStdErr(a, outputs(n, 10, 3, { from: a, weight: 1 }), n, 100, 7);
  };
  const small = se(200),
    large = se(3200);
  expect(small).toBeGreaterThan(0);
  // 16x the images: about a quarter of the error (bootstrap scatter allowed).
  expect(small / large).toBeGreaterThan(2.5);
  expect(small / large).toBeLessThan(6.5);
  expect(se(200)).toBe(small);
  expect(ckaBootstrapStdErr(outputs(10, 2, 1), outputs(10, 2, 2), 10, 1, 1)).toBeNaN();
});
