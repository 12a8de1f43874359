import type { OpEmitter } from "./context.ts";

export const add: OpEmitter<"add"> = {
  forward(ctx, op) {
    ctx.setValue(op.out, ctx.g.op1("Add", [ctx.value(op.a), ctx.value(op.b)], {}, op.out));
  },
  backward(ctx, op, dY) {
    ctx.addGrad(op.a, dY);
    ctx.addGrad(op.b, dY);
  },
};
