import { CHANNEL_REDUCE_AXES, savedOf, type OpEmitter } from "./context.ts";

/** PyTorch's BatchNorm2d defaults; the engine's training config may override them. */
export interface BnSettings {
  eps: number;
  /** Weight of the batch statistic in the running average (PyTorch convention). */
  momentum: number;
}

export function batchNorm(settings: BnSettings): OpEmitter<"bn"> {
  return {
    forward(ctx, op) {
      const g = ctx.g;
      const x = ctx.value(op.x);
      const c = op.channels;
      const eps = { float: settings.eps };
      if (ctx.mode === "eval") {
        ctx.setValue(op.out, g.op1("BatchNormalization", [x, ctx.param(op.gamma), ctx.param(op.beta), ctx.buffer(op.mean), ctx.buffer(op.var)], { epsilon: eps }, op.out));
        return;
      }
      const axes = g.constInt64(CHANNEL_REDUCE_AXES);
      const [, h, w] = ctx.shapes[op.x] as [number, number, number];
      const mean4 = g.op1("ReduceMean", [x, axes], { keepdims: 1 });
      const xc = g.op1("Sub", [x, mean4]);
      const var4 = g.op1("ReduceMean", [g.op1("Mul", [xc, xc]), axes], { keepdims: 1 });
      const rstd4 = g.op1("Reciprocal", [g.op1("Sqrt", [g.op1("Add", [var4, g.constFloat([settings.eps], [])])])]);
      const flat = g.constInt64([c]);
      const mean = g.op1("Reshape", [mean4, flat]);
      const variance = g.op1("Reshape", [var4, flat]);
      // Inference-mode BatchNormalization with the batch statistics: one pass for the affine output.
      ctx.setValue(op.out, g.op1("BatchNormalization", [x, ctx.param(op.gamma), ctx.param(op.beta), mean, variance], { epsilon: eps }, op.out));

      // Running statistics as PyTorch keeps them: unbiased variance, weight `momentum` on the batch.
      const n = g.op1("Mul", [ctx.batchSize(), g.constFloat([h * w], [])]);
      const unbiased = g.op1("Mul", [variance, g.op1("Div", [n, g.op1("Sub", [n, g.constFloat([1], [])])])]);
      const m = g.constFloat([settings.momentum], []);
      const keep = g.constFloat([1 - settings.momentum], []);
      ctx.setBuffer(op.mean, g.op1("Add", [g.op1("Mul", [ctx.buffer(op.mean), keep]), g.op1("Mul", [mean, m])]));
      ctx.setBuffer(op.var, g.op1("Add", [g.op1("Mul", [ctx.buffer(op.var), keep]), g.op1("Mul", [unbiased, m])]));
      ctx.saved.set(op.out, { xc, rstd4, n });
    },
    backward(ctx, op, dY) {
      const g = ctx.g;
      const { xc, rstd4, n } = savedOf(ctx, op.out, "xc", "rstd4", "n");
      const c = op.channels;
      const axes = g.constInt64(CHANNEL_REDUCE_AXES);
      const sumDy = g.op1("ReduceSum", [dY, axes], { keepdims: 1 });
      const sumDyXc = g.op1("ReduceSum", [g.op1("Mul", [dY, xc]), axes], { keepdims: 1 });
      const flat = g.constInt64([c]);
      ctx.setParamGrad(op.beta, g.op1("Reshape", [sumDy, flat]));
      ctx.setParamGrad(op.gamma, g.op1("Reshape", [g.op1("Mul", [sumDyXc, rstd4]), flat]));
      if (!ctx.needsGrad(op.x)) return;
      // dx = gamma*rstd * (dy - sum(dy)/n - xc * rstd^2 * sum(dy*xc)/n)
      const gamma4 = g.op1("Reshape", [ctx.param(op.gamma), g.constInt64([1, c, 1, 1])]);
      const k1 = g.op1("Mul", [gamma4, rstd4]);
      const c2 = g.op1("Div", [g.op1("Mul", [sumDyXc, g.op1("Mul", [rstd4, rstd4])]), n]);
      const c3 = g.op1("Div", [sumDy, n]);
      const inner = g.op1("Sub", [g.op1("Sub", [dY, g.op1("Mul", [xc, c2])]), c3]);
      ctx.addGrad(op.x, g.op1("Mul", [inner, k1]));
    },
  };
}
