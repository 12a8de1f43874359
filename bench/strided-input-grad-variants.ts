#!/usr/bin/env bun
/**
 * Microbenchmark of ONNX formulations of the input gradient of a stride-2 conv
 * (3x3 pad 1 and 1x1 pad 0), checked against each other before timing.
 * Usage: bun bench/strided-input-grad-variants.ts [--batch 128] [--cin 16] [--hw 32]
 */
import { Command } from "commander";
import { availableParallelism } from "node:os";
import * as ort from "onnxruntime-node";
import { GraphBuilder } from "../src/engine/onnx/graph-builder.ts";
import { zeroInterleave } from "../src/engine/onnx/ops/conv.ts";

const o = new Command()
  .option("--batch <n>", "", "128")
  .option("--cin <n>", "", "16")
  .option("--hw <n>", "input size", "32")
  .option("--threads <n>", "", String(availableParallelism()))
  .option("--reps <n>", "", "10")
  .parse()
  .opts();
const N = +o.batch,
  C = +o.cin,
  O = 2 * C,
  H = +o.hw,
  Ho = H / 2;

function flipT(g: GraphBuilder, w: string, k: number): string {
  const t = g.op1("Transpose", [w], { perm: [1, 0, 2, 3] });
  return k === 1 ? t : g.op1("Slice", [t, g.constInt64([-1, -1]), g.constInt64([-k - 1, -k - 1]), g.constInt64([2, 3]), g.constInt64([-1, -1])]);
}

function interleaveConcat(g: GraphBuilder, dy: string): string {
  const zeros = g.op1("Expand", [g.constFloat([0], []), g.op1("Shape", [g.op1("Unsqueeze", [dy, g.constInt64([4])])])]);
  const w2 = g.op1("Reshape", [g.op1("Concat", [g.op1("Unsqueeze", [dy, g.constInt64([4])]), zeros], { axis: 4 }), g.constInt64([0, O, Ho, 2 * Ho])]);
  const zeros2 = g.op1("Expand", [g.constFloat([0], []), g.op1("Shape", [g.op1("Unsqueeze", [w2, g.constInt64([3])])])]);
  return g.op1("Reshape", [g.op1("Concat", [g.op1("Unsqueeze", [w2, g.constInt64([3])]), zeros2], { axis: 3 }), g.constInt64([0, O, H, H])]);
}

function interleaveConvT(g: GraphBuilder, dy: string): string {
  return g.op1("ConvTranspose", [dy, g.constFloat(new Array(O).fill(1), [O, 1, 1, 1])], {
    group: O,
    strides: [2, 2],
    kernel_shape: [1, 1],
    output_padding: [1, 1],
  });
}

for (const k of [3, 1]) {
  const pad = (k - 1) / 2;
  const back = k - 1 - pad;
  const variants: Record<string, (g: GraphBuilder) => string> = {
    "6-D Pad interleave + Conv": (g) =>
      g.op1("Conv", [zeroInterleave(g, "dy", O, Ho, Ho, 2, H, H), flipT(g, "w", k)], { pads: [back, back, back, back], kernel_shape: [k, k] }),
    ConvTranspose: (g) => g.op1("ConvTranspose", ["dy", "w"], { strides: [2, 2], pads: [pad, pad, pad, pad], kernel_shape: [k, k], output_padding: [1, 1] }),
    "Concat interleave + Conv": (g) => g.op1("Conv", [interleaveConcat(g, "dy"), flipT(g, "w", k)], { pads: [back, back, back, back], kernel_shape: [k, k] }),
    "depthwise ConvTranspose interleave + Conv": (g) =>
      g.op1("Conv", [interleaveConvT(g, "dy"), flipT(g, "w", k)], { pads: [back, back, back, back], kernel_shape: [k, k] }),
  };
  const dy = new ort.Tensor(
    "float32",
    new Float32Array(N * O * Ho * Ho).map(() => Math.random() - 0.5),
    [N, O, Ho, Ho],
  );
  const w = new ort.Tensor(
    "float32",
    new Float32Array(O * C * k * k).map(() => Math.random() - 0.5),
    [O, C, k, k],
  );
  let ref: Float32Array | undefined;
  console.log(`stride-2 ${k}x${k} conv ${C}->${O}, input ${H}x${H}, batch ${N}`);
  for (const [name, build] of Object.entries(variants)) {
    const g = new GraphBuilder();
    g.input("dy", ["N", O, Ho, Ho]);
    g.input("w", [O, C, k, k]);
    g.alias(build(g), "dx");
    g.output("dx", ["N", C, H, H]);
    const s = await ort.InferenceSession.create(g.toModel(name), {
      executionProviders: ["cpu"],
      intraOpNumThreads: +o.threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: "all",
    });
    const out = (await s.run({ dy, w })).dx!.data as Float32Array;
    ref ??= out;
    let maxd = 0;
    for (let i = 0; i < out.length; i++) maxd = Math.max(maxd, Math.abs(out[i]! - ref[i]!) / Math.max(1, Math.abs(ref[i]!)));
    const times: number[] = [];
    for (let r = 0; r < +o.reps; r++) {
      const t0 = performance.now();
      await s.run({ dy, w });
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    console.log(
      `  ${name.padEnd(44)} median ${times[times.length >> 1]!.toFixed(1).padStart(6)} ms  min ${times[0]!.toFixed(1).padStart(6)} ms  max rel diff ${maxd.toExponential(1)}`,
    );
  }
}
