import { savedOf, type OpEmitter } from "./context.ts";

/**
 * MaxPool; its gradient goes to the element each window chose. ONNX's MaxPool returns
 * that element's flat index into the whole [N, C, H, W] input, so the backward pass is
 * one ScatterElements of dY into a zero tensor, with "add" because overlapping windows
 * (3x3 stride 2) can choose the same element.
 */
export const maxPool: OpEmitter<"maxpool"> = {
  forward(ctx, op) {
    const g = ctx.g;
    const attrs = { kernel_shape: [op.kernel, op.kernel], strides: [op.stride, op.stride], pads: [op.pad, op.pad, op.pad, op.pad] };
    const x = ctx.value(op.x);
    if (ctx.mode === "eval") {
      ctx.setValue(op.out, g.op1("MaxPool", [x], attrs, op.out));
      return;
    }
    const [y, indices] = g.op("MaxPool", [x], attrs, { outputs: 2, name: op.out }) as [string, string];
    ctx.setValue(op.out, y);
    ctx.saved.set(op.out, { indices, shape: g.op1("Shape", [x]) });
  },
  backward(ctx, op, dY) {
    const g = ctx.g;
    const { indices, shape } = savedOf(ctx, op.out, "indices", "shape");
    const flat = g.constInt64([-1]);
    const zeros = g.op1("ConstantOfShape", [g.op1("ReduceProd", [shape], { keepdims: 1 })]);
    const dx = g.op1("ScatterElements", [zeros, g.op1("Reshape", [indices, flat]), g.op1("Reshape", [dY, flat])], { axis: 0, reduction: "add" });
    ctx.addGrad(op.x, g.op1("Reshape", [dx, shape]));
  },
};
