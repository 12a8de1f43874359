import { onnx } from "onnx-proto";
import type { ModelSpec } from "../../models/spec.ts";
import { GraphBuilder } from "./graph-builder.ts";
import type { BnSettings } from "./ops/batch-norm.ts";
import type { EmitContext } from "./ops/context.ts";
import { emitters } from "./register-all.ts";

/** Names of graph inputs and outputs: the contract between graph builder and trainer. */
export const io = {
  x: "x",
  labels: "onehot",
  lr: "lr",
  loss: "loss",
  logits: "logits",
  param: (p: string) => `param/${p}`,
  mask: (p: string) => `mask/${p}`,
  momentum: (p: string) => `momentum/${p}`,
  buffer: (b: string) => `buffer/${b}`,
  newParam: (p: string) => `new/param/${p}`,
  newMomentum: (p: string) => `new/momentum/${p}`,
  newBuffer: (b: string) => `new/buffer/${b}`,
  grad: (p: string) => `grad/${p}`,
  batchMean: (b: string) => `batch-mean/${b}`,
  batchVar: (b: string) => `batch-var/${b}`,
};

export interface GraphOptions {
  spec: ModelSpec;
  /** Parameters multiplied by a 0/1 mask input in the forward pass. */
  maskedParams: string[];
  bn: BnSettings;
  sgd: { momentum: number; weightDecay: number };
  /** NCHWc block size when the graph will run on ORT's CPU EP (0 or absent: standard ops only). */
  nchwcBlock?: number;
  /** eval only: bake these parameters and buffers in as initializers (a standalone inference model). */
  constants?: { params: Record<string, Float32Array>; buffers: Record<string, Float32Array> };
}

/**
 * - train-step: forward (BN on batch statistics), backward, SGD with momentum and
 *   weight decay as torch.optim.SGD applies them; outputs updated parameters,
 *   momentum and BN running statistics.
 * - gradients: loss and gradients with respect to the parameters as used in the
 *   forward pass (for masked layers, the masked weight z = m * theta), for BiP and SAM.
 * - eval: logits with BN on running statistics.
 * - bn-stats: training-mode forward that outputs every BN's batch mean and biased
 *   variance (re-estimating running statistics, e.g. along an LMC path).
 */
export type GraphKind = "train-step" | "gradients" | "eval" | "bn-stats";

export function buildGraph(kind: GraphKind, o: GraphOptions): Uint8Array {
  const { spec } = o;
  const g = new GraphBuilder();
  const masked = new Set(o.maskedParams);
  declareInputs(g, kind, o, masked);
  const state = { gradParts: new Map<string, string[]>(), paramGrads: new Map<string, string>(), newBuffers: new Map<string, string>() };
  const ctx = emitContext(g, kind === "eval" ? "eval" : "train", o, masked, state);

  const table = emitters(o.bn);
  for (const op of spec.ops) (table[op.kind].forward as (c: EmitContext, o: typeof op) => void)(ctx, op);
  const logits = ctx.value(spec.output);
  g.alias(logits, io.logits);
  g.output(io.logits, ["N", spec.numClasses]);
  if (kind === "eval") return g.toModel(`${spec.arch}-eval`);
  if (kind === "bn-stats") {
    outputBatchStats(g, spec, ctx);
    return g.toModel(`${spec.arch}-bn-stats`);
  }

  emitLoss(g, ctx, spec, logits);
  for (const op of [...spec.ops].reverse()) {
    const parts = state.gradParts.get(op.out);
    if (!parts) continue;
    const d = parts.length === 1 ? parts[0]! : g.op1("Sum", parts);
    (table[op.kind].backward as (c: EmitContext, o: typeof op, d: string) => void)(ctx, op, d);
  }
  for (const p of spec.params) {
    if (!state.paramGrads.has(p.name)) throw new Error(`no gradient reached parameter ${p.name}`);
  }

  if (kind === "gradients") {
    for (const p of spec.params) {
      g.alias(state.paramGrads.get(p.name)!, io.grad(p.name));
      g.output(io.grad(p.name), p.shape);
    }
    outputBuffers(g, spec, state.newBuffers);
    return g.toModel(`${spec.arch}-gradients`);
  }
  emitSgdUpdate(g, o, masked, state.paramGrads);
  outputBuffers(g, spec, state.newBuffers);
  return g.toModel(`${spec.arch}-train-step`);
}

/** The graph's inputs: images, parameters (or, for a standalone eval model, initializers), masks, buffers; labels, lr and momentum where the kind needs them. */
function declareInputs(g: GraphBuilder, kind: GraphKind, o: GraphOptions, masked: Set<string>): void {
  const { spec } = o;
  const [c, h, w] = spec.inputShape;
  g.input(io.x, ["N", c, h, w]);
  if (o.constants && (kind !== "eval" || masked.size)) throw new Error("constants are for eval graphs without mask inputs (apply masks to the weights first)");
  for (const p of spec.params) {
    if (o.constants) g.initializer(io.param(p.name), o.constants.params[p.name]!, p.shape);
    else g.input(io.param(p.name), p.shape);
    if (masked.has(p.name)) g.input(io.mask(p.name), p.shape);
  }
  for (const b of spec.buffers) {
    if (o.constants) g.initializer(io.buffer(b.name), o.constants.buffers[b.name]!, b.shape);
    else g.input(io.buffer(b.name), b.shape);
  }
  if (kind === "train-step" || kind === "gradients") g.input(io.labels, ["N", spec.numClasses]);
  if (kind === "train-step") {
    g.input(io.lr, []);
    for (const p of spec.params) g.input(io.momentum(p.name), p.shape);
  }
}

/** What op emitters read and write: values by name, masked weights (built once), gradient contributions, updated buffers. */
function emitContext(
  g: GraphBuilder,
  mode: "train" | "eval",
  o: GraphOptions,
  masked: Set<string>,
  state: { gradParts: Map<string, string[]>; paramGrads: Map<string, string>; newBuffers: Map<string, string> },
): EmitContext {
  const { spec } = o;
  const values = new Map<string, string>([[spec.input, io.x]]);
  const effective = new Map<string, string>();
  let batchSize: string | undefined;
  return {
    g,
    mode,
    nchwcBlock: o.nchwcBlock ?? 0,
    shapes: spec.shapes,
    value: (v) => {
      const n = values.get(v);
      if (!n) throw new Error(`value ${v} used before it is computed`);
      return n;
    },
    setValue: (v, n) => void values.set(v, n),
    param: (p) => {
      let e = effective.get(p);
      if (!e) {
        e = masked.has(p) ? g.op1("Mul", [io.param(p), io.mask(p)], {}, `masked_${p}`) : io.param(p);
        effective.set(p, e);
      }
      return e;
    },
    buffer: (b) => io.buffer(b),
    setBuffer: (b, n) => void state.newBuffers.set(b, n),
    batchSize: () => (batchSize ??= g.op1("Cast", [g.op1("Gather", [g.op1("Shape", [io.x]), g.constInt64([0], [])], { axis: 0 })], { to: 1 })),
    saved: new Map(),
    addGrad: (v, n) => {
      const parts = state.gradParts.get(v) ?? [];
      parts.push(n);
      state.gradParts.set(v, parts);
    },
    setParamGrad: (p, n) => void state.paramGrads.set(p, n),
    needsGrad: (v) => v !== spec.input,
  };
}

/** bn-stats: every BN's batch mean and (biased) variance as outputs. */
function outputBatchStats(g: GraphBuilder, spec: ModelSpec, ctx: EmitContext): void {
  for (const op of spec.ops) {
    if (op.kind !== "bn") continue;
    const saved = ctx.saved.get(op.out)!;
    g.alias(saved.mean!, io.batchMean(op.mean));
    g.output(io.batchMean(op.mean), [op.channels]);
    g.alias(saved.variance!, io.batchVar(op.var));
    g.output(io.batchVar(op.var), [op.channels]);
  }
}

/** Mean softmax cross-entropy as the loss output, and its gradient (softmax - onehot) / N into the logits. */
function emitLoss(g: GraphBuilder, ctx: EmitContext, spec: ModelSpec, logits: string): void {
  const logp = g.op1("LogSoftmax", [logits], { axis: 1 });
  const perExample = g.op1("ReduceSum", [g.op1("Mul", [io.labels, logp]), g.constInt64([1])], { keepdims: 0 });
  g.alias(g.op1("Neg", [g.op1("ReduceMean", [perExample], { keepdims: 0 })]), io.loss);
  g.output(io.loss, []);
  const dLogits = g.op1("Div", [g.op1("Sub", [g.op1("Exp", [logp]), io.labels]), ctx.batchSize()]);
  ctx.addGrad(spec.output, dLogits);
}

/** Updated buffers as outputs; those no op updates (a compacted model's folded constants) pass through unchanged. */
function outputBuffers(g: GraphBuilder, spec: ModelSpec, newBuffers: Map<string, string>): void {
  for (const b of spec.buffers) {
    g.alias(newBuffers.get(b.name) ?? io.buffer(b.name), io.newBuffer(b.name));
    g.output(io.newBuffer(b.name), b.shape);
  }
}

/** torch.optim.SGD's update (momentum, weight decay added to the masked gradient), weights re-masked. */
function emitSgdUpdate(g: GraphBuilder, o: GraphOptions, masked: Set<string>, paramGrads: Map<string, string>): void {
  const lr = io.lr;
  const wd = g.constFloat([o.sgd.weightDecay], []);
  const mom = g.constFloat([o.sgd.momentum], []);
  for (const p of o.spec.params) {
    const theta = io.param(p.name);
    // d loss / d theta = d loss / d (m * theta) * m: pruned weights get exactly zero gradient.
    let grad = paramGrads.get(p.name)!;
    if (masked.has(p.name)) grad = g.op1("Mul", [grad, io.mask(p.name)]);
    if (o.sgd.weightDecay !== 0) grad = g.op1("Add", [grad, g.op1("Mul", [theta, wd])]);
    const v = g.op1("Add", [g.op1("Mul", [io.momentum(p.name), mom]), grad]);
    let next = g.op1("Sub", [theta, g.op1("Mul", [v, lr])]);
    // Re-applying the mask keeps pruned weights at exactly 0 even if they started non-zero.
    if (masked.has(p.name)) next = g.op1("Mul", [next, io.mask(p.name)]);
    g.alias(next, io.newParam(p.name));
    g.output(io.newParam(p.name), p.shape);
    g.alias(v, io.newMomentum(p.name));
    g.output(io.newMomentum(p.name), p.shape);
  }
}

/** Prefix of member k's inputs and outputs in a packed graph (packGraph). */
export const packPrefix = (k: number) => `m${k}/`;

/**
 * K copies of a graph side by side in one model, every name of copy k prefixed
 * (packPrefix): K independent models one session runs in one call.
 */
export function packGraph(model: Uint8Array, k: number): Uint8Array {
  const base = onnx.ModelProto.decode(model);
  const g = base.graph!;
  const merged = onnx.GraphProto.create({ name: `${g.name}-pack${k}`, node: [], initializer: [], input: [], output: [] });
  for (let m = 0; m < k; m++) {
    const r = (n: string) => (n === "" ? n : packPrefix(m) + n);
    for (const nd of g.node!) merged.node!.push({ ...nd, input: nd.input!.map(r), output: nd.output!.map(r), name: r(nd.name!) });
    for (const i of g.initializer!) merged.initializer!.push({ ...i, name: r(i.name!) });
    for (const i of g.input!) merged.input!.push({ ...i, name: r(i.name!) });
    for (const o of g.output!) merged.output!.push({ ...o, name: r(o.name!) });
  }
  return onnx.ModelProto.encode(onnx.ModelProto.create({ ...base, graph: merged })).finish();
}
