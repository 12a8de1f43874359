/**
 * Linear mode connectivity barrier as the three-regime paper defines it: for errors
 * err(t) along the straight line between two models (t = 0..1),
 *   mc = (err(0) + err(1)) / 2 - err(t*),  t* = argmax_t |(err(0) + err(1)) / 2 - err(t)|.
 * About 0: connected. Negative: a barrier (the path is worse than its ends).
 */
export function lmcBarrier(errors: number[]): { barrier: number; tStarIndex: number } {
  if (errors.length < 2) throw new Error("need the errors of at least the two end points");
  const mid = (errors[0]! + errors.at(-1)!) / 2;
  let best = 0,
    arg = 0;
  errors.forEach((e, i) => {
    if (Math.abs(mid - e) > Math.abs(best)) {
      best = mid - e;
      arg = i;
    }
  });
  return { barrier: best, tStarIndex: arg };
}

/** Interpolation weights t = 0, 1/(points-1), ..., 1. */
export function interpolationPoints(points: number): number[] {
  if (!(points >= 2)) throw new Error(`need at least 2 interpolation points, got ${points}`);
  return Array.from({ length: points }, (_, i) => i / (points - 1));
}

/** (1 - t) * a + t * b, tensor by tensor. */
export function interpolate(a: Record<string, Float32Array>, b: Record<string, Float32Array>, t: number): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [k, va] of Object.entries(a)) {
    const vb = b[k];
    if (!vb || vb.length !== va.length) throw new Error(`cannot interpolate ${k}: shapes differ`);
    out[k] = va.map((v, i) => (1 - t) * v + t * vb[i]!);
  }
  return out;
}

/**
 * Standard error of a barrier measured on `images` images per point, from the binomial
 * error of the three error rates it is made of, taken as independent (an upper bound:
 * the same images at every point correlate the rates, which cancels part of the noise).
 */
export function lmcBarrierStdErr(errors: number[], tStarIndex: number, images: number): number {
  const v = (e: number) => (e * (1 - e)) / images;
  return Math.sqrt((v(errors[0]!) + v(errors.at(-1)!)) / 4 + (tStarIndex === 0 || tStarIndex === errors.length - 1 ? 0 : v(errors[tStarIndex]!)));
}
