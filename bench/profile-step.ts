#!/usr/bin/env bun
/**
 * Per-op-type cost of one PreResNet-20 training step on ONNX Runtime (CPU EP), from
 * ORT's own profiler: where the time goes, to guide graph formulation work.
 */
import { Command } from "commander";
import { availableParallelism } from "node:os";
import { profileTrainStep } from "../src/engine/onnx/profile.ts";
import { buildModel } from "../src/models/registry.ts";

const opts = new Command("profile-step")
  .description("ORT profiler breakdown of one training step")
  .option("--width <n>", "model width", "16")
  .option("--batch <n>", "batch size", "128")
  .option("--channels <n>", "input channels", "3")
  .option("--threads <n>", "intra-op threads", String(availableParallelism()))
  .option("--steps <n>", "profiled steps", "5")
  .option("--nodes <n>", "also list the N most expensive nodes", "0")
  .parse()
  .opts();

const spec = buildModel("preresnet20", { width: +opts.width, inputShape: [+opts.channels, 32, 32], numClasses: 10 });
const p = await profileTrainStep(spec, { batch: +opts.batch, threads: +opts.threads, steps: +opts.steps, topNodes: +opts.nodes });
console.log(`step: ${p.wallMs.toFixed(1)} ms wall (${((+opts.batch / p.wallMs) * 1000).toFixed(0)} img/s); kernel time ${p.kernelMs.toFixed(1)} ms/step`);
for (const r of p.byOp) console.log(`${r.op.padEnd(22)} ${r.ms.toFixed(2).padStart(8)} ms  ${(100 * r.share).toFixed(1).padStart(5)}%  x${r.nodes}`);
for (const r of p.topNodes) console.log(`  ${r.node.padEnd(60)} ${r.ms.toFixed(2).padStart(8)} ms`);
