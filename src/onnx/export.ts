import { onnx } from "onnx-proto";
import type { ModelState, Tensors } from "../engine/types.ts";
import { buildGraph } from "../engine/onnx/training-graph.ts";
import type { ModelSpec } from "../models/spec.ts";

/**
 * A standalone inference model: weights (masked, so pruned weights are stored as
 * zeros) and BN running statistics as initializers, input "x" [N, C, H, W] with a
 * dynamic batch, output "logits" [N, classes], opset 18, standard ops only, and
 * metadata (architecture, density, dataset, accuracy...) as model properties.
 */
export function exportInferenceModel(spec: ModelSpec, state: Pick<ModelState, "params" | "buffers">, masks: Tensors, o: { bnEps: number; metadata: Record<string, string> }): Uint8Array {
  const params: Tensors = {};
  for (const [name, w] of Object.entries(state.params)) {
    const m = masks[name];
    params[name] = m ? w.map((v, i) => (m[i] ? v : 0)) : w;
  }
  const graph = buildGraph("eval", { spec, maskedParams: [], bn: { eps: o.bnEps, momentum: 0 }, sgd: { momentum: 0, weightDecay: 0 }, constants: { params, buffers: state.buffers } });
  return reencode(graph, spec.arch, { architecture: spec.arch, ...o.metadata });
}


/** Sets the model's name and metadata on an encoded model. */
function reencode(bytes: Uint8Array, name: string, metadata: Record<string, string>): Uint8Array {
  const m = onnx.ModelProto.decode(bytes);
  m.graph!.name = name;
  m.metadataProps = Object.entries(metadata).map(([key, value]) => onnx.StringStringEntryProto.create({ key, value }));
  return onnx.ModelProto.encode(m).finish();
}
