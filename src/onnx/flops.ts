import type { Tensors } from "../engine/types.ts";
import type { ModelSpec } from "../models/spec.ts";

/**
 * Multiply-accumulates per image of the conv and fc layers (BN, ReLU, additions and
 * pooling are left out: they are a few percent of a ResNet's work). A conv weight is
 * used once per output position, so with masks the count is the non-zero weights
 * times the output positions: the "theoretical" cost of unstructured sparsity.
 */
export function countMacs(spec: ModelSpec, masks: Tensors = {}): { dense: number; remaining: number } {
  let dense = 0, remaining = 0;
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
