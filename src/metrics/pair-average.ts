import { mean as avg, stdErr as stdErrOfMean } from "../util/stats.ts";

/**
 * A metric of pairs of models (an LMC barrier, a CKA) averaged over every pair of a
 * cell, as the three-regime authors average every pair of 3 retrain seeds over 3 dense
 * seeds, with a standard error that respects what is independent: the models, not the
 * pairs (three pairs of three models share every model).
 */
export interface PairValue {
  /** The group the pair belongs to (its dense seed): pairs never cross groups. */
  group: number;
  /** The two models' indices within the group (their retrain seeds). */
  models: [number, number];
  value: number;
  /** The value's own measurement error (finite images), null when unknown. */
  stdErr: number | null;
}

export interface PairAverage {
  mean: number;
  stdErr: number | null;
  /** How the standard error was obtained, for the report. */
  errorFrom: "groups" | "jackknife" | "measurement";
  pairs: number;
}

/**
 * Delete-one-model jackknife standard error of a mean over all pairs of m >= 3 models:
 * leave out each model (and its pairs), take the mean of the pairs left; the variance
 * is (m-1)/m times the sum of squared deviations of those means. Null below 3 models.
 */
export function jackknifeStdErr(pairs: PairValue[]): number | null {
  const models = [...new Set(pairs.flatMap((p) => p.models))];
  if (models.length < 3) return null;
  const loo = models.map((m) => avg(pairs.filter((p) => !p.models.includes(m)).map((p) => p.value)));
  const centre = avg(loo);
  return Math.sqrt(((models.length - 1) / models.length) * loo.reduce((s, x) => s + (x - centre) ** 2, 0));
}

/**
 * Mean over every pair, each group (dense seed) weighted equally, and its standard error:
 * - two or more groups: the spread of the group means (independent dense models);
 * - one group of three or more models: the jackknife over its models;
 * - one pair: its own measurement error.
 * Never below the pairs' own measurement error averaged over them (root mean square over
 * the square root of the pair count), since a spread from a handful of values can come
 * out near zero by chance. Null for no pairs.
 */
export function averageOverPairs(pairs: PairValue[]): PairAverage | null {
  if (!pairs.length) return null;
  const groups = [...new Set(pairs.map((p) => p.group))].map((g) => pairs.filter((p) => p.group === g));
  const groupMeans = groups.map((g) => avg(g.map((p) => p.value)));
  const mean = avg(groupMeans);
  const known = pairs.map((p) => p.stdErr).filter((s): s is number => Number.isFinite(s));
  const floor = known.length ? Math.sqrt(avg(known.map((s) => s * s)) / pairs.length) : null;
  let spread: number | null = null,
    errorFrom: PairAverage["errorFrom"] = "measurement";
  if (groups.length >= 2) {
    spread = stdErrOfMean(groupMeans);
    errorFrom = "groups";
  } else {
    spread = jackknifeStdErr(pairs);
    if (spread !== null) errorFrom = "jackknife";
  }
  // Both are never negative: the larger of the known ones, null when neither is known.
  const stdErr = spread === null && floor === null ? null : Math.max(spread ?? 0, floor ?? 0);
  // The measurement floor decides where it exceeds a known spread (with no spread, errorFrom is "measurement" already).
  return { mean, stdErr, errorFrom: (floor ?? -Infinity) > (spread ?? Infinity) ? "measurement" : errorFrom, pairs: pairs.length };
}
