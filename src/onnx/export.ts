import { onnx } from "onnx-proto";
import * as ort from "onnxruntime-node";
import { createTrainer } from "../engine/registry.ts";
import { Rng } from "../util/rng.ts";
import type { ModelState, Tensors } from "../engine/types.ts";
import { buildGraph } from "../engine/onnx/training-graph.ts";
import { countParams, prunableLayers, type ModelSpec } from "../models/spec.ts";
import { applyMasks } from "../prune/magnitude.ts";
import { compactModel } from "./compact.ts";
import { countMacs } from "./flops.ts";

/**
 * A standalone inference model: weights (masked, so pruned weights are stored as
 * zeros) and BN running statistics as initializers, input "x" [N, C, H, W] with a
 * dynamic batch, output "logits" [N, classes], standard ops only (opset 17, see reencode), and
 * metadata (architecture, density, dataset, accuracy...) as model properties.
 */
export function exportInferenceModel(
  spec: ModelSpec,
  state: Pick<ModelState, "params" | "buffers">,
  masks: Tensors,
  o: { bnEps: number; metadata: Record<string, string> },
): Uint8Array {
  const graph = buildGraph("eval", {
    spec,
    maskedParams: [],
    bn: { eps: o.bnEps, momentum: 0 },
    sgd: { momentum: 0, weightDecay: 0 },
    constants: { params: applyMasks(state.params, masks), buffers: state.buffers },
  });
  return reencode(graph, spec.arch, { architecture: spec.arch, ...o.metadata });
}

/** Standard ops whose opset-17 form is what the graph builder emits for opset 18 (ReduceMean is rewritten below). */
const SAME_IN_OPSET_17 = new Set([
  "Add",
  "BatchNormalization",
  "Cast",
  "Concat",
  "Conv",
  "Div",
  "Flatten",
  "Gather",
  "Gemm",
  "GlobalAveragePool",
  "Identity",
  "MatMul",
  "MaxPool",
  "Mul",
  "Pad",
  "ReduceMean",
  "Relu",
  "Reshape",
  "Shape",
  "Slice",
  "Sqrt",
  "Sub",
  "Unsqueeze",
]);

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
  // Decided on the live nodes below; ReduceMean's axes move to an attribute only when the
  // model is declared opset 17 (in opset 18 that attribute is invalid: a graph with an op
  // outside the list keeps 18 and its ReduceMean as built).
  const liveOps = liveNodes(g.node ?? [], g.output ?? []);
  const portable = liveOps.every((n) => (n.domain ?? "") === "" && SAME_IN_OPSET_17.has(n.opType!));
  for (const n of portable ? (g.node ?? []) : []) {
    const axes = n.opType === "ReduceMean" && n.input?.length === 2 ? inits.get(n.input[1]!) : undefined;
    if (!axes) continue;
    const values = (axes.int64Data ?? []).map((v) => Number(v));
    n.input = [n.input![0]!];
    n.attribute = [...(n.attribute ?? []), onnx.AttributeProto.create({ name: "axes", type: onnx.AttributeProto.AttributeType.INTS, ints: values })];
  }
  const nodes = liveNodes(g.node ?? [], g.output ?? []);
  g.node = nodes;
  const used = new Set(nodes.flatMap((n) => n.input ?? []));
  g.initializer = (g.initializer ?? []).filter((t) => used.has(t.name!));
  const domains = new Set(nodes.map((n) => n.domain ?? ""));
  m.opsetImport = (m.opsetImport ?? [])
    .filter((o) => domains.has(o.domain ?? ""))
    .map((o) => ((o.domain ?? "") === "" && portable ? { ...o, version: 17 } : o));
  g.name = name;
  m.metadataProps = Object.entries(metadata).map(([key, value]) => onnx.StringStringEntryProto.create({ key, value }));
  return onnx.ModelProto.encode(m).finish();
}

/** The nodes some graph output depends on. */
function liveNodes(all: onnx.INodeProto[], outputs: onnx.IValueInfoProto[]): onnx.INodeProto[] {
  let nodes = all;
  for (;;) {
    const read = new Set([...nodes.flatMap((n) => n.input ?? []), ...outputs.map((o) => o.name!)]);
    const live = nodes.filter((n) => (n.output ?? []).some((o) => read.has(o)));
    if (live.length === nodes.length) return nodes;
    nodes = live;
  }
}

export class ExportParityError extends Error {}

/** The logits an exported model gives for the NCHW batch `x` of shape `dims` (a fresh ORT CPU session). */
export async function runOnce(bytes: Uint8Array, x: Float32Array, dims: number[]): Promise<Float32Array> {
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
  const dims = [batch, ...inputShape];
  const x = randomImages(dims, seed, "compare-models");
  return maxAbsDiff(await runOnce(a, x, dims), await runOnce(b, x, dims));
}

/** Standard-normal pixels for a batch of the given NCHW dims, from the stream (seed, purpose). */
export function randomImages(dims: readonly number[], seed: number, purpose: string): Float32Array {
  const rng = new Rng(seed, purpose);
  return Float32Array.from({ length: dims.reduce((p, q) => p * q, 1) }, () => rng.normal());
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
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
  const dims = [o.parityBatch, ...spec.inputShape];
  const x = randomImages(dims, o.seed, "export-parity");
  const got = await runOnce(bytes, x, dims);
  const oracle = await createTrainer(
    { engine: "tfjs", tfjsBackend: "cpu" },
    { spec, sgd: { momentum: 0, weightDecay: 0 }, bn: { eps: o.bnEps, momentum: 0 } },
    { params: state.params, buffers: state.buffers, momentum: {} },
  );
  for (const [k, m] of Object.entries(masks)) oracle.masks[k] = m;
  const want = await oracle.predict(x, o.parityBatch);
  await oracle.dispose();
  const diff = maxAbsDiff(got, want);
  if (!(diff <= o.tolerance))
    throw new ExportParityError(
      `exported ${spec.arch} (${o.metadata.name ?? "model"}) disagrees with the TensorFlow.js oracle: max |logit difference| ${diff} > ${o.tolerance}; the file was not written`,
    );
  return { bytes, maxAbsDiff: diff };
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
  if (!(d <= o.tolerance))
    throw new ExportParityError(
      `compacted ${spec.arch} differs from the masked model it came from: max |logit difference| ${d} > ${o.tolerance}; nothing was written`,
    );
  return d;
}

/** What exportCheckpoint wrote and what the file computes with. */
export interface CheckpointExport {
  bytes: Uint8Array;
  parityMaxAbsDiff: number;
  /** The exported model: the compacted spec or the original one. */
  spec: ModelSpec;
  /** Non-zero conv weights in the file / conv weights of the original dense model. */
  convWeightDensity: number;
  /** Conv+fc MACs per image of the original dense model, and of the file's non-zero weights. */
  macs: { dense: number; remaining: number };
  removedConvChannels: number;
  foldedChannels: number;
}

/**
 * A trained (possibly masked) model to a checked inference file: compacted when asked
 * (and checked against the masked model), then exported with the oracle parity check.
 * models:export and models:export --unit both come through here.
 */
export async function exportCheckpoint(
  spec: ModelSpec,
  ckpt: { state: Pick<ModelState, "params" | "buffers">; masks: Tensors },
  o: { compact: boolean; bnEps: number; metadata: Record<string, string>; parity: { batch: number; tolerance: number; seed: number } },
): Promise<CheckpointExport> {
  let fileSpec = spec,
    state = ckpt.state,
    masks = ckpt.masks,
    removed = 0,
    folded = 0;
  if (o.compact) {
    const c = compactModel(spec, ckpt.state.params, ckpt.state.buffers, ckpt.masks, { bnEps: o.bnEps });
    await checkCompaction(spec, ckpt, c, { bnEps: o.bnEps, ...o.parity });
    fileSpec = c.spec;
    state = { params: c.params, buffers: c.buffers };
    masks = {};
    removed = c.removedConvChannels;
    folded = c.foldedChannels;
  }
  const { bytes, maxAbsDiff } = await exportChecked(fileSpec, state, masks, {
    bnEps: o.bnEps,
    metadata: o.metadata,
    parityBatch: o.parity.batch,
    tolerance: o.parity.tolerance,
    seed: o.parity.seed,
  });
  const effective = applyMasks(state.params, masks);
  let alive = 0;
  for (const l of prunableLayers(fileSpec)) for (const v of effective[l.name]!) if (v !== 0) alive++;
  return {
    bytes,
    parityMaxAbsDiff: maxAbsDiff,
    spec: fileSpec,
    convWeightDensity: alive / countParams(spec, ["conv"]),
    macs: { dense: countMacs(spec).dense, remaining: countMacs(fileSpec, masks).remaining },
    removedConvChannels: removed,
    foldedChannels: folded,
  };
}
