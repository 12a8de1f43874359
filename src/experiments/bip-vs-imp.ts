import { ONE_SHOT_METHODS } from "../prune/one-shot.ts";
import { availableParallelism } from "node:os";
import type { BipBenchConfig } from "../config/generated/bip-bench.ts";
import { validateConfig } from "../config/load.ts";
import { loadPresetConfig } from "../config/presets.ts";
import { renderBip, type MethodPoint } from "../report/bip-report.ts";
import { autoPickNote, fallbackNote, precisionNote, trainerSettings, trainFingerprintsOf } from "../report/markdown.ts";
import { runUnits } from "../runner/run-units.ts";
import { mkUnit, type Unit } from "../runner/unit.ts";
import { pruningMethod, type AllMethodSettings } from "../runner/kinds/methods/registry.ts";
import type { UnitRecord } from "../config/generated/record.ts";
import { checkBatchSize, loadData, trainImagesOf } from "../train/setup.ts";
import { bipPointsCsv } from "../report/csv.ts";
import { notice } from "../util/notice.ts";
import { runContext } from "../util/provenance.ts";
import { commandLine, dataDepartures, modelDepartures, startDepartures, publishReport, unitFailures, type ExperimentOptions } from "./common.ts";

/** How this configuration departs from the paper's protocol (the paper preset), in words for the report. */
export function scaledDownFromPaper(cfg: BipBenchConfig, datasetName: string): string[] {
  const paper = loadPresetConfig<BipBenchConfig>("bip-vs-imp", "bip-bench", "paper", []);
  const out = dataDepartures(datasetName, cfg.dense.data.trainLimit, paper.dense.data);
  out.push(...modelDepartures(cfg.dense.model, paper.dense.model, "the speedup figure"));
  out.push(...startDepartures(cfg.dense));
  if (cfg.imp.epochs !== paper.imp.epochs) out.push(`${cfg.imp.epochs} IMP epochs per round instead of ${paper.imp.epochs}`);
  if (cfg.bip.epochs !== paper.bip.epochs) out.push(`${cfg.bip.epochs} BiP epochs instead of ${paper.bip.epochs}`);
  if (cfg.seeds.length < paper.seeds.length) out.push(`${cfg.seeds.length} seeds instead of ${paper.seeds.length}`);
  return out;
}

/**
 * One method at one target over seeds, from each seed's chain of records (undefined:
 * not complete): seeds whose chain is complete and ended with an accuracy count.
 */
export function methodPoint(method: string, target: number, chains: (UnitRecord | undefined)[][]): MethodPoint[] {
  const done = chains.filter((c): c is UnitRecord[] => c.every((r) => r) && typeof c.at(-1)!.metrics.finalTestAccuracy === "number");
  if (!done.length) return [];
  const last = done.map((c) => c.at(-1)!.metrics);
  const runningBn = last.map((m) => m.testAccuracyRunningBn).filter((a): a is number => typeof a === "number");
  return [
    {
      method,
      target,
      sparsity: last.map((m) => m.sparsity as number).reduce((a, b) => a + b, 0) / done.length,
      accuracies: last.map((m) => m.finalTestAccuracy as number),
      ...(runningBn.length === done.length ? { accuraciesRunningBn: runningBn } : {}),
      seconds: done.map((c) => c.reduce((t, r) => t + r.wallSeconds, 0)),
    },
  ];
}

/** Unit ids leave out settings at the training and BiP defaults. */
function bipUnit(kind: string, config: Record<string, unknown>, deps: string[], label: string): Unit<unknown> {
  return mkUnit(kind, config, deps, label, { training: validateConfig("training", {}), bip: validateConfig<BipBenchConfig>("bip-bench", {}).bip });
}

export interface BipVsImpOptions extends ExperimentOptions {
  /** Whether the user asked for several units at once (times then are not comparable, and the report says so). */
  explicitJobs: boolean;
}

/** How the units were timed, in words: the report's speedups are comparable only when one unit ran at a time. */
function timingNote(runner: ExperimentOptions["runner"], explicitJobs: boolean): string {
  if (runner.executor === "slurm") return "Slurm tasks (times depend on the nodes; compare only runs on the same node type)";
  if (explicitJobs) return `WARNING: ${runner.jobs} units at once shared the cores, so times are not comparable`;
  return `one unit at a time, ${runner.threadsPerJob || availableParallelism()} engine threads, nothing else scheduled by the harness`;
}

/** Every batch size the chosen methods train with, against the training images. */
function checkBatchSizes(cfg: BipBenchConfig, trainImages: number): void {
  const denseData = { path: "dense.data", cfg: cfg.dense.data };
  checkBatchSize("dense.optim.batchSize", cfg.dense.optim.batchSize, trainImages, denseData);
  const used = new Set(cfg.methods);
  if (used.has("imp")) checkBatchSize("imp.batchSize", cfg.imp.batchSize, trainImages, denseData);
  // OMP, random and every other one-shot method fine-tune with omp's settings.
  if (cfg.methods.some((m) => m === "omp" || m === "random" || Object.hasOwn(ONE_SHOT_METHODS, m)))
    checkBatchSize("omp.batchSize", cfg.omp.batchSize, trainImages, denseData);
  if (used.has("bip") || used.has("bip-filter")) checkBatchSize("bip.batchSize", cfg.bip.batchSize, trainImages, denseData);
}

/** One shared dense pretraining, then per method and seed the units that reach each target sparsity. */
export function planBipVsImp(cfg: BipBenchConfig) {
  const methods = [...new Set(cfg.methods)].map((m) => pruningMethod(m));
  // Compiles only while the bench config holds every registered method's settings.
  const settings: AllMethodSettings = cfg;
  const finalEpoch = cfg.dense.optim.epochs;
  const dense = bipUnit(
    "dense",
    { training: cfg.dense, snapshots: [...new Set([cfg.rewindEpoch, finalEpoch])].sort((a, b) => a - b) },
    [],
    "dense pretraining",
  );
  const units: Unit<unknown>[] = [dense];
  const planned = methods.map((method) => ({
    method,
    bySeed: cfg.seeds.map((seed) => {
      // Each method draws its own data stream, apart from the dense pretraining's (the default one).
      const p = method.plan({ dense, training: { ...cfg.dense, seed, stream: method.name }, finalEpoch, sparsities: cfg.sparsities, settings, unit: bipUnit });
      units.push(...p.units);
      return p;
    }),
  }));
  return { dense, units, planned, settings };
}

type BipPlan = ReturnType<typeof planBipVsImp>;

/** The dense model's test accuracy and wall time, from its record (NaN when it did not finish). */
function denseResult(r: UnitRecord | undefined): { accuracy: number; seconds: number } {
  const accuracy = r?.metrics.finalTestAccuracy;
  return { accuracy: typeof accuracy === "number" ? accuracy : NaN, seconds: r?.wallSeconds ?? NaN };
}

/** What the records say: every method's point at every target, per-epoch times, each method's engine settings. */
function bipResults(cfg: BipBenchConfig, plan: BipPlan, records: ReadonlyMap<string, UnitRecord>) {
  const rec = (u: Unit<unknown>) => records.get(u.id);
  const points = cfg.sparsities.flatMap((target) =>
    plan.planned.flatMap(({ method, bySeed }) =>
      methodPoint(
        method.label,
        target,
        bySeed.map((p) => p.chain(target)).map((chain) => chain.map(rec)),
      ),
    ),
  );
  const unitsOf = (name: string) => plan.planned.filter((p) => p.method.name === name).flatMap((p) => p.bySeed.flatMap((b) => b.units));
  const perEpoch = (r: UnitRecord | undefined, epochs: number) => (r && r.status === "done" ? [r.wallSeconds / epochs] : []);
  return {
    points,
    epochSeconds: {
      imp: unitsOf("imp").flatMap((u) => perEpoch(rec(u), cfg.imp.epochs)),
      bip: unitsOf("bip").flatMap((u) => perEpoch(rec(u), cfg.bip.epochs)),
    },
    engineSettings: plan.planned.map(({ method, bySeed }) => ({
      label: method.label,
      settings: trainerSettings(bySeed.flatMap((p) => p.units.map(rec).filter((r): r is UnitRecord => r !== undefined))),
    })),
  };
}

/**
 * BiP, IMP and OMP from one pretrained ResNet-20 (option A) to the same sparsities:
 * test accuracy over seeds and wall-clock time to each subnetwork, speedup, winning
 * tickets, and verdicts on the BiP paper's claims. Returns false when a unit failed.
 */
export async function runBipVsImp(opts: BipVsImpOptions): Promise<boolean> {
  const started = performance.now();
  const context = runContext();
  const cfg = loadPresetConfig<BipBenchConfig>("bip-vs-imp", "bip-bench", opts.preset, opts.overrides, opts.configFiles);
  const timing = timingNote(opts.runner, opts.explicitJobs);
  const plan = planBipVsImp(cfg);
  const data = opts.dryRun ? null : await loadData(cfg.dense, notice);
  checkBatchSizes(cfg, trainImagesOf(cfg.dense, data));
  notice(`timing: ${timing}`);
  const out = await runUnits(plan.units, opts.runner, {
    dryRun: opts.dryRun,
    reportDir: opts.reportDir,
    outputDirs: [{ dir: opts.reportDir, flag: "--report-dir" }],
  });
  if (!out || !data) return true;

  const records = [...out.records.values()];
  const d = out.records.get(plan.dense.id);
  const dense = denseResult(d);
  const { points, epochSeconds, engineSettings } = bipResults(cfg, plan, out.records);
  const failed = unitFailures(out);
  const report = await renderBip({
    context,
    preset: opts.preset,
    command: commandLine("bench:bip-vs-imp", opts),
    config: cfg,
    dataset: { name: data.name, source: data.source, train: data.train.count, test: data.test.count },
    engine: d ? `${d.env.engine}/${d.env.provider}, ${precisionNote(records)}${autoPickNote(records)}${fallbackNote(records)}` : "n/a",
    unitCommits: [...new Set(records.map((r) => r.env.commit))],
    dense,
    points,
    methods: plan.planned.map(({ method }) => ({ label: method.label, description: method.describe(plan.settings) })),
    timing,
    scaledDown: scaledDownFromPaper(cfg, data.name),
    // Every method and seed must have trained on the same images.
    trainFingerprints: trainFingerprintsOf(records),
    epochSeconds,
    engineSettings,
    failed: failed.map((f) => `${f.unit}: ${f.error}`),
  });
  const json =
    JSON.stringify(
      {
        context,
        preset: opts.preset,
        config: cfg,
        timing,
        dense: { accuracy: d?.metrics.finalTestAccuracy, seconds: d?.wallSeconds },
        points,
        claims: report.claims,
        wallSeconds: (performance.now() - started) / 1000,
      },
      null,
      2,
    ) + "\n";
  // Failed or blocked units: written beside the last complete report as bip-vs-imp.partial.md etc., which stays as it was.
  return publishReport(
    opts.reportDir,
    { ...report.svgs, "bip-vs-imp.json": json, "bip-vs-imp.csv": bipPointsCsv(points), "bip-vs-imp.md": report.markdown },
    "bip-vs-imp.md",
    failed,
  );
}
