import type { GraphBuilder } from "../graph-builder.ts";
import { savedOf, type OpEmitter } from "./context.ts";

/**
 * Per-channel sum over N, H and W in two stages, positions within each image first:
 * ORT's CPU reductions add in one float32 running sum, whose error grows with the
 * count (N*H*W is 65,536 at batch 64 on 32x32), and BN divides by the spread, so the
 * error of a mean reaches the normalised activations magnified by mean/std. Summing
 * H*W then N terms keeps it near PyTorch's (pairwise sums) for one small extra reduction.
 */
function channelSum(g: GraphBuilder, reduce: "ReduceSum" | "ReduceSumSquare", x: string, keepdims: 0 | 1): string {
  const perRow = g.op1(reduce, [x, g.constInt64([3])], { keepdims: 1 });
  const perImage = g.op1("ReduceSum", [perRow, g.constInt64([2])], { keepdims: 1 });
  return g.op1("ReduceSum", [perImage, g.constInt64([0, 2, 3])], { keepdims });
}

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
 * - forward: the centred c = x - mean once, the variance as mean(c^2), then ORT's
 *   inference-mode BatchNormalization of c with mean 0, one pass.
 * - backward, from the same c:
 *     dx = k1 * dy + k2 * c + k3,  k1 = gamma * rstd,  k2 = -k1 * rstd^2 * sum(dy * c) / n,
 *                                  k3 = -k1 * sum(dy) / n
 *   where k2 * c + k3 is again an inference-mode BatchNormalization (one pass).
 * The centred tensor costs one pass more than E[x^2] - mean^2 and sum(dy * x) -
 * mean * sum(dy), but those cancel catastrophically where a channel's mean is large
 * against its spread (deep residual streams): on a width-2 ResNet-50 they put the first
 * conv's gradient 33-83% away from PyTorch's and the oracle's.
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
      const [, h, w] = ctx.shapes[op.x] as [number, number, number];
      const n = g.op1("Mul", [ctx.batchSize(), g.constFloat([h * w], [])]);
      const mean4 = g.op1("Div", [channelSum(g, "ReduceSum", x, 1), n]);
      const centred = g.op1("Sub", [x, mean4]);
      const mean = g.op1("Reshape", [mean4, g.constInt64([c])]);
      const variance = g.op1("Div", [channelSum(g, "ReduceSumSquare", centred, 0), n]);
      const zero = g.constFloat(new Array(c).fill(0), [c]);
      ctx.setValue(op.out, g.op1("BatchNormalization", [centred, ctx.param(op.gamma), ctx.param(op.beta), zero, variance], { epsilon: eps }, op.out));
      const rstd = g.op1("Reciprocal", [g.op1("Sqrt", [g.op1("Add", [variance, g.constFloat([settings.eps], [])])])]);

      // Running statistics as PyTorch keeps them: unbiased variance, weight `momentum` on the batch.
      const unbiased = g.op1("Mul", [variance, g.op1("Div", [n, g.op1("Sub", [n, g.constFloat([1], [])])])]);
      const m = g.constFloat([settings.momentum], []);
      const keep = g.constFloat([1 - settings.momentum], []);
      ctx.setBuffer(op.mean, g.op1("Add", [g.op1("Mul", [ctx.buffer(op.mean), keep]), g.op1("Mul", [mean, m])]));
      ctx.setBuffer(op.var, g.op1("Add", [g.op1("Mul", [ctx.buffer(op.var), keep]), g.op1("Mul", [unbiased, m])]));
      ctx.saved.set(op.out, { centred, mean, variance, rstd, n, zero });
    },
    backward(ctx, op, dY) {
      const g = ctx.g;
      const { centred, rstd, n, zero } = savedOf(ctx, op.out, "centred", "rstd", "n", "zero");
      const sumDy = channelSum(g, "ReduceSum", dY, 0);
      const sumDyC = channelSum(g, "ReduceSum", g.op1("Mul", [dY, centred]), 0);
      ctx.setParamGrad(op.beta, sumDy);
      ctx.setParamGrad(op.gamma, g.op1("Mul", [sumDyC, rstd]));
      if (!ctx.needsGrad(op.x)) return;
      const k1 = g.op1("Mul", [ctx.param(op.gamma), rstd]);
      const k2 = g.op1("Neg", [g.op1("Div", [g.op1("Mul", [g.op1("Mul", [k1, g.op1("Mul", [rstd, rstd])]), sumDyC]), n])]);
      const k3 = g.op1("Neg", [g.op1("Div", [g.op1("Mul", [k1, sumDy]), n])]);
      const c = op.channels;
      const one = g.constFloat(new Array(c).fill(1), [c]);
      // k2 * c + k3 as BatchNormalization(scale k2, bias k3, mean 0, var 1); epsilon must be tiny
      // so that sqrt(1 + epsilon) rounds to exactly 1 in float32.
      const affine = g.op1("BatchNormalization", [centred, k2, k3, zero, one], { epsilon: { float: 1e-12 } });
      const k1b = g.op1("Reshape", [k1, g.constInt64([1, c, 1, 1])]);
      ctx.addGrad(op.x, g.op1("Add", [g.op1("Mul", [dY, k1b]), affine]));
    },
  };
}
