import type { GraphBuilder } from "../graph-builder.ts";
import { savedOf, type OpEmitter } from "./context.ts";

/**
 * Conv without bias. Gradients use only standard ops so every EP can run them:
 * - input: Conv of the (zero-interleaved, if strided) output gradient with the
 *   filter transposed [1,0,2,3] and flipped; ORT's Conv kernel is about twice as fast
 *   as ConvTranspose for this (design notes).
 * - filter: im2col of the input (k*k Slices of the padded input, concatenated so that
 *   rows are c*k*k + kh*k + kw), a batched MatMul with the output gradient and a sum
 *   over the batch; avoids transposing the large patch tensor.
 */
export const conv: OpEmitter<"conv"> = {
  forward(ctx, op) {
    const g = ctx.g;
    const x = ctx.value(op.x);
    const y = g.op1("Conv", [x, ctx.param(op.weight)], { kernel_shape: [op.kernel, op.kernel], pads: [op.pad, op.pad, op.pad, op.pad], strides: [op.stride, op.stride] }, op.out);
    ctx.setValue(op.out, y);
    ctx.saved.set(op.out, { x });
  },
  backward(ctx, op, dY) {
    const g = ctx.g;
    const { x } = savedOf(ctx, op.out, "x");
    const [, ho, wo] = ctx.shapes[op.out] as [number, number, number];
    const [, hi, wi] = ctx.shapes[op.x] as [number, number, number];
    const k = op.kernel;

    // Filter gradient: patches [N, C*k*k, Ho*Wo] x dY^T [N, Ho*Wo, O] -> sum_n -> [C*k*k, O] -> [O, C, k, k].
    const xp = op.pad > 0 ? g.op1("Pad", [x, g.constInt64([0, 0, op.pad, op.pad, 0, 0, op.pad, op.pad])]) : x;
    const slices: string[] = [];
    for (let kh = 0; kh < k; kh++)
      for (let kw = 0; kw < k; kw++) {
        const s = g.op1("Slice", [
          xp,
          g.constInt64([kh, kw]),
          g.constInt64([kh + op.stride * (ho - 1) + 1, kw + op.stride * (wo - 1) + 1]),
          g.constInt64([2, 3]),
          g.constInt64([op.stride, op.stride]),
        ]);
        slices.push(k === 1 ? s : g.op1("Unsqueeze", [s, g.constInt64([2])]));
      }
    const stacked = k === 1 ? slices[0]! : g.op1("Concat", slices, { axis: 2 }); // [N, C, k*k, Ho, Wo]
    const patches = g.op1("Reshape", [stacked, g.constInt64([0, op.cin * k * k, ho * wo])]);
    const dYt = g.op1("Transpose", [g.op1("Reshape", [dY, g.constInt64([0, op.cout, ho * wo])])], { perm: [0, 2, 1] });
    const dWt = g.op1("ReduceSum", [g.op1("MatMul", [patches, dYt]), g.constInt64([0])], { keepdims: 0 }); // [C*k*k, O]
    const dW = g.op1("Reshape", [g.op1("Transpose", [dWt], { perm: [1, 0] }), g.constInt64([op.cout, op.cin, k, k])]);
    ctx.setParamGrad(op.weight, dW);

    if (!ctx.needsGrad(op.x)) return;
    const wFlipT = flipTranspose(g, ctx.param(op.weight), k);
    const dYup = op.stride === 1 ? dY : zeroInterleave(g, dY, op.cout, ho, wo, op.stride, hi, wi);
    const back = k - 1 - op.pad;
    const dX = g.op1("Conv", [dYup, wFlipT], { kernel_shape: [k, k], pads: [back, back, back, back], strides: [1, 1] });
    ctx.addGrad(op.x, dX);
  },
};

/** W [O, C, k, k] -> W' [C, O, k, k] flipped in both spatial axes. */
function flipTranspose(g: GraphBuilder, w: string, k: number): string {
  const t = g.op1("Transpose", [w], { perm: [1, 0, 2, 3] });
  if (k === 1) return t;
  return g.op1("Slice", [t, g.constInt64([-1, -1]), g.constInt64([-k - 1, -k - 1]), g.constInt64([2, 3]), g.constInt64([-1, -1])]);
}

/**
 * Places dY [N, C, Ho, Wo] at every `stride`-th position of a zero tensor [N, C, H, W]:
 * the adjoint of strided subsampling. Done with Reshape/Pad, no scatter.
 */
export function zeroInterleave(g: GraphBuilder, dY: string, c: number, ho: number, wo: number, stride: number, h: number, w: number): string {
  const six = g.op1("Reshape", [dY, g.constInt64([0, c, ho, 1, wo, 1])]);
  const padded = g.op1("Pad", [six, g.constInt64([0, 0, 0, 0, 0, 0, 0, 0, 0, stride - 1, 0, stride - 1])]);
  let up = g.op1("Reshape", [padded, g.constInt64([0, c, ho * stride, wo * stride])]);
  if (ho * stride !== h || wo * stride !== w) up = g.op1("Slice", [up, g.constInt64([0, 0]), g.constInt64([h, w]), g.constInt64([2, 3])]);
  return up;
}
