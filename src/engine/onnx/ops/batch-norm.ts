import { CHANNEL_REDUCE_AXES, savedOf, type OpEmitter } from "./context.ts";

/** PyTorch's BatchNorm2d defaults; the engine's training config may override them. */
export interface BnSettings {
  eps: number;
  /** Weight of the batch statistic in the running average (PyTorch convention). */
  momentum: number;
}

/**
 * Training-mode BN written to touch each activation tensor as few times as possible:
 * every elementwise op is a full memory pass on the CPU EP, and these passes were a
 * third of the step (bench:profile-step).
 * - forward: mean and E[x^2] by two reductions (no centred copy), then ORT's
 *   inference-mode BatchNormalization fed the batch statistics, one pass.
 * - backward, with c = x - mean never materialised:
 *     sum(dy * c) = sum(dy * x) - mean * sum(dy)
 *     dx = k1 * dy + k2 * x + k3,  k1 = gamma * rstd,  k2 = -k1 * rstd^2 * sum(dy * c) / n,
 *                                  k3 = -k1 * sum(dy) / n - k2 * mean
 *   where k2 * x + k3 is again an inference-mode BatchNormalization (one pass).
 */
export function batchNorm(settings: BnSettings): OpEmitter<"bn"> {
  return {
    forward(ctx, op) {
      const g = ctx.g;
      const x = ctx.value(op.x);
      const c = op.channels;
      const eps = { float: settings.eps };
      if (ctx.mode === "eval") {
        ctx.setValue(
          op.out,
          g.op1("BatchNormalization", [x, ctx.param(op.gamma), ctx.param(op.beta), ctx.buffer(op.mean), ctx.buffer(op.var)], { epsilon: eps }, op.out),
        );
        return;
      }
      const axes = g.constInt64(CHANNEL_REDUCE_AXES);
      const [, h, w] = ctx.shapes[op.x] as [number, number, number];
      const n = g.op1("Mul", [ctx.batchSize(), g.constFloat([h * w], [])]);
      const mean = g.op1("ReduceMean", [x, axes], { keepdims: 0 });
      const meanSq = g.op1("Div", [g.op1("ReduceSumSquare", [x, axes], { keepdims: 0 }), n]);
      // E[x^2] - mean^2 can round below zero when the variance is tiny.
      const variance = g.op1("Relu", [g.op1("Sub", [meanSq, g.op1("Mul", [mean, mean])])]);
      ctx.setValue(op.out, g.op1("BatchNormalization", [x, ctx.param(op.gamma), ctx.param(op.beta), mean, variance], { epsilon: eps }, op.out));
      const rstd = g.op1("Reciprocal", [g.op1("Sqrt", [g.op1("Add", [variance, g.constFloat([settings.eps], [])])])]);

      // Running statistics as PyTorch keeps them: unbiased variance, weight `momentum` on the batch.
      const unbiased = g.op1("Mul", [variance, g.op1("Div", [n, g.op1("Sub", [n, g.constFloat([1], [])])])]);
      const m = g.constFloat([settings.momentum], []);
      const keep = g.constFloat([1 - settings.momentum], []);
      ctx.setBuffer(op.mean, g.op1("Add", [g.op1("Mul", [ctx.buffer(op.mean), keep]), g.op1("Mul", [mean, m])]));
      ctx.setBuffer(op.var, g.op1("Add", [g.op1("Mul", [ctx.buffer(op.var), keep]), g.op1("Mul", [unbiased, m])]));
      ctx.saved.set(op.out, { x, mean, variance, rstd, n });
    },
    backward(ctx, op, dY) {
      const g = ctx.g;
      const { x, mean, rstd, n } = savedOf(ctx, op.out, "x", "mean", "rstd", "n");
      const axes = g.constInt64(CHANNEL_REDUCE_AXES);
      const sumDy = g.op1("ReduceSum", [dY, axes], { keepdims: 0 });
      const sumDyX = g.op1("ReduceSum", [g.op1("Mul", [dY, x]), axes], { keepdims: 0 });
      const sumDyC = g.op1("Sub", [sumDyX, g.op1("Mul", [mean, sumDy])]);
      ctx.setParamGrad(op.beta, sumDy);
      ctx.setParamGrad(op.gamma, g.op1("Mul", [sumDyC, rstd]));
      if (!ctx.needsGrad(op.x)) return;
      const k1 = g.op1("Mul", [ctx.param(op.gamma), rstd]);
      const k2 = g.op1("Neg", [g.op1("Div", [g.op1("Mul", [g.op1("Mul", [k1, g.op1("Mul", [rstd, rstd])]), sumDyC]), n])]);
      const k3 = g.op1("Neg", [g.op1("Add", [g.op1("Div", [g.op1("Mul", [k1, sumDy]), n]), g.op1("Mul", [k2, mean])])]);
      const c = op.channels;
      const zero = g.constFloat(new Array(c).fill(0), [c]);
      const one = g.constFloat(new Array(c).fill(1), [c]);
      // k2 * x + k3 as BatchNormalization(scale k2, bias k3, mean 0, var 1); epsilon must be tiny
      // so that sqrt(1 + epsilon) rounds to exactly 1 in float32.
      const affine = g.op1("BatchNormalization", [x, k2, k3, zero, one], { epsilon: { float: 1e-12 } });
      const k1b = g.op1("Reshape", [k1, g.constInt64([1, c, 1, 1])]);
      ctx.addGrad(op.x, g.op1("Add", [g.op1("Mul", [dY, k1b]), affine]));
    },
  };
}
