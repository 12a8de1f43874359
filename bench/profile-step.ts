#!/usr/bin/env bun
/**
 * Per-op-type cost of one training step on ONNX Runtime (CPU EP), from ORT's own
 * profiler: where the time goes, to guide graph formulation work.
 * Usage: bun bench/profile-step.ts [--width 16] [--batch 128] [--threads N] [--steps 5]
 */
import { Command } from "commander";
import { readdirSync, readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { availableParallelism } from "node:os";
import * as ort from "onnxruntime-node";
import { freshState } from "../src/engine/state.ts";
import { buildGraph, io } from "../src/engine/onnx/training-graph.ts";
import { buildModel } from "../src/models/registry.ts";
import { prunableLayers } from "../src/models/spec.ts";
import { oneHot } from "../src/engine/types.ts";

const opts = new Command()
  .option("--width <n>", "model width", "16")
  .option("--batch <n>", "batch size", "128")
  .option("--channels <n>", "input channels", "3")
  .option("--threads <n>", "intra-op threads", String(availableParallelism()))
  .option("--steps <n>", "profiled steps", "5")
  .option("--nodes <n>", "also list the N most expensive nodes", "0")
  .parse()
  .opts();

const prefix = `ort-profile-${process.pid}`;
const spec = buildModel("preresnet20", { width: +opts.width, inputShape: [+opts.channels, 32, 32], numClasses: 10 });
const masked = prunableLayers(spec).map((l) => l.name);
const model = buildGraph("train-step", { spec, maskedParams: masked, bn: { eps: 1e-5, momentum: 0.1 }, sgd: { momentum: 0.9, weightDecay: 1e-4 } });
const session = await ort.InferenceSession.create(model, { executionProviders: ["cpu"], intraOpNumThreads: +opts.threads, interOpNumThreads: 1, graphOptimizationLevel: "all", enableProfiling: true, profileFilePrefix: join(tmpdir(), prefix) });
const st = freshState(spec, 1);
const n = +opts.batch;
const feeds: Record<string, ort.Tensor> = {
  [io.x]: new ort.Tensor("float32", new Float32Array(n * +opts.channels * 1024).map(() => Math.random()), [n, +opts.channels, 32, 32]),
  [io.labels]: new ort.Tensor("float32", oneHot(Array.from({ length: n }, (_, i) => i % 10), n, 10), [n, 10]),
  [io.lr]: new ort.Tensor("float32", new Float32Array([0.01]), []),
};
for (const p of spec.params) {
  feeds[io.param(p.name)] = new ort.Tensor("float32", st.params[p.name]!, p.shape);
  feeds[io.momentum(p.name)] = new ort.Tensor("float32", st.momentum[p.name]!, p.shape);
  if (masked.includes(p.name)) feeds[io.mask(p.name)] = new ort.Tensor("float32", new Float32Array(st.params[p.name]!.length).fill(1), p.shape);
}
for (const b of spec.buffers) feeds[io.buffer(b.name)] = new ort.Tensor("float32", st.buffers[b.name]!, b.shape);
await session.run(feeds);
const t0 = performance.now();
for (let i = 0; i < +opts.steps; i++) await session.run(feeds);
const perStep = (performance.now() - t0) / +opts.steps;
session.endProfiling();
// endProfiling returns nothing in onnxruntime-node; the file carries the prefix.
const file = join(tmpdir(), readdirSync(tmpdir()).find((f) => f.startsWith(prefix))!);
const events = JSON.parse(readFileSync(file, "utf8")) as { cat: string; name: string; dur: number; args?: { op_name?: string } }[];
unlinkSync(file);
const byOp = new Map<string, { us: number; count: number }>();
const byNode = new Map<string, number>();
let total = 0;
for (const e of events) {
  if (e.cat !== "Node" || !e.name.endsWith("_kernel_time")) continue;
  const op = e.args?.op_name ?? "?";
  const r = byOp.get(op) ?? { us: 0, count: 0 };
  r.us += e.dur;
  r.count++;
  byNode.set(e.name, (byNode.get(e.name) ?? 0) + e.dur);
  byOp.set(op, r);
  total += e.dur;
}
const steps = +opts.steps + 1;
console.log(`step: ${perStep.toFixed(1)} ms wall (${((n / perStep) * 1000).toFixed(0)} img/s); kernel time ${(total / 1000 / steps).toFixed(1)} ms/step`);
for (const [op, r] of [...byOp].sort((a, b) => b[1].us - a[1].us)) {
  console.log(`${op.padEnd(22)} ${(r.us / 1000 / steps).toFixed(2).padStart(8)} ms  ${((100 * r.us) / total).toFixed(1).padStart(5)}%  x${r.count / steps}`);
}
for (const [node, us] of [...byNode].sort((a, b) => b[1] - a[1]).slice(0, +opts.nodes)) {
  console.log(`  ${node.replace(/_kernel_time$/, "").padEnd(60)} ${(us / 1000 / steps).toFixed(2).padStart(8)} ms`);
}
