import type { Fig2Config } from "../config/generated/fig2.ts";
import { lmcBarrierStdErr } from "../metrics/lmc.ts";
import { averageOverPairs, type PairValue } from "../metrics/pair-average.ts";
import { regimeOf, type Fig2Cell, type Fig2Pair } from "../report/fig2-claims.ts";
import { mean, stdErr } from "../util/stats.ts";
import type { CellPairMetrics } from "../runner/kinds/cell-pair-metrics.ts";
import type { Unit } from "../runner/unit.ts";

/** One cell of the grid under one dense seed: its retrained models and the unit that compares every pair of them. */
export interface Fig2SeedCell {
  denseSeed: number;
  dense: Unit<unknown>;
  retrains: { seed: number; unit: Unit<unknown> }[];
  cell: Unit<unknown>;
}

export interface Fig2GridCell {
  value: number;
  rank: number;
  density: number;
  bySeed: Fig2SeedCell[];
}

/** What fig2Cells reads of a unit's record: its metrics (undefined: no record). */
export type MetricsOf = (unitId: string) => Record<string, unknown> | undefined;

/**
 * The phase-diagram cells from the units' records: test error over every retrained model
 * (its standard error from the dense seeds' means when there are two or more, else from
 * the retrain seeds); LMC and CKA averaged over every pair of retrain seeds under every
 * dense seed (src/metrics/pair-average.ts), each pair's values kept. `lmcImages`: the
 * images each path point was measured on (for a barrier's binomial error), for records
 * that do not say (made before the cell unit kept the count).
 */
export function fig2Cells(grid: Fig2GridCell[], metricsOf: MetricsOf, cfg: Fig2Config, lmcImages: number): Fig2Cell[] {
  return grid.map((g) => {
    const errorOf = (id: string) => metricsOf(id)?.testError;
    const perDense = g.bySeed.map((s) => {
      const errors = s.retrains.map((r) => errorOf(r.unit.id)).filter((e): e is number => typeof e === "number");
      return { seed: s.denseSeed, errors, complete: errors.length === s.retrains.length };
    });
    const seedErrors = perDense.flatMap((p) => p.errors);
    const complete = perDense.every((p) => p.complete);
    const denseSeedErrors = perDense.map((p) => ({ seed: p.seed, error: p.complete && p.errors.length ? mean(p.errors) : null }));
    const denseMeans = denseSeedErrors.map((d) => d.error).filter((e): e is number => e !== null);
    // NaN (fewer than two values) becomes null below.
    const testErrorStdErr = complete ? stdErr(denseMeans.length >= 2 ? denseMeans : seedErrors) : null;

    const pairs: Fig2Pair[] = [];
    const lmcValues: PairValue[] = [],
      ckaValues: PairValue[] = [];
    for (const s of g.bySeed) {
      const recorded = metricsOf(s.cell.id)?.pairs as CellPairMetrics[] | undefined;
      const seedOf = new Map(s.retrains.map((r) => [r.unit.id, r.seed]));
      for (const p of recorded ?? []) {
        const tStar = p.lmcPath.findIndex((q) => q.t === p.lmcTStar);
        const lmcStdErr =
          tStar >= 0
            ? lmcBarrierStdErr(
                p.lmcPath.map((q) => q.error),
                tStar,
                p.lmcImages ?? lmcImages,
              )
            : null;
        const seeds = p.models.map((id) => seedOf.get(id)!) as [number, number];
        pairs.push({ denseSeed: s.denseSeed, retrainSeeds: seeds, lmcBarrier: p.lmcBarrier, lmcStdErr, cka: p.cka, ckaStdErr: p.ckaStdErr });
        lmcValues.push({ group: s.denseSeed, models: seeds, value: p.lmcBarrier, stdErr: lmcStdErr });
        ckaValues.push({ group: s.denseSeed, models: seeds, value: p.cka, stdErr: p.ckaStdErr });
      }
    }
    // A cell with a dense seed's pairs missing is not averaged over a part of its seeds.
    const allPairs = g.bySeed.every((s) => metricsOf(s.cell.id)?.pairs !== undefined);
    const lmc = allPairs ? averageOverPairs(lmcValues) : null,
      cka = allPairs ? averageOverPairs(ckaValues) : null;
    const lmcBarrier = lmc?.mean ?? null,
      ckaMean = cka?.mean ?? null;
    return {
      temperature: g.value,
      hotRank: g.rank,
      density: g.density,
      testError: complete && seedErrors.length ? mean(seedErrors) : null,
      seedErrors,
      denseSeedErrors,
      testErrorStdErr: testErrorStdErr !== null && Number.isFinite(testErrorStdErr) ? testErrorStdErr : null,
      pairs,
      lmcBarrier,
      lmcStdErr: lmc?.stdErr ?? null,
      cka: ckaMean,
      ckaStdErr: cka?.stdErr ?? null,
      errorFrom: lmc?.errorFrom ?? null,
      regime: regimeOf(lmcBarrier, ckaMean, cfg.regimes),
    };
  });
}
