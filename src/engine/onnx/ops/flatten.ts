import { savedOf, type OpEmitter } from "./context.ts";

/** [N, C, H, W] -> [N, C*H*W]; the gradient is reshaped back. */
export const flatten: OpEmitter<"flatten"> = {
  forward(ctx, op) {
    const x = ctx.value(op.x);
    ctx.setValue(op.out, ctx.g.op1("Flatten", [x], { axis: 1 }, op.out));
    ctx.saved.set(op.out, { shape: ctx.g.op1("Shape", [x]) });
  },
  backward(ctx, op, dY) {
    const { shape } = savedOf(ctx, op.out, "shape");
    ctx.addGrad(op.x, ctx.g.op1("Reshape", [dY, shape]));
  },
};
