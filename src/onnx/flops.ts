import type { Tensors } from "../engine/types.ts";
import type { ModelSpec } from "../models/spec.ts";

/**
 * Multiply-accumulates per image of the conv and fc layers (BN, ReLU, additions and
 * pooling are left out: they are a few percent of a ResNet's work). A conv weight is
 * used once per output position, so with masks the count is the non-zero weights
 * times the output positions: the "theoretical" cost of unstructured sparsity.
 */
export function countMacs(spec: ModelSpec, masks: Tensors = {}): { dense: number; remaining: number } {
  let dense = 0,
    remaining = 0;
  for (const op of spec.ops) {
    if (op.kind !== "conv" && op.kind !== "fc") continue;
    const weightName = op.weight;
    const positions = op.kind === "conv" ? spec.shapes[op.out]![1]! * spec.shapes[op.out]![2]! : 1;
    const weights = op.kind === "conv" ? op.cout * op.cin * op.kernel * op.kernel : op.fin * op.fout;
    const m = masks[weightName];
    const alive = m ? m.reduce((s, v) => s + (v !== 0 ? 1 : 0), 0) : weights;
    dense += weights * positions;
    remaining += alive * positions;
  }
  return { dense, remaining };
}

/** One conv or fc layer as far as its work is concerned. */
export interface MacLayer {
  kind: "conv" | "fc";
  cin: number;
  cout: number;
  kernel: number;
  /** Output positions per image (1 for fc). */
  positions: number;
}

export function macLayers(spec: ModelSpec): MacLayer[] {
  const out: MacLayer[] = [];
  for (const op of spec.ops) {
    if (op.kind === "conv")
      out.push({ kind: "conv", cin: op.cin, cout: op.cout, kernel: op.kernel, positions: spec.shapes[op.out]![1]! * spec.shapes[op.out]![2]! });
    else if (op.kind === "fc") out.push({ kind: "fc", cin: op.fin, cout: op.fout, kernel: 1, positions: 1 });
  }
  return out;
}

/**
 * MACs per image as ONNX Runtime's CPU EP executes the convs in its blocked NCHWc layout
 * (block = SIMD width in floats, 16 with AVX-512): output channels are padded up to a
 * multiple of the block, and so are input channels when there are at least a block of
 * them (a conv with fewer reads plain NCHW input, as ops/nchwc.ts does). fc layers
 * are counted as they are. block <= 1: no padding.
 */
export function paddedMacs(layers: MacLayer[], block: number): number {
  const up = (n: number) => (block > 1 ? Math.ceil(n / block) * block : n);
  return layers.reduce((s, l) => {
    if (l.kind === "fc") return s + l.cin * l.cout;
    const cin = l.cin >= block ? up(l.cin) : l.cin;
    return s + up(l.cout) * cin * l.kernel * l.kernel * l.positions;
  }, 0);
}
