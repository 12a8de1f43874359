import { expect, test } from "bun:test";
import { linearCka } from "../../src/metrics/cka.ts";
import { Rng } from "../../src/util/rng.ts";

const n = 50,
  p = 4;
const rng = new Rng(1, "cka");
const X = Float64Array.from({ length: n * p }, () => rng.normal());
const Y = Float64Array.from({ length: n * p }, () => rng.normal());

/** A random orthogonal p x p matrix (Gram-Schmidt). */
function orthogonal(d: number): Float64Array {
  const q = Float64Array.from({ length: d * d }, () => rng.normal());
  for (let c = 0; c < d; c++) {
    for (let prev = 0; prev < c; prev++) {
      let dot = 0;
      for (let r = 0; r < d; r++) dot += q[r * d + c]! * q[r * d + prev]!;
      for (let r = 0; r < d; r++) q[r * d + c]! -= dot * q[r * d + prev]!;
    }
    let norm = 0;
    for (let r = 0; r < d; r++) norm += q[r * d + c]! ** 2;
    for (let r = 0; r < d; r++) q[r * d + c]! /= Math.sqrt(norm);
  }
  return q;
}

function matmul(a: Float64Array, b: Float64Array, rows: number, inner: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let k = 0; k < inner; k++) for (let j = 0; j < cols; j++) out[i * cols + j]! += a[i * inner + k]! * b[k * cols + j]!;
  return out;
}

test("CKA(X, X) = 1", () => {
  expect(linearCka(X, X, n)).toBeCloseTo(1, 12);
});

test("invariant to isotropic scaling", () => {
  expect(
    linearCka(
      X,
      X.map((v) => 3 * v),
      n,
    ),
  ).toBeCloseTo(1, 12);
  expect(
    linearCka(
      X.map((v) => 2 * v),
      Y.map((v) => 5 * v),
      n,
    ),
  ).toBeCloseTo(linearCka(X, Y, n), 12);
});

test("invariant to orthogonal transforms", () => {
  const q = orthogonal(p);
  const xq = matmul(X, q, n, p, p);
  expect(linearCka(X, xq, n)).toBeCloseTo(1, 10);
  expect(linearCka(xq, Y, n)).toBeCloseTo(linearCka(X, Y, n), 10);
});

test("invariant to adding a constant (columns are centred); small for unrelated data", () => {
  expect(
    linearCka(
      X.map((v) => v + 7),
      Y,
      n,
    ),
  ).toBeCloseTo(linearCka(X, Y, n), 10);
  expect(linearCka(X, Y, n)).toBeLessThan(0.3);
  expect(linearCka(X, Y, n)).toBeGreaterThan(0);
});

test("exact values worked by hand: the squared correlation in one dimension, and a 4 x 2 against a 4 x 1", () => {
  // x = (1, 2, 3), y = (1, 3, 2): centred (-1, 0, 1) and (-1, 1, 0); (x.y)^2 / (|x|^2 |y|^2) = 1 / 4.
  expect(linearCka([1, 2, 3], [1, 3, 2], 3)).toBeCloseTo(0.25, 12);
  // X's columns are centred already; y = (1, 2, 3, 4) centres to (-1.5, -0.5, 0.5, 1.5).
  // ||Y'X||^2 = (-2)^2 + (-2)^2 = 8, ||X'X|| = ||diag(2, 2)|| = 2 sqrt 2, ||Y'Y|| = 5.
  const x = [1, 0, 0, 1, -1, 0, 0, -1];
  expect(linearCka(x, [1, 2, 3, 4], 4)).toBeCloseTo(8 / (2 * Math.SQRT2 * 5), 12);
  expect(linearCka([1, 2, 3, 4], x, 4)).toBeCloseTo(8 / (2 * Math.SQRT2 * 5), 12);
});
