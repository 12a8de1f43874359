#!/usr/bin/env bun
/**
 * bun run bench:train — training speed of every engine/device that loads here, raw
 * PyTorch side by side, a grid row, ORT's per-op cost table and a real accuracy check.
 * The experiment lives in src/experiments/train-throughput.ts; this script parses flags.
 */
import { availableParallelism } from "node:os";
import {
  addDataOptions,
  addRunnerOptions,
  baseCommand,
  numberFlag,
  runMain,
  runnerConfig,
  settingsOf,
  type CommonOptions,
  type RunnerFlags,
} from "../src/cli/common.ts";
import { ConfigError } from "../src/config/load.ts";
import { runTrainThroughput } from "../src/experiments/train-throughput.ts";

const SETTINGS = { command: "bench-train", schema: "bench-train", example: "throughput.measuredSteps=10", data: "accuracy.training.data" };

const cmd = addDataOptions(
  addRunnerOptions(baseCommand("bench:train", "Training throughput per engine/EP, PyTorch side by side, per-op costs and an accuracy check", SETTINGS)).option(
    "--threads <n>",
    "engine threads (default: all cores)",
  ),
  SETTINGS,
  "dataset directory for the accuracy check (cifar-10-batches-bin, Fashion-MNIST IDX files, or the four .npy files of --dataset npy)",
)
  .option(
    "--report-name <name>",
    "report file name without extension (a GPU machine's: train-throughput-gpu, which --dry-run estimates also read)",
    "train-throughput",
  )
  .option("--no-torch", "skip the raw PyTorch comparison")
  .option("--no-accuracy", "skip the accuracy check");

await runMain(async () => {
  const opts = cmd.parse().opts<
    RunnerFlags &
      CommonOptions & {
        threads?: string;
        torch: boolean;
        accuracy: boolean;
        reportName: string;
      }
  >();
  const settings = settingsOf(opts, SETTINGS);
  const threads = numberFlag("--threads", opts.threads) ?? availableParallelism();
  if (threads < 1) throw new ConfigError(`--threads: expected a positive integer, given "${opts.threads}"`);
  // The accuracy check is one unit; it gets the whole machine, after the timings.
  const runner = runnerConfig({ ...opts, jobs: "1", threadsPerJob: String(threads) });
  const { reportDir, reportName, torch, accuracy, dryRun } = opts;
  await runTrainThroughput({ ...settings, threads, runner, reportDir, reportName, torch, accuracy, dryRun });
});
