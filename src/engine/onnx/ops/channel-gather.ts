import type { GraphBuilder } from "../graph-builder.ts";
import type { OpEmitter } from "./context.ts";
import { zeroInterleave } from "./conv.ts";

/** Channels of x (plus one zero channel appended, index C) picked by `indices`. */
function gatherWithZero(g: GraphBuilder, x: string, indices: number[]): string {
  const padded = g.op1("Pad", [x, g.constInt64([0, 0, 0, 0, 0, 1, 0, 0])]);
  return g.op1("Gather", [padded, g.constInt64(indices)], { axis: 1 });
}

/** Subsample, then output channel k = input channel sources[k] (or zeros for -1). */
export const channelGather: OpEmitter<"channel-gather"> = {
  forward(ctx, op) {
    const g = ctx.g;
    const [cin, h, w] = ctx.shapes[op.x] as [number, number, number];
    let y = ctx.value(op.x);
    if (op.stride !== 1) y = g.op1("Slice", [y, g.constInt64([0, 0]), g.constInt64([h, w]), g.constInt64([2, 3]), g.constInt64([op.stride, op.stride])]);
    ctx.setValue(
      op.out,
      gatherWithZero(
        g,
        y,
        op.sources.map((s) => (s < 0 ? cin : s)),
      ),
    );
  },
  backward(ctx, op, dY) {
    const g = ctx.g;
    const [cin, h, w] = ctx.shapes[op.x] as [number, number, number];
    const [cout, ho, wo] = ctx.shapes[op.out] as [number, number, number];
    // Each input channel feeds at most one output channel, so the gradient is a gather too.
    const inverse = new Array<number>(cin).fill(cout);
    op.sources.forEach((s, k) => {
      if (s >= 0) inverse[s] = k;
    });
    let d = gatherWithZero(g, dY, inverse);
    if (op.stride !== 1) d = zeroInterleave(g, d, cin, ho, wo, op.stride, h, w);
    ctx.addGrad(op.x, d);
  },
};
