import { readdirSync, readFileSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import type { ModelSpec } from "../../models/spec.ts";
import { prunableLayers } from "../../models/spec.ts";
import { freshState } from "../state.ts";
import { oneHot } from "../types.ts";
import { nchwcBlockSize } from "./ops/nchwc.ts";
import { buildGraph, io } from "./training-graph.ts";

export interface OpCost {
  op: string;
  /** Mean kernel milliseconds per step. */
  ms: number;
  share: number;
  nodes: number;
}

export interface StepProfile {
  /** Wall milliseconds per step with profiling on (slightly above the unprofiled time). */
  wallMs: number;
  kernelMs: number;
  byOp: OpCost[];
  /** The most expensive nodes (names carry the model value they compute). */
  topNodes: { node: string; ms: number }[];
}

/**
 * Runs the train-step graph under ORT's profiler (CPU EP) and sums kernel time per op
 * type: the per-op cost table of the training benchmark.
 */
export async function profileTrainStep(
  spec: ModelSpec,
  o: { batch: number; threads: number; steps: number; topNodes?: number; blockedConv?: boolean },
): Promise<StepProfile> {
  const masked = prunableLayers(spec).map((l) => l.name);
  const model = buildGraph("train-step", {
    spec,
    maskedParams: masked,
    bn: { eps: 1e-5, momentum: 0.1 },
    sgd: { momentum: 0.9, weightDecay: 1e-4 },
    nchwcBlock: o.blockedConv === false ? 0 : await nchwcBlockSize(),
  });
  const st = freshState(spec, 1);
  const [c, h, w] = spec.inputShape;
  const n = o.batch;
  const feeds: Record<string, ort.Tensor> = {
    [io.x]: new ort.Tensor(
      "float32",
      new Float32Array(n * c * h * w).map((_, i) => Math.sin(i)),
      [n, c, h, w],
    ),
    [io.labels]: new ort.Tensor(
      "float32",
      oneHot(
        Array.from({ length: n }, (_, i) => i % spec.numClasses),
        n,
        spec.numClasses,
      ),
      [n, spec.numClasses],
    ),
    [io.lr]: new ort.Tensor("float32", new Float32Array([0.01]), []),
  };
  for (const p of spec.params) {
    feeds[io.param(p.name)] = new ort.Tensor("float32", st.params[p.name]!, p.shape);
    feeds[io.momentum(p.name)] = new ort.Tensor("float32", st.momentum[p.name]!, p.shape);
    if (masked.includes(p.name)) feeds[io.mask(p.name)] = new ort.Tensor("float32", new Float32Array(st.params[p.name]!.length).fill(1), p.shape);
  }
  for (const b of spec.buffers) feeds[io.buffer(b.name)] = new ort.Tensor("float32", st.buffers[b.name]!, b.shape);
  return profileSession(model, feeds, o);
}

/**
 * Runs a model `steps` times (plus one warm-up) under ORT's profiler on the CPU EP and
 * sums kernel time per op type and per node.
 */
export async function profileSession(
  model: Uint8Array,
  feeds: Record<string, ort.Tensor>,
  o: { threads: number; steps: number; topNodes?: number },
): Promise<StepProfile> {
  const prefix = `ort-profile-${process.pid}-${Date.now()}`;
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ["cpu"],
    intraOpNumThreads: o.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
    enableProfiling: true,
    profileFilePrefix: join(tmpdir(), prefix),
  });
  await session.run(feeds); // warm-up, also profiled; excluded below by counting steps + 1
  const t0 = performance.now();
  for (let i = 0; i < o.steps; i++) await session.run(feeds);
  const wallMs = (performance.now() - t0) / o.steps;
  session.endProfiling();
  await session.release();
  // onnxruntime-node's endProfiling returns nothing; the file is found by its prefix.
  const file = readdirSync(tmpdir()).find((f) => f.startsWith(prefix));
  if (!file) throw new Error(`ORT profile file ${prefix}* not found in ${tmpdir()}`);
  const events = JSON.parse(readFileSync(join(tmpdir(), file), "utf8")) as { cat: string; name: string; dur: number; args?: { op_name?: string } }[];
  unlinkSync(join(tmpdir(), file));
  const runs = o.steps + 1;
  const byOp = new Map<string, { us: number; count: number }>();
  const byNode = new Map<string, number>();
  let total = 0;
  for (const e of events) {
    if (e.cat !== "Node" || !e.name.endsWith("_kernel_time")) continue;
    const op = e.args?.op_name ?? "?";
    const r = byOp.get(op) ?? { us: 0, count: 0 };
    r.us += e.dur;
    r.count++;
    byOp.set(op, r);
    const node = e.name.replace(/_kernel_time$/, "");
    byNode.set(node, (byNode.get(node) ?? 0) + e.dur);
    total += e.dur;
  }
  return {
    wallMs,
    kernelMs: total / 1000 / runs,
    byOp: [...byOp].sort((a, b) => b[1].us - a[1].us).map(([op, r]) => ({ op, ms: r.us / 1000 / runs, share: r.us / total, nodes: r.count / runs })),
    topNodes: [...byNode]
      .sort((a, b) => b[1] - a[1])
      .slice(0, o.topNodes ?? 0)
      .map(([node, us]) => ({ node, ms: us / 1000 / runs })),
  };
}
