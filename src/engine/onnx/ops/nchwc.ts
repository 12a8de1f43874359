import * as ort from "onnxruntime-node";
import { GraphBuilder, NCHWC_DOMAIN } from "../graph-builder.ts";

/**
 * ORT's fastest CPU convolutions are its blocked-layout (NCHWc) kernels, but ORT only
 * switches a Conv to them when the filter is a constant initializer, and in a training
 * step the filter is an input. The kernels themselves read the filter on every run, so
 * the graph can call them directly: the filter is reordered in-graph (a few small
 * Reshape/Transpose nodes) and the activation is reordered in and out around the
 * conv. Measured on this project's AVX-512 machine: 9.1 -> 4.6 ms for a 16->16 3x3 conv
 * at batch 128 (bench:profile-step shows the effect on a whole step).
 *
 * Contracts (onnxruntime contrib_ops/cpu/nchwc_ops.*, mlas reorder.cpp): block size B
 * (16 on AVX-512, 8 on AVX2); input channels either < B (input stays NCHW, filter
 * [O/B][I][kh][kw][Bo]) or a multiple of B after ReorderInput's padding, which needs
 * C % 4 == 0 (filter [O/B][I/B][kh][kw][Bi][Bo]); outputs padded to a multiple of B and
 * cut back by ReorderOutput.
 */

let probed: Promise<number> | undefined;

/** MLAS's NCHWc block size on this CPU, or 0 where the kernels are missing. */
export function nchwcBlockSize(): Promise<number> {
  return (probed ??= (async () => {
    const g = new GraphBuilder();
    g.input("x", [1, 4, 1, 1]);
    g.alias(g.op("ReorderInput", ["x"], {}, { domain: NCHWC_DOMAIN })[0]!, "y");
    g.output("y");
    try {
      const s = await ort.InferenceSession.create(g.toModel("nchwc-probe"), { executionProviders: ["cpu"], logSeverityLevel: 4 });
      const r = await s.run({ x: new ort.Tensor("float32", new Float32Array(4), [1, 4, 1, 1]) });
      await s.release();
      const b = Number(r.y!.dims[1]);
      return b > 1 ? b : 0;
    } catch {
      return 0;
    }
  })());
}

const roundUp = (c: number, b: number) => Math.ceil(c / b) * b;

export interface BlockedConvArgs {
  x: string;
  /** OIHW filter value. */
  w: string;
  cin: number;
  cout: number;
  kernel: number;
  stride: number;
  pad: number;
  block: number;
  hint: string;
}

/** Whether the NCHWc kernels can take this conv. */
export function blockedConvApplies(a: Pick<BlockedConvArgs, "cin" | "block">): boolean {
  return a.block > 1 && (a.cin < a.block || a.cin % 4 === 0);
}

/** Conv(x, w) through the NCHWc kernels; input and output in plain NCHW. */
export function blockedConv(g: GraphBuilder, a: BlockedConvArgs): string {
  const B = a.block,
    k = a.kernel;
  const blockedInput = a.cin >= B;
  const op = roundUp(a.cout, B);
  const ip = blockedInput ? roundUp(a.cin, B) : a.cin;
  let w = a.w;
  if (op !== a.cout || ip !== a.cin) w = g.op1("Pad", [w, g.constInt64([0, 0, 0, 0, op - a.cout, ip - a.cin, 0, 0])]);
  if (blockedInput) {
    w = g.op1("Transpose", [g.op1("Reshape", [w, g.constInt64([op / B, B, ip / B, B, k * k])])], { perm: [0, 2, 4, 3, 1] });
  } else {
    w = g.op1("Transpose", [g.op1("Reshape", [w, g.constInt64([op / B, B, ip, k * k])])], { perm: [0, 2, 3, 1] });
  }
  w = g.op1("Reshape", [w, g.constInt64([op, ip, k, k])]);
  const x = blockedInput ? g.op("ReorderInput", [a.x], {}, { domain: NCHWC_DOMAIN })[0]! : a.x;
  const y = g.op(
    "Conv",
    [x, w],
    { kernel_shape: [k, k], pads: [a.pad, a.pad, a.pad, a.pad], strides: [a.stride, a.stride] },
    { domain: NCHWC_DOMAIN, name: a.hint },
  )[0]!;
  return g.op("ReorderOutput", [y], { channels: a.cout, channels_last: 0 }, { domain: NCHWC_DOMAIN })[0]!;
}
