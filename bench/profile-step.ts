#!/usr/bin/env bun
/**
 * Per-op-type cost of one PreResNet-20 training step on ONNX Runtime (CPU EP), from
 * ORT's own profiler: where the time goes, to guide graph formulation work.
 */
import { withVersion } from "../src/cli/common.ts";
import { Command } from "commander";
import { intArg } from "../src/cli/arg-parsers.ts";
import { availableParallelism } from "node:os";
import { profileTrainStep } from "../src/engine/onnx/profile.ts";
import { buildModel } from "../src/models/registry.ts";

const opts = withVersion(new Command("profile-step"))
  .description("ORT profiler breakdown of one PreResNet-20 training step (CPU EP) by op type and node")
  .option("--width <n>", "model width", intArg(1), 16)
  .option("--batch <n>", "batch size", intArg(1), 128)
  .option("--channels <n>", "input channels", intArg(1), 3)
  .option("--threads <n>", "intra-op threads", intArg(1), availableParallelism())
  .option("--steps <n>", "profiled steps", intArg(1), 5)
  .option("--nodes <n>", "also list the N most expensive nodes", intArg(0), 0)
  .showHelpAfterError("(run with --help for usage)")
  // Usage errors exit 2 like every other command; --help exits 0.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
  .parse()
  .opts<{ width: number; batch: number; channels: number; threads: number; steps: number; nodes: number }>();

const spec = buildModel("preresnet20", { width: opts.width, inputShape: [opts.channels, 32, 32], numClasses: 10 });
const p = await profileTrainStep(spec, { batch: opts.batch, threads: opts.threads, steps: opts.steps, topNodes: opts.nodes });
console.log(`step: ${p.wallMs.toFixed(1)} ms wall (${((opts.batch / p.wallMs) * 1000).toFixed(0)} img/s); kernel time ${p.kernelMs.toFixed(1)} ms/step`);
for (const r of p.byOp) console.log(`${r.op.padEnd(22)} ${r.ms.toFixed(2).padStart(8)} ms  ${(100 * r.share).toFixed(1).padStart(5)}%  x${r.nodes}`);
for (const r of p.topNodes) console.log(`  ${r.node.padEnd(60)} ${r.ms.toFixed(2).padStart(8)} ms`);
