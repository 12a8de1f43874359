import type { OpEmitter } from "./context.ts";
import { zeroInterleave } from "./conv.ts";

/** Option-A shortcut: x[:, :, ::s, ::s] with `padChannels` zero channels on each side. */
export const shortcutA: OpEmitter<"shortcut-a"> = {
  forward(ctx, op) {
    const g = ctx.g;
    const [, h, w] = ctx.shapes[op.x] as [number, number, number];
    let y = ctx.value(op.x);
    if (op.stride !== 1) y = g.op1("Slice", [y, g.constInt64([0, 0]), g.constInt64([h, w]), g.constInt64([2, 3]), g.constInt64([op.stride, op.stride])]);
    if (op.padChannels > 0) y = g.op1("Pad", [y, g.constInt64([0, op.padChannels, 0, 0, 0, op.padChannels, 0, 0])]);
    ctx.setValue(op.out, y);
  },
  backward(ctx, op, dY) {
    const g = ctx.g;
    const [cin, h, w] = ctx.shapes[op.x] as [number, number, number];
    const [, ho, wo] = ctx.shapes[op.out] as [number, number, number];
    let d = dY;
    if (op.padChannels > 0) d = g.op1("Slice", [d, g.constInt64([op.padChannels]), g.constInt64([op.padChannels + cin]), g.constInt64([1])]);
    if (op.stride !== 1) d = zeroInterleave(g, d, cin, ho, wo, op.stride, h, w);
    ctx.addGrad(op.x, d);
  },
};
