import { savedOf, type OpEmitter } from "./context.ts";

/** Linear layer with PyTorch's [out, in] weight layout. */
export const fc: OpEmitter<"fc"> = {
  forward(ctx, op) {
    const x = ctx.value(op.x);
    ctx.setValue(op.out, ctx.g.op1("Gemm", [x, ctx.param(op.weight), ctx.param(op.bias)], { transB: 1 }, op.out));
    ctx.saved.set(op.out, { x });
  },
  backward(ctx, op, dY) {
    const g = ctx.g;
    const { x } = savedOf(ctx, op.out, "x");
    ctx.setParamGrad(op.weight, g.op1("Gemm", [dY, x], { transA: 1 }));
    ctx.setParamGrad(op.bias, g.op1("ReduceSum", [dY, g.constInt64([0])], { keepdims: 0 }));
    if (ctx.needsGrad(op.x)) ctx.addGrad(op.x, g.op1("MatMul", [dY, ctx.param(op.weight)]));
  },
};
