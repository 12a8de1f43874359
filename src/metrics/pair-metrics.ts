import { evalBatches } from "../data/batches.ts";
import type { Dataset, Split } from "../data/types.ts";
import { zeroMomentum } from "../engine/state.ts";
import type { Tensors, Trainer } from "../engine/types.ts";
import { evaluate } from "./evaluate.ts";
import { reestimateBatchNorm } from "./bn-reestimate.ts";
import { linearCka, softmaxRows } from "./cka.ts";
import { interpolate, interpolationPoints, lmcBarrier } from "./lmc.ts";
import { Rng } from "../util/rng.ts";

export interface LmcResult {
  /** t of each point and the training error there (BN re-estimated at every point). */
  path: { t: number; error: number }[];
  barrier: number;
  tStar: number;
}

/**
 * The LMC barrier between two trained models with the same architecture and mask:
 * errors on `evalSplit` along the straight line between their weights, with BN
 * statistics re-estimated on `bnSplit` at every point (three-regime paper).
 */
export async function lmcBetween(
  trainer: Trainer,
  a: Tensors,
  b: Tensors,
  data: Dataset,
  o: { points: number; bnSplit: Split; evalSplit: Split; batchSize: number; endErrors?: { a?: number; b?: number } },
): Promise<LmcResult> {
  const path: { t: number; error: number }[] = [];
  // Neither evaluation nor BN re-estimation reads the momentum.
  const momentum = zeroMomentum(a);
  for (const t of interpolationPoints(o.points)) {
    // An end point is the model itself, BN re-estimated from scratch: a pair sharing a
    // model with one measured before may pass its error instead of measuring it again.
    const known = t === 0 ? o.endErrors?.a : t === 1 ? o.endErrors?.b : undefined;
    if (known !== undefined) {
      path.push({ t, error: known });
      continue;
    }
    trainer.state = { params: interpolate(a, b, t), buffers: trainer.state.buffers, momentum };
    await reestimateBatchNorm(trainer, evalBatches(o.bnSplit, o.batchSize, data.mean, data.std, { height: data.height, width: data.width }));
    const ev = await evaluate(trainer, data, o.evalSplit, o.batchSize);
    path.push({ t, error: 1 - ev.accuracy });
  }
  const { barrier, tStarIndex } = lmcBarrier(path.map((p) => p.error));
  return { path, barrier, tStar: path[tStarIndex]!.t };
}

/** Softmax outputs of the model (BN on its running statistics) on a split, [n, k]. */
export async function softmaxOutputs(trainer: Trainer, data: Dataset, split: Split, batchSize: number): Promise<Float64Array> {
  const k = data.numClasses;
  const out = new Float64Array(split.count * k);
  let row = 0;
  for (const b of evalBatches(split, batchSize, data.mean, data.std, { height: data.height, width: data.width })) {
    out.set(softmaxRows(await trainer.predict(b.x, b.size), b.size, k), row * k);
    row += b.size;
  }
  return out;
}

/** Linear CKA between two models' softmax outputs on the same images. */
export function ckaOfOutputs(a: Float64Array, b: Float64Array, n: number): number {
  return linearCka(a, b, n);
}

/**
 * Bootstrap standard error of the linear CKA of two models' outputs [n, k] over the
 * choice of images: `resamples` draws of n images with replacement (seeded), the
 * standard deviation of their CKAs. It says how far the value could move on other
 * images of the same distribution; NaN when resamples < 2.
 */
export function ckaBootstrapStdErr(a: Float64Array, b: Float64Array, n: number, resamples: number, seed: number): number {
  // 0 (metrics.ckaBootstrap = none) would otherwise come out as -0, an exact value.
  if (resamples < 2) return NaN;
  const k = a.length / n;
  const rng = new Rng(seed, "cka-bootstrap");
  const ra = new Float64Array(a.length),
    rb = new Float64Array(b.length);
  const values: number[] = [];
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) {
      const j = rng.int(n);
      ra.set(a.subarray(j * k, (j + 1) * k), i * k);
      rb.set(b.subarray(j * k, (j + 1) * k), i * k);
    }
    values.push(linearCka(ra, rb, n));
  }
  const m = values.reduce((s, v) => s + v, 0) / resamples;
  return Math.sqrt(values.reduce((s, v) => s + (v - m) ** 2, 0) / (resamples - 1));
}
