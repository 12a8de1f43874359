import type { OpEmitter } from "./context.ts";

/** x + a per-position constant ([C, H, W], broadcast over the batch). */
export const addConst: OpEmitter<"add-const"> = {
  forward(ctx, op) {
    ctx.setValue(op.out, ctx.g.op1("Add", [ctx.value(op.x), ctx.buffer(op.tensor)], {}, op.out));
  },
  backward(ctx, op, dY) {
    ctx.addGrad(op.x, dY);
  },
};
