#!/usr/bin/env bun
/**
 * bun run bench:bip-vs-imp — BiP vs IMP (and OMP, Hydra, GraSP, random) to the same sparsities: accuracy,
 * wall-clock time, speedup, winning tickets, verdicts on the BiP paper's claims.
 * The experiment lives in src/experiments/bip-vs-imp.ts; this script parses flags.
 */
import { availableParallelism } from "node:os";
import {
  addDataOptions,
  addModelOptions,
  addRunnerOptions,
  baseCommand,
  runMain,
  runnerConfig,
  settingsOf,
  type CommonOptions,
  type RunnerFlags,
} from "../src/cli/common.ts";
import { runBipVsImp } from "../src/experiments/bip-vs-imp.ts";

const SETTINGS = { command: "bip-vs-imp", schema: "bip-bench", example: "bip.epochs=10", data: "dense.data", model: "dense.model" };

const cmd = addRunnerOptions(
  addModelOptions(
    addDataOptions(
      baseCommand("bench:bip-vs-imp", "BiP vs IMP, OMP, Hydra, GraSP and random pruning: accuracy and wall-clock time to the same sparsities", SETTINGS),
      SETTINGS,
    ),
    SETTINGS,
  ),
);

await runMain(async () => {
  const opts = cmd.parse().opts<RunnerFlags & CommonOptions>();
  const settings = settingsOf(opts, SETTINGS);
  // Timing units run one at a time with every core unless --jobs says otherwise.
  const explicitJobs = opts.jobs !== undefined && Number(opts.jobs) !== 1;
  const runner = runnerConfig({
    ...opts,
    jobs: opts.jobs ?? "1",
    threadsPerJob: opts.threadsPerJob ?? (explicitJobs ? undefined : String(availableParallelism())),
  });
  const ok = await runBipVsImp({ ...settings, runner, explicitJobs, reportDir: opts.reportDir, dryRun: opts.dryRun });
  if (!ok) process.exit(1);
});
