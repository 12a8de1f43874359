#!/usr/bin/env bun
/**
 * bun run bench:bip-vs-imp — BiP, IMP and OMP from one pretrained ResNet-20 (option A)
 * to the same sparsities: test accuracy over seeds and wall-clock time to each
 * subnetwork, speedup, winning tickets, and verdicts on the BiP paper's claims.
 * Every run is a runner unit (resumable); timing units run one at a time with all
 * cores unless --jobs says otherwise, and the report says which.
 */
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { addRunnerOptions, baseCommand, notice, runMain, runnerConfig, type RunnerFlags } from "../src/cli/common.ts";
import type { BipBenchConfig } from "../src/config/generated/bip-bench.ts";
import { validateConfig } from "../src/config/load.ts";
import { loadPresetConfig } from "../src/config/presets.ts";
import { impRoundsFor } from "../src/prune/imp.ts";
import { renderBip, type MethodPoint } from "../src/report/bip-report.ts";
import { trainFingerprintsOf } from "../src/report/markdown.ts";
import { runContext } from "../src/util/provenance.ts";
import { runUnits } from "../src/runner/run-units.ts";
import { unitId, type Unit } from "../src/runner/unit.ts";
import { loadData } from "../src/train/setup.ts";
import { BIP_REVISION } from "../src/train/bip-loop.ts";
import { writeFileAtomic } from "../src/util/atomic-write.ts";

const cmd = addRunnerOptions(baseCommand("bench:bip-vs-imp", "BiP vs IMP (and OMP): accuracy and wall-clock time to the same sparsities")).option(
  "--data-dir <dir>",
  "dataset directory (cifar-10-batches-bin or IDX files); same as --set dense.data.dataDir=<dir>",
);

function mkUnit(kind: string, config: Record<string, unknown>, deps: string[], label: string): Unit<unknown> {
  const spec = { kind, config, deps, label };
  const defaults = { training: validateConfig("training", {}), bip: validateConfig<BipBenchConfig>("bip-bench", {}).bip };
  return { ...spec, id: unitId(spec, defaults) };
}

await runMain(async () => {
  const started = performance.now();
  const context = runContext();
  const opts = cmd.parse().opts<RunnerFlags & { preset: string; set: string[]; reportDir: string; dataDir?: string }>();
  const cfg = loadPresetConfig<BipBenchConfig>("bip-vs-imp", "bip-bench", opts.preset, [
    ...opts.set,
    ...(opts.dataDir ? [`dense.data.dataDir=${opts.dataDir}`] : []),
  ]);
  // Wall-clock comparisons need units that do not share cores: one at a time, all cores.
  const explicitJobs = opts.jobs !== undefined && Number(opts.jobs) !== 1;
  const runner = runnerConfig({
    ...opts,
    jobs: opts.jobs ?? "1",
    threadsPerJob: opts.threadsPerJob ?? (explicitJobs ? undefined : String(availableParallelism())),
  });
  const timing =
    runner.executor === "slurm"
      ? "Slurm tasks (times depend on the nodes; compare only runs on the same node type)"
      : explicitJobs
        ? `WARNING: ${runner.jobs} units at once shared the cores, so times are not comparable`
        : `one unit at a time, ${runner.threadsPerJob || availableParallelism()} engine threads, nothing else scheduled by the harness`;

  const data = opts.dryRun ? null : await loadData(cfg.dense, notice);
  const finalEpoch = cfg.dense.optim.epochs;
  const dense = mkUnit("dense", { training: cfg.dense, snapshots: [...new Set([cfg.rewindEpoch, finalEpoch])].sort((a, b) => a - b) }, [], "dense pretraining");
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
      const u = mkUnit(
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
      const o = mkUnit(
        "omp",
        { training: { ...cfg.dense, seed, optim: cfg.omp }, dense: dense.id, finalEpoch, sparsity: s },
        [dense.id],
        `OMP ${s} seed ${seed}`,
      );
      const b = mkUnit(
        "bip",
        { training: { ...cfg.dense, seed }, dense: dense.id, finalEpoch, sparsity: s, bip: cfg.bip, revision: BIP_REVISION },
        [dense.id],
        `BiP ${s} seed ${seed}`,
      );
      omp.set(`${s}/${seed}`, o);
      bip.set(`${s}/${seed}`, b);
      units.push(o, b);
      if (cfg.structured) {
        const f = mkUnit(
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
  if (!out || !data) return;

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
  const scaledDown = [
    ...(data.name !== "cifar10" ? [`dataset ${data.name} instead of CIFAR-10`] : []),
    ...(cfg.dense.data.trainLimit ? [`${cfg.dense.data.trainLimit} training images instead of 50,000`] : []),
    ...(cfg.dense.model.width !== 16 ? [`ResNet-20 width ${cfg.dense.model.width} instead of 16`] : []),
    ...(cfg.imp.epochs !== 160 ? [`${cfg.imp.epochs} IMP epochs per round instead of 160`] : []),
    ...(cfg.bip.epochs !== 100 ? [`${cfg.bip.epochs} BiP epochs instead of 100`] : []),
    ...(cfg.seeds.length < 3 ? [`${cfg.seeds.length} seeds instead of 3`] : []),
  ];
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
  if (out.failed.length || out.blocked.length) process.exit(1);
});
