#!/usr/bin/env bun
/**
 * bun run bench:sparse-inference — what pruned models gain at inference on
 * onnxruntime-node (dense vs unstructured vs structured; latency, throughput, FLOP
 * speedup). The experiment lives in src/experiments/sparse-inference.ts; this script
 * parses flags.
 */
import { Option } from "commander";
import { addRunnerOptions, baseCommand, runMain, runnerConfig, type RunnerFlags } from "../src/cli/common.ts";
import { runSparseInference } from "../src/experiments/sparse-inference.ts";

const cmd = addRunnerOptions(
  baseCommand("bench:sparse-inference", "Inference latency/throughput of dense, unstructured and structured pruned models on onnxruntime-node"),
)
  .option("--models-dir <dir>", "where models:export wrote (or will write) the preset's models", "models")
  .addOption(new Option("--provider <ep>", "execution provider (auto: CUDA if it loads, else CPU)").choices(["auto", "cuda", "cpu"]))
  .option("--threads <n>", "ORT intra-op threads (default: all cores)");

await runMain(async () => {
  const opts = cmd.parse().opts<RunnerFlags & { preset: string; reportDir: string; set: string[]; modelsDir: string; provider?: string; threads?: string }>();
  const overrides = [...opts.set, ...(opts.provider ? [`provider=${opts.provider}`] : []), ...(opts.threads ? [`threads=${opts.threads}`] : [])];
  await runSparseInference({
    preset: opts.preset,
    overrides,
    runner: runnerConfig(opts),
    modelsDir: opts.modelsDir,
    reportDir: opts.reportDir,
    dryRun: opts.dryRun,
  });
});
