import type { BipBenchConfig } from "../../src/config/generated/bip-bench.ts";
import type { Fig2Config } from "../../src/config/generated/fig2.ts";
import { validateConfig } from "../../src/config/load.ts";
import type { BipData, MethodPoint } from "../../src/report/bip-report.ts";
import { regimeOf, type Fig2Cell } from "../../src/report/fig2-claims.ts";
import type { Fig2Data } from "../../src/report/fig2-report.ts";
import { runContext } from "../../src/util/provenance.ts";

/** Report inputs built by hand: Figure 2's cells and data, bench:bip-vs-imp's points and data. */

export const fig2Config = validateConfig<Fig2Config>("fig2", {});
export const TEMPS = [5, 12, 18],
  DENSITIES = [0.8, 0.05, 0.2]; // unsorted on purpose: the figure orders load by density

export function fig2Cells(): Fig2Cell[] {
  return TEMPS.flatMap((temperature, rank) =>
    DENSITIES.map((density) => {
      const testError = 0.3 - 0.2 * density - 0.02 * rank,
        lmcBarrier = density < 0.1 ? -0.12 + 0.01 * rank : 0.01,
        cka = 0.9 + 0.1 * density;
      return {
        temperature,
        hotRank: rank,
        density,
        testError,
        seedErrors: [testError - 0.001, testError + 0.001],
        denseSeedErrors: [{ seed: 1, error: testError }],
        testErrorStdErr: null,
        pairs: [],
        errorFrom: "measurement" as const,
        lmcBarrier,
        lmcStdErr: 0.005,
        cka,
        ckaStdErr: 0.002,
        regime: regimeOf(lmcBarrier, cka, fig2Config.regimes),
      };
    }),
  );
}

export function fig2Data(): Fig2Data {
  return {
    context: runContext(new Date(0)),
    preset: "smokepreset",
    command: "bun run repro:fig2 --preset smokepreset --set 'seeds.retrain=[1,2]'",
    config: fig2Config,
    axis: "epochs",
    temperatures: TEMPS,
    densities: DENSITIES,
    cells: fig2Cells(),
    dataset: { name: "tinyset", source: "test", train: 100, test: 50 },
    engine: "test",
    unitCommits: [],
    wallSeconds: 1,
    computeSeconds: 1,
    unitsRun: 0,
    unitsReused: 0,
    failed: [],
    scaledDown: [],
    errorWindow: { first: 1, last: 2, count: 2, finalPhaseFirst: 1 },
    streams: { dense: "dense", retrain: "retrain-of-dense-seed-d" },
    trainFingerprints: ["x"],
  };
}

export const bipConfig = validateConfig<BipBenchConfig>("bip-bench", {});

export function bipData(methods: string[]): BipData {
  const acc: Record<string, (t: number) => number> = { IMP: () => 0.86, OMP: () => 0.85, BiP: () => 0.855, "BiP-filter": (t) => 0.84 - 0.5 * t };
  const points: MethodPoint[] = [0.2, 0.5, 0.8].flatMap((target) =>
    methods.map((method) => ({
      method,
      target,
      sparsity: target,
      accuracies: [acc[method]!(target) - 0.002, acc[method]!(target) + 0.002],
      seconds: [10, 11],
    })),
  );
  return {
    context: runContext(new Date(0)),
    preset: "test",
    command: "bun run bench:bip-vs-imp --preset test",
    config: bipConfig,
    dataset: { name: "d", source: "s", train: 1, test: 1 },
    engine: "test",
    unitCommits: [],
    dense: { accuracy: 0.853, seconds: 60 },
    points,
    methods: methods.map((label) => ({ label, description: label })),
    timing: "test",
    scaledDown: [],
    trainFingerprints: ["x"],
    epochSeconds: { imp: [], bip: [] },
    engineSettings: methods.map((label) => ({ label, settings: ["onnx/cpu, fp32, deterministic"] })),
    failed: [],
  };
}
