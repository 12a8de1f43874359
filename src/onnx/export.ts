import { onnx } from "onnx-proto";
import * as ort from "onnxruntime-node";
import { createTrainer } from "../engine/registry.ts";
import { Rng } from "../util/rng.ts";
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

export class ExportParityError extends Error {}

/**
 * Exports and checks the file before anyone uses it: ONNX Runtime (CPU EP) runs the
 * exported bytes on a random batch and the TensorFlow.js oracle runs the same weights
 * from the model spec; the largest absolute logit difference must be <= tolerance.
 */
export async function exportChecked(
  spec: ModelSpec,
  state: Pick<ModelState, "params" | "buffers">,
  masks: Tensors,
  o: { bnEps: number; metadata: Record<string, string>; parityBatch: number; tolerance: number; seed: number },
): Promise<{ bytes: Uint8Array; maxAbsDiff: number }> {
  const bytes = exportInferenceModel(spec, state, masks, o);
  const [c, h, w] = spec.inputShape;
  const rng = new Rng(o.seed, "export-parity");
  const x = Float32Array.from({ length: o.parityBatch * c * h * w }, () => rng.normal());
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ["cpu"] });
  let got: Float32Array;
  try {
    got = (await session.run({ x: new ort.Tensor("float32", x, [o.parityBatch, c, h, w]) })).logits!.data as Float32Array;
  } finally {
    await session.release();
  }
  const oracle = await createTrainer({ engine: "tfjs", tfjsBackend: "cpu" }, { spec, sgd: { momentum: 0, weightDecay: 0 }, bn: { eps: o.bnEps, momentum: 0 } }, { params: state.params, buffers: state.buffers, momentum: {} });
  for (const [k, m] of Object.entries(masks)) oracle.masks[k] = m;
  const want = await oracle.predict(x, o.parityBatch);
  await oracle.dispose();
  let maxAbsDiff = 0;
  for (let i = 0; i < want.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(got[i]! - want[i]!));
  if (!(maxAbsDiff <= o.tolerance)) throw new ExportParityError(`exported ${spec.arch} (${o.metadata.name ?? "model"}) disagrees with the TensorFlow.js oracle: max |logit difference| ${maxAbsDiff} > ${o.tolerance}; the file was not written`);
  return { bytes, maxAbsDiff };
}
