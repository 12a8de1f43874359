import { savedOf, type OpEmitter } from "./context.ts";

export const relu: OpEmitter<"relu"> = {
  forward(ctx, op) {
    const y = ctx.g.op1("Relu", [ctx.value(op.x)], {}, op.out);
    ctx.setValue(op.out, y);
    ctx.saved.set(op.out, { y });
  },
  backward(ctx, op, dY) {
    const g = ctx.g;
    const { y } = savedOf(ctx, op.out, "y");
    // Mul by the cast mask runs twice as fast as Where with a broadcast zero on ORT's CPU EP.
    ctx.addGrad(op.x, g.op1("Mul", [dY, g.op1("Cast", [g.op1("Greater", [y, g.constFloat([0], [])])], { to: 1 })]));
  },
};
