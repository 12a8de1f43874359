#!/usr/bin/env bun
/**
 * bun run train — trains models from a preset (plus --set overrides), one unit per
 * seed, through the runner: finished seeds are reused, interrupted ones resume from
 * their last epoch checkpoint, --jobs runs seeds in parallel, --executor slurm submits
 * them as a job array.
 */
import type { TrainingConfig } from "../config/generated/training.ts";
import { loadPresetConfig } from "../config/presets.ts";
import { table } from "../report/markdown.ts";
import { outcomeExitCode, runUnits } from "../runner/run-units.ts";
import { trainUnit } from "../runner/kinds/train.ts";
import { checkBatchSize, loadData, trainImagesOf } from "../train/setup.ts";
import { seedList } from "./arg-parsers.ts";
import { addDataOptions, addRunnerOptions, baseCommand, notice, runMain, runnerConfig, settingsOf, type CommonOptions, type RunnerFlags } from "./common.ts";

const SETTINGS = {
  command: "train",
  schema: "training",
  example: "optim.epochs=30",
  reportDirHelp: "only read for --dry-run's time estimate (the measured throughput in <dir>/train-throughput.json); train writes no report",
  data: "data",
};

const cmd = addRunnerOptions(
  addDataOptions(
    baseCommand("train", "Train models (one per seed; resumable, parallel, Slurm) and print their test accuracy", SETTINGS),
    SETTINGS,
    "an existing cifar-10-batches-bin (or its parent), a Fashion-MNIST IDX directory, or the four .npy files of --dataset npy",
  ).option("--seeds <list>", "comma-separated distinct seeds, one model each (default: the preset's seed)"),
);

await runMain(async () => {
  const opts = cmd.parse().opts<RunnerFlags & CommonOptions & { seeds?: string }>();
  const { preset, overrides, configFiles } = settingsOf(opts, SETTINGS);
  const base = loadPresetConfig<TrainingConfig>("train", "training", preset, overrides, configFiles);
  const runner = runnerConfig(opts);
  const seeds = opts.seeds === undefined ? [base.seed] : seedList("--seeds", opts.seeds);
  // Resolve the data once here: a bad path fails before anything is scheduled, and a
  // download happens once rather than in every worker.
  const data = opts.dryRun ? null : await loadData(base, notice);
  checkBatchSize("optim.batchSize", base.optim.batchSize, trainImagesOf(base, data), { path: "data", cfg: base.data });
  const units = seeds.map((seed) => trainUnit({ ...base, seed }, `${base.model.arch} w${base.model.width} seed ${seed}`));
  const out = await runUnits(units, runner, { dryRun: opts.dryRun, reportDir: opts.reportDir });
  if (!out) return;
  const rows = units.map((u) => {
    const r = out.records.get(u.id);
    const m = r?.metrics as { finalTestAccuracy?: number | null; dataset?: { name: string } } | undefined;
    const acc = m?.finalTestAccuracy;
    return [
      u.label!,
      u.id,
      r ? r.status : "not complete",
      m?.dataset?.name ?? "-",
      acc == null ? "-" : `${(100 * acc).toFixed(2)}%`,
      r ? `${r.env.engine}/${r.env.provider}` : "-",
    ];
  });
  console.log(table(["model", "unit", "status", "dataset", "test accuracy", "engine"], rows));
  for (const f of out.failed) console.error(`failed: ${f.label ?? f.id}: ${f.error}`);
  const code = outcomeExitCode(out);
  if (code) process.exit(code);
});
