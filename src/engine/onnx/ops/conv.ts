import type { GraphBuilder } from "../graph-builder.ts";
import { savedOf, type EmitContext, type OpEmitter } from "./context.ts";
import { blockedConv, blockedConvApplies } from "./nchwc.ts";

/**
 * Conv without bias. Each formulation was chosen by measurement (bench/):
 * - forward and stride-1 input gradient: a convolution (the latter with the filter
 *   transposed [1,0,2,3] and flipped, about twice as fast as ConvTranspose), on ORT's
 *   NCHWc kernels when the graph targets the CPU EP (nchwc.ts), else standard Conv.
 * - strided input gradient: ConvTranspose, faster than zero-interleaving dY and a Conv.
 * - filter gradient: shifted copies of the activations made by one-hot grouped Convs,
 *   a batched MatMul with the output gradient and a sum over the batch.
 * Everything outside nchwc.ts is standard ONNX, so GPU EPs run the same graph.
 */
export const conv: OpEmitter<"conv"> = {
  forward(ctx, op) {
    const x = ctx.value(op.x);
    const y = convolve(ctx, { x, w: ctx.param(op.weight), cin: op.cin, cout: op.cout, kernel: op.kernel, stride: op.stride, pad: op.pad, hint: op.out });
    ctx.setValue(op.out, y);
    ctx.saved.set(op.out, { x });
  },
  backward(ctx, op, dY) {
    const g = ctx.g;
    const { x } = savedOf(ctx, op.out, "x");
    const [, ho, wo] = ctx.shapes[op.out] as [number, number, number];
    const [, hi, wi] = ctx.shapes[op.x] as [number, number, number];
    const k = op.kernel;

    const dW =
      op.stride === 1 && k === 3 && op.pad === 1
        ? filterGradSeparable(g, x, dY, op.cin, op.cout, ho, wo, op.out)
        : filterGradIm2col(g, x, dY, op.cin, op.cout, k, op.stride, op.pad, ho, wo, op.out);
    ctx.setParamGrad(op.weight, dW);

    if (!ctx.needsGrad(op.x)) return;
    let dX: string;
    if (op.stride === 1) {
      const back = k - 1 - op.pad;
      dX = convolve(ctx, {
        x: dY,
        w: flipTranspose(g, ctx.param(op.weight), k),
        cin: op.cout,
        cout: op.cin,
        kernel: k,
        stride: 1,
        pad: back,
        hint: `dx_${op.out}`,
      });
    } else {
      const extra = [hi, wi].map((size) => size - ((ho - 1) * op.stride - 2 * op.pad + k));
      dX = g.op1(
        "ConvTranspose",
        [dY, ctx.param(op.weight)],
        { kernel_shape: [k, k], pads: [op.pad, op.pad, op.pad, op.pad], strides: [op.stride, op.stride], output_padding: extra },
        `dx_${op.out}`,
      );
    }
    ctx.addGrad(op.x, dX);
  },
};

/** Patches [N, C*k*k, Ho*Wo] x dY^T [N, Ho*Wo, O] -> sum over n -> [C*k*k, O] -> [O, C, k, k]. */
function filterGradIm2col(
  g: GraphBuilder,
  x: string,
  dY: string,
  cin: number,
  cout: number,
  k: number,
  stride: number,
  pad: number,
  ho: number,
  wo: number,
  hint: string,
): string {
  const patches = g.op1("Reshape", [im2col(g, x, cin, k, stride, pad, hint), g.constInt64([0, cin * k * k, ho * wo])]);
  const dYt = g.op1("Transpose", [g.op1("Reshape", [dY, g.constInt64([0, cout, ho * wo])])], { perm: [0, 2, 1] });
  const dWt = g.op1("ReduceSum", [g.op1("MatMul", [patches, dYt], {}, `dw_${hint}`), g.constInt64([0])], { keepdims: 0 });
  return g.op1("Reshape", [g.op1("Transpose", [dWt], { perm: [1, 0] }), g.constInt64([cout, cin, k, k])]);
}

/**
 * Filter gradient of a 3x3, stride-1, pad-1 conv with the shifts split between the
 * operands: X shifted by kw in width (3 copies, rows padded to H+2) times dY shifted by
 * kh rows in an (H+2)-row frame (3 copies), so one batched MatMul over (H+2)*W sums
 * dY[i, j] * Xpad[i + kh, j + kw] for every (kh, kw). Six activation-sized copies
 * instead of im2col's nine: about 17% faster (bench:conv-grad).
 */
function filterGradSeparable(g: GraphBuilder, x: string, dY: string, cin: number, cout: number, h: number, w: number, hint: string): string {
  const len = (h + 2) * w;
  const xShift = new Array<number>(cin * 9).fill(0);
  for (let c = 0; c < cin; c++) for (let kw = 0; kw < 3; kw++) xShift[(c * 3 + kw) * 3 + kw] = 1;
  const p3 = g.op1("Conv", [x, g.constFloat(xShift, [cin * 3, 1, 1, 3])], { group: cin, kernel_shape: [1, 3], pads: [1, 1, 1, 1] }, `im2col_${hint}`);
  const dShift = new Array<number>(cout * 9).fill(0);
  for (let o = 0; o < cout; o++) for (let kh = 0; kh < 3; kh++) dShift[(o * 3 + kh) * 3 + (2 - kh)] = 1;
  const d3 = g.op1("Conv", [dY, g.constFloat(dShift, [cout * 3, 1, 3, 1])], { group: cout, kernel_shape: [3, 1], pads: [2, 0, 2, 0] }, `im2col_dy_${hint}`);
  const prod = g.op1(
    "MatMul",
    [
      g.op1("Reshape", [p3, g.constInt64([0, cin * 3, len])]),
      g.op1("Transpose", [g.op1("Reshape", [d3, g.constInt64([0, cout * 3, len])])], { perm: [0, 2, 1] }),
    ],
    {},
    `dw_${hint}`,
  );
  const sum = g.op1("ReduceSum", [prod, g.constInt64([0])], { keepdims: 0 }); // [(c, kw), (o, kh)]
  return g.op1("Transpose", [g.op1("Reshape", [sum, g.constInt64([cin, 3, cout, 3])])], { perm: [2, 0, 3, 1] });
}

/** Plain ONNX Conv, or ORT's NCHWc kernels when the graph targets the CPU EP and they apply. */
function convolve(ctx: EmitContext, a: { x: string; w: string; cin: number; cout: number; kernel: number; stride: number; pad: number; hint: string }): string {
  if (blockedConvApplies({ cin: a.cin, block: ctx.nchwcBlock })) return blockedConv(ctx.g, { ...a, block: ctx.nchwcBlock });
  const p = a.pad;
  return ctx.g.op1("Conv", [a.x, a.w], { kernel_shape: [a.kernel, a.kernel], pads: [p, p, p, p], strides: [a.stride, a.stride] }, a.hint);
}

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

/**
 * Patches [N, C*k*k, Ho, Wo] (row c*k*k + kh*k + kw) in one op: a grouped Conv whose
 * fixed 0/1 kernel copies each input channel to its k*k shifted positions. On ORT CPU
 * this is about 2x faster than Pad + k*k Slices + Concat (bench/conv-grad-variants.ts).
 */
function im2col(g: GraphBuilder, x: string, c: number, k: number, stride: number, pad: number, hint: string): string {
  if (k === 1 && pad === 0) {
    return stride === 1
      ? x
      : g.op1("Slice", [
          x,
          g.constInt64([0, 0]),
          g.constInt64([Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER]),
          g.constInt64([2, 3]),
          g.constInt64([stride, stride]),
        ]);
  }
  const kk = k * k;
  const onehot = new Array<number>(c * kk * kk).fill(0);
  for (let ch = 0; ch < c; ch++) for (let j = 0; j < kk; j++) onehot[(ch * kk + j) * kk + j] = 1;
  return g.op1(
    "Conv",
    [x, g.constFloat(onehot, [c * kk, 1, k, k])],
    { group: c, kernel_shape: [k, k], pads: [pad, pad, pad, pad], strides: [stride, stride] },
    `im2col_${hint}`,
  );
}
