#!/usr/bin/env bun
/**
 * bun run bench:sparse-inference — what pruned models gain at inference on
 * onnxruntime-node (dense vs unstructured vs structured; latency, throughput, FLOP
 * speedup). The experiment lives in src/experiments/sparse-inference.ts; this script
 * parses flags.
 */
import { Option } from "commander";
import { addRunnerOptions, baseCommand, runMain, runnerConfig, settingsOf, type CommonOptions, type RunnerFlags } from "../src/cli/common.ts";
import { rerenderSparseInference, runSparseInference } from "../src/experiments/sparse-inference.ts";

const SETTINGS = { command: "sparse-inference", schema: "sparse-inference", example: "timing.rounds=5" };

const cmd = addRunnerOptions(
  baseCommand("bench:sparse-inference", "Inference latency/throughput of dense, unstructured and structured pruned models on onnxruntime-node", SETTINGS),
)
  .option("--models-dir <dir>", "where models:export wrote (or will write) the preset's models", "models")
  .addOption(
    new Option("--provider <ep>", "execution provider (auto: CUDA if it loads, else CPU; webgpu: the bundled WebGPU EP, needs a Vulkan GPU driver)").choices([
      "auto",
      "cuda",
      "webgpu",
      "cpu",
    ]),
  )
  .option("--data-dir <dir>", "dataset directory for the accuracy check before timing (and for models:export when it runs first)")
  .option("--threads <n>", "ORT intra-op threads (default: all cores)")
  .option("--rerender", "draw the report again from <report-dir>/sparse-inference.json without measuring (after a change in how reports are drawn)");

await runMain(async () => {
  const opts = cmd
    .parse()
    .opts<RunnerFlags & CommonOptions & { modelsDir: string; provider?: string; threads?: string; dataDir?: string; rerender?: boolean }>();
  if (opts.rerender) return rerenderSparseInference(opts.reportDir);
  const settings = settingsOf(opts, SETTINGS, [...(opts.provider ? [`provider=${opts.provider}`] : []), ...(opts.threads ? [`threads=${opts.threads}`] : [])]);
  await runSparseInference({
    ...settings,
    ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
    runner: runnerConfig(opts),
    modelsDir: opts.modelsDir,
    reportDir: opts.reportDir,
    dryRun: opts.dryRun,
  });
});
