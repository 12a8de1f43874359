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
 * dynamic batch, output "logits" [N, classes], standard ops only (opset 17, see reencode), and
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


/** Standard ops whose opset-17 form is what the graph builder emits for opset 18 (ReduceMean is rewritten below). */
const SAME_IN_OPSET_17 = new Set(["Add", "BatchNormalization", "Cast", "Concat", "Conv", "Div", "Flatten", "Gather", "Gemm", "GlobalAveragePool", "Identity", "MatMul", "Mul", "Pad", "ReduceMean", "Relu", "Reshape", "Shape", "Slice", "Sqrt", "Sub", "Unsqueeze"]);

/**
 * Makes an inference graph as portable as it can be: drops nodes nothing reads (the
 * training graph's saved-for-backward values), moves ReduceMean's axes from an input
 * (opset 18) to an attribute, and then declares opset 17 when every op means the same
 * there, so that older runtimes and checkers load it; drops unused initializers and
 * opset imports; sets the model's name and metadata.
 */
function reencode(bytes: Uint8Array, name: string, metadata: Record<string, string>): Uint8Array {
  const m = onnx.ModelProto.decode(bytes);
  const g = m.graph!;
  const inits = new Map((g.initializer ?? []).map((t) => [t.name!, t]));
  for (const n of g.node ?? []) {
    const axes = n.opType === "ReduceMean" && n.input?.length === 2 ? inits.get(n.input[1]!) : undefined;
    if (!axes) continue;
    const values = (axes.int64Data ?? []).map((v) => Number(v));
    n.input = [n.input![0]!];
    n.attribute = [...(n.attribute ?? []), onnx.AttributeProto.create({ name: "axes", type: onnx.AttributeProto.AttributeType.INTS, ints: values })];
  }
  let nodes = g.node ?? [];
  for (;;) {
    const read = new Set([...nodes.flatMap((n) => n.input ?? []), ...(g.output ?? []).map((o) => o.name!)]);
    const live = nodes.filter((n) => (n.output ?? []).some((o) => read.has(o)));
    if (live.length === nodes.length) break;
    nodes = live;
  }
  g.node = nodes;
  const used = new Set(nodes.flatMap((n) => n.input ?? []));
  g.initializer = (g.initializer ?? []).filter((t) => used.has(t.name!));
  const domains = new Set(nodes.map((n) => n.domain ?? ""));
  const portable = nodes.every((n) => (n.domain ?? "") === "" && SAME_IN_OPSET_17.has(n.opType!));
  m.opsetImport = (m.opsetImport ?? []).filter((o) => domains.has(o.domain ?? "")).map((o) => ((o.domain ?? "") === "" && portable ? { ...o, version: 17 } : o));
  g.name = name;
  m.metadataProps = Object.entries(metadata).map(([key, value]) => onnx.StringStringEntryProto.create({ key, value }));
  return onnx.ModelProto.encode(m).finish();
}

export class ExportParityError extends Error {}

async function runOnce(bytes: Uint8Array, x: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ["cpu"] });
  try {
    return (await session.run({ x: new ort.Tensor("float32", x, dims) })).logits!.data as Float32Array;
  } finally {
    await session.release();
  }
}

/**
 * Largest |logit difference| between two exported models on one random batch (ORT CPU):
 * how a compacted model is checked against the masked model it came from.
 */
export async function maxLogitDiff(a: Uint8Array, b: Uint8Array, inputShape: readonly number[], batch: number, seed: number): Promise<number> {
  const rng = new Rng(seed, "compare-models");
  const dims = [batch, ...inputShape];
  const x = Float32Array.from({ length: dims.reduce((p, q) => p * q, 1) }, () => rng.normal());
  const [ya, yb] = [await runOnce(a, x, dims), await runOnce(b, x, dims)];
  let m = 0;
  for (let i = 0; i < ya.length; i++) m = Math.max(m, Math.abs(ya[i]! - yb[i]!));
  return m;
}

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
  const got = await runOnce(bytes, x, [o.parityBatch, c, h, w]);
  const oracle = await createTrainer({ engine: "tfjs", tfjsBackend: "cpu" }, { spec, sgd: { momentum: 0, weightDecay: 0 }, bn: { eps: o.bnEps, momentum: 0 } }, { params: state.params, buffers: state.buffers, momentum: {} });
  for (const [k, m] of Object.entries(masks)) oracle.masks[k] = m;
  const want = await oracle.predict(x, o.parityBatch);
  await oracle.dispose();
  let maxAbsDiff = 0;
  for (let i = 0; i < want.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(got[i]! - want[i]!));
  if (!(maxAbsDiff <= o.tolerance)) throw new ExportParityError(`exported ${spec.arch} (${o.metadata.name ?? "model"}) disagrees with the TensorFlow.js oracle: max |logit difference| ${maxAbsDiff} > ${o.tolerance}; the file was not written`);
  return { bytes, maxAbsDiff };
}

/** Throws unless the compact model's logits equal the masked model's (within the parity tolerance). */
export async function checkCompaction(
  spec: ModelSpec,
  masked: { state: Pick<ModelState, "params" | "buffers">; masks: Tensors },
  compact: { spec: ModelSpec; params: Tensors; buffers: Tensors },
  o: { bnEps: number; batch: number; tolerance: number; seed: number },
): Promise<number> {
  const a = exportInferenceModel(spec, masked.state, masked.masks, { bnEps: o.bnEps, metadata: {} });
  const b = exportInferenceModel(compact.spec, compact, {}, { bnEps: o.bnEps, metadata: {} });
  const d = await maxLogitDiff(a, b, spec.inputShape, o.batch, o.seed);
  if (!(d <= o.tolerance)) throw new ExportParityError(`compacted ${spec.arch} differs from the masked model it came from: max |logit difference| ${d} > ${o.tolerance}; nothing was written`);
  return d;
}
