#!/usr/bin/env bun
/**
 * bun run repro:fig2 — the three-regime phase diagram (Zhou et al., ICML 2023, Fig. 2).
 * The experiment lives in src/experiments/fig2.ts; this script parses flags.
 */
import { addDataOptions, addRunnerOptions, baseCommand, runMain, runnerConfig, settingsOf, type CommonOptions, type RunnerFlags } from "../src/cli/common.ts";
import { runFig2 } from "../src/experiments/fig2.ts";

// Not dense.optim.epochs: the epochs and batch-size temperature axes set that themselves.
const SETTINGS = { command: "fig2", schema: "fig2", example: "retrain.epochs=30", data: "dense.data" };

const cmd = addRunnerOptions(
  addDataOptions(
    baseCommand("repro:fig2", "Reproduce Figure 2 of the three-regime paper: phase diagrams of test error, LMC and CKA, regimes, claims", SETTINGS).option(
      "--temperature <axis>",
      "temperature axis: epochs (checkpoints of one run), batch-size (iterations fixed) or sam (SAM rho); default from the preset",
    ),
    SETTINGS,
  ),
);

await runMain(async () => {
  const opts = cmd.parse().opts<RunnerFlags & CommonOptions & { temperature?: string }>();
  const settings = settingsOf(opts, SETTINGS, opts.temperature ? [`temperature.axis=${opts.temperature}`] : []);
  const ok = await runFig2({ ...settings, runner: runnerConfig(opts), reportDir: opts.reportDir, dryRun: opts.dryRun });
  if (!ok) process.exit(1);
});
