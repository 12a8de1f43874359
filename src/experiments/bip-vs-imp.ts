import { availableParallelism } from "node:os";
import { join } from "node:path";
import type { BipBenchConfig } from "../config/generated/bip-bench.ts";
import { validateConfig } from "../config/load.ts";
import { loadPresetConfig } from "../config/presets.ts";
import { impRoundsFor } from "../prune/imp.ts";
import { renderBip, type MethodPoint } from "../report/bip-report.ts";
import { trainFingerprintsOf } from "../report/markdown.ts";
import { runUnits } from "../runner/run-units.ts";
import type { Unit } from "../runner/unit.ts";
import { BIP_REVISION } from "../train/bip-loop.ts";
import { loadData } from "../train/setup.ts";
import { writeFileAtomic } from "../util/atomic-write.ts";
import { notice } from "../util/notice.ts";
import { runContext } from "../util/provenance.ts";
import { dataDepartures, mkUnit, type ExperimentOptions } from "./common.ts";

/** How this configuration departs from the paper's protocol (the paper preset), in words for the report. */
export function scaledDownFromPaper(cfg: BipBenchConfig, datasetName: string): string[] {
  const paper = loadPresetConfig<BipBenchConfig>("bip-vs-imp", "bip-bench", "paper", []);
  const out = dataDepartures(datasetName, cfg.dense.data.trainLimit, paper.dense.data);
  if (cfg.dense.model.width !== paper.dense.model.width) out.push(`ResNet-20 width ${cfg.dense.model.width} instead of ${paper.dense.model.width}`);
  if (cfg.imp.epochs !== paper.imp.epochs) out.push(`${cfg.imp.epochs} IMP epochs per round instead of ${paper.imp.epochs}`);
  if (cfg.bip.epochs !== paper.bip.epochs) out.push(`${cfg.bip.epochs} BiP epochs instead of ${paper.bip.epochs}`);
  if (cfg.seeds.length < paper.seeds.length) out.push(`${cfg.seeds.length} seeds instead of ${paper.seeds.length}`);
  return out;
}

/** Unit ids leave out settings at the training and BiP defaults. */
function bipUnit(kind: string, config: Record<string, unknown>, deps: string[], label: string): Unit<unknown> {
  return mkUnit(kind, config, deps, label, { training: validateConfig("training", {}), bip: validateConfig<BipBenchConfig>("bip-bench", {}).bip });
}

export interface BipVsImpOptions extends ExperimentOptions {
  /** Whether the user asked for several units at once (times then are not comparable, and the report says so). */
  explicitJobs: boolean;
}

/**
 * BiP, IMP and OMP from one pretrained ResNet-20 (option A) to the same sparsities:
 * test accuracy over seeds and wall-clock time to each subnetwork, speedup, winning
 * tickets, and verdicts on the BiP paper's claims. Returns false when a unit failed.
 */
export async function runBipVsImp(opts: BipVsImpOptions): Promise<boolean> {
  const started = performance.now();
  const context = runContext();
  const cfg = loadPresetConfig<BipBenchConfig>("bip-vs-imp", "bip-bench", opts.preset, opts.overrides);
  const runner = opts.runner;
  const timing =
    runner.executor === "slurm"
      ? "Slurm tasks (times depend on the nodes; compare only runs on the same node type)"
      : opts.explicitJobs
        ? `WARNING: ${runner.jobs} units at once shared the cores, so times are not comparable`
        : `one unit at a time, ${runner.threadsPerJob || availableParallelism()} engine threads, nothing else scheduled by the harness`;

  const data = opts.dryRun ? null : await loadData(cfg.dense, notice);
  const finalEpoch = cfg.dense.optim.epochs;
  const dense = bipUnit(
    "dense",
    { training: cfg.dense, snapshots: [...new Set([cfg.rewindEpoch, finalEpoch])].sort((a, b) => a - b) },
    [],
    "dense pretraining",
  );
  const units: Unit<unknown>[] = [dense];
  const rounds = Math.max(...cfg.sparsities.map((s) => impRoundsFor(s, cfg.impRate)));
  const imp = new Map<number, Unit<unknown>[]>();
  const omp = new Map<string, Unit<unknown>>(),
    bip = new Map<string, Unit<unknown>>(),
    bipFilter = new Map<string, Unit<unknown>>();
  for (const seed of cfg.seeds) {
    const chain: Unit<unknown>[] = [];
    for (let round = 1; round <= rounds; round++) {
      const prev = chain.at(-1);
      const u = bipUnit(
        "imp-round",
        {
          training: { ...cfg.dense, seed, optim: cfg.imp },
          dense: dense.id,
          ...(prev ? { previous: prev.id } : {}),
          round,
          rate: cfg.impRate,
          rewindEpoch: cfg.rewindEpoch,
          finalEpoch,
        },
        prev ? [dense.id, prev.id] : [dense.id],
        `IMP seed ${seed} round ${round}`,
      );
      chain.push(u);
    }
    imp.set(seed, chain);
    units.push(...chain);
    for (const s of cfg.sparsities) {
      const o = bipUnit(
        "omp",
        { training: { ...cfg.dense, seed, optim: cfg.omp }, dense: dense.id, finalEpoch, sparsity: s },
        [dense.id],
        `OMP ${s} seed ${seed}`,
      );
      const b = bipUnit(
        "bip",
        { training: { ...cfg.dense, seed }, dense: dense.id, finalEpoch, sparsity: s, bip: cfg.bip, revision: BIP_REVISION },
        [dense.id],
        `BiP ${s} seed ${seed}`,
      );
      omp.set(`${s}/${seed}`, o);
      bip.set(`${s}/${seed}`, b);
      units.push(o, b);
      if (cfg.structured) {
        const f = bipUnit(
          "bip",
          { training: { ...cfg.dense, seed }, dense: dense.id, finalEpoch, sparsity: s, bip: { ...cfg.bip, structure: "filter" }, revision: BIP_REVISION },
          [dense.id],
          `BiP filter-wise ${s} seed ${seed}`,
        );
        bipFilter.set(`${s}/${seed}`, f);
        units.push(f);
      }
    }
  }
  notice(`timing: ${timing}`);
  const out = await runUnits(units, runner, { dryRun: opts.dryRun, reportDir: opts.reportDir, outputDirs: [{ dir: opts.reportDir, flag: "--report-dir" }] });
  if (!out || !data) return true;

  const rec = (u: Unit<unknown>) => out.records.get(u.id);
  const acc = (u: Unit<unknown>) => rec(u)?.metrics.finalTestAccuracy as number | undefined;
  const points: MethodPoint[] = [];
  for (const s of cfg.sparsities) {
    const round = impRoundsFor(s, cfg.impRate);
    const impUnits = cfg.seeds.map((seed) => imp.get(seed)!.slice(0, round));
    const impDone = impUnits.filter((chain) => chain.every((u) => rec(u)));
    if (impDone.length)
      points.push({
        method: "IMP",
        target: s,
        sparsity: impDone.map((c) => rec(c.at(-1)!)!.metrics.sparsity as number).reduce((a, b) => a + b, 0) / impDone.length,
        accuracies: impDone.map((c) => acc(c.at(-1)!)!),
        seconds: impDone.map((c) => c.reduce((t, u) => t + rec(u)!.wallSeconds, 0)),
      });
    for (const [method, map] of [
      ["OMP", omp],
      ["BiP", bip],
      ["BiP-filter", bipFilter],
    ] as const) {
      if (!map.size) continue;
      const us = cfg.seeds.map((seed) => map.get(`${s}/${seed}`)!).filter((u) => rec(u) && acc(u) !== undefined && acc(u) !== null);
      const runningBn = us.map((u) => rec(u)!.metrics.testAccuracyRunningBn).filter((a): a is number => typeof a === "number");
      if (us.length)
        points.push({
          method,
          target: s,
          sparsity: us.map((u) => rec(u)!.metrics.sparsity as number).reduce((a, b) => a + b, 0) / us.length,
          accuracies: us.map((u) => acc(u)!),
          ...(runningBn.length === us.length ? { accuraciesRunningBn: runningBn } : {}),
          seconds: us.map((u) => rec(u)!.wallSeconds),
        });
    }
  }
  const d = rec(dense);
  const scaledDown = scaledDownFromPaper(cfg, data.name);
  const report = await renderBip({
    context,
    preset: opts.preset,
    config: cfg,
    dataset: { name: data.name, source: data.source, train: data.train.count, test: data.test.count },
    engine: d ? `${d.env.engine}/${d.env.provider}` : "n/a",
    unitCommits: [...new Set([...out.records.values()].map((r) => r.env.commit))],
    dense: { accuracy: (d?.metrics.finalTestAccuracy as number) ?? NaN, seconds: d?.wallSeconds ?? NaN },
    points,
    timing,
    scaledDown,
    // Every method and seed must have trained on the same images.
    trainFingerprints: trainFingerprintsOf(out.records.values()),
    failed: [...out.failed.map((f) => `${f.label ?? f.id}: ${f.error}`), ...out.blocked.map((b) => `${b}: blocked`)],
  });
  for (const [name, svg] of Object.entries(report.svgs)) writeFileAtomic(join(opts.reportDir, name), svg);
  writeFileAtomic(
    join(opts.reportDir, "bip-vs-imp.json"),
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
    ) + "\n",
  );
  writeFileAtomic(join(opts.reportDir, "bip-vs-imp.md"), report.markdown);
  console.log(report.markdown);
  console.log(`\nwrote ${join(opts.reportDir, "bip-vs-imp.md")}, bip-vs-imp.json and ${Object.keys(report.svgs).length} SVG plots`);
  return out.failed.length === 0 && out.blocked.length === 0;
}
