import { savedOf, type OpEmitter } from "./context.ts";

export const gap: OpEmitter<"gap"> = {
  forward(ctx, op) {
    const g = ctx.g;
    const x = ctx.value(op.x);
    ctx.setValue(op.out, g.op1("ReduceMean", [x, g.constInt64([2, 3])], { keepdims: 0 }, op.out));
    ctx.saved.set(op.out, { shape: g.op1("Shape", [x]) });
  },
  backward(ctx, op, dY) {
    const g = ctx.g;
    const { shape } = savedOf(ctx, op.out, "shape");
    const [, h, w] = ctx.shapes[op.x] as [number, number, number];
    const scaled = g.op1("Mul", [dY, g.constFloat([1 / (h * w)], [])]);
    ctx.addGrad(op.x, g.op1("Expand", [g.op1("Unsqueeze", [scaled, g.constInt64([2, 3])]), shape]));
  },
};
