/**
 * Linear CKA (Kornblith et al. 2019) between two representations of the same n
 * examples, X [n, p] and Y [n, q] row-major:
 *   CKA = ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F * ||Yc^T Yc||_F), columns centred.
 * Computed in float64.
 */
export function linearCka(x: ArrayLike<number>, y: ArrayLike<number>, n: number): number {
  const p = x.length / n,
    q = y.length / n;
  if (!Number.isInteger(p) || !Number.isInteger(q)) throw new Error(`representations do not split into ${n} rows`);
  const xc = centre(x, n, p),
    yc = centre(y, n, q);
  const xy = frobeniusSq(gram(yc, xc, n, q, p));
  const xx = Math.sqrt(frobeniusSq(gram(xc, xc, n, p, p)));
  const yy = Math.sqrt(frobeniusSq(gram(yc, yc, n, q, q)));
  return xy / (xx * yy);
}

function centre(a: ArrayLike<number>, n: number, d: number): Float64Array {
  const out = new Float64Array(n * d);
  for (let j = 0; j < d; j++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += a[i * d + j]!;
    mean /= n;
    for (let i = 0; i < n; i++) out[i * d + j] = a[i * d + j]! - mean;
  }
  return out;
}

/** A^T B for A [n, da], B [n, db] -> [da, db]. */
function gram(a: Float64Array, b: Float64Array, n: number, da: number, db: number): Float64Array {
  const out = new Float64Array(da * db);
  for (let i = 0; i < n; i++)
    for (let r = 0; r < da; r++) {
      // Stryker disable next-line all: hot loop: mutation switching makes the CKA bootstrap test (100M passes here) 300x slower; the exact CKA values of cka-known-answers.test.ts pin this line
      const av = a[i * da + r]!;
      // Stryker disable next-line all: hot loop: as above
      for (let c = 0; c < db; c++) out[r * db + c]! += av * b[i * db + c]!;
    }
  return out;
}

function frobeniusSq(m: Float64Array): number {
  let s = 0;
  for (const v of m) s += v * v;
  return s;
}

/** Row-wise softmax of logits [n, k]. */
export function softmaxRows(logits: Float32Array, n: number, k: number): Float64Array {
  const out = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, logits[i * k + j]!);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += out[i * k + j] = Math.exp(logits[i * k + j]! - max);
    for (let j = 0; j < k; j++) out[i * k + j]! /= sum;
  }
  return out;
}
