import * as ort from "onnxruntime-node";
import type { ModelSpec } from "../../models/spec.ts";
import { prunableLayers } from "../../models/spec.ts";
import {
  countCorrect,
  oneHot,
  type Batch,
  type GradientResult,
  type ModelState,
  type StepResult,
  type Tensors,
  type Trainer,
  type TrainerOptions,
} from "../types.ts";
import { nchwcBlockSize } from "./ops/nchwc.ts";
import { createSession, type ProviderChoice, type ProviderName, type SessionFactoryResult } from "./providers.ts";
import { buildGraph, io, type GraphKind } from "./training-graph.ts";

export interface OnnxTrainerOptions extends TrainerOptions {
  provider?: ProviderChoice;
  log?: (line: string) => void;
}

/**
 * Trains by running one ONNX graph per step on onnxruntime-node. State lives in JS
 * typed arrays and is handed to each run without copying; ORT copies outputs out.
 */
export class OnnxTrainer implements Trainer {
  readonly engine = "onnx" as const;
  provider: ProviderName = "cpu";
  state: ModelState;
  masks: Tensors;
  readonly maskedParams: string[];
  private sessions = new Map<GraphKind, Promise<ort.InferenceSession>>();

  private constructor(
    readonly spec: ModelSpec,
    private readonly o: OnnxTrainerOptions,
    state: ModelState,
  ) {
    this.maskedParams = o.maskedParams ?? prunableLayers(spec).map((l) => l.name);
    this.state = state;
    this.masks = Object.fromEntries(this.maskedParams.map((p) => [p, new Float32Array(state.params[p]!.length).fill(1)]));
  }

  /** Builds the trainer and its train-step session (so the provider is known on return). */
  static async create(o: OnnxTrainerOptions, state: ModelState): Promise<OnnxTrainer> {
    const t = new OnnxTrainer(o.spec, o, state);
    await t.session("train-step");
    return t;
  }

  private session(kind: GraphKind): Promise<ort.InferenceSession> {
    let s = this.sessions.get(kind);
    if (!s) {
      s = openSession(this.o, this.maskedParams, kind).then((r) => {
        this.provider = r.provider;
        return r.session;
      });
      this.sessions.set(kind, s);
    }
    return s;
  }

  private modelFeeds(withMomentum: boolean): Record<string, ort.Tensor> {
    return modelFeeds(this.spec, this.state, this.masks, this.maskedParams, withMomentum);
  }

  private batchFeeds(batch: Batch): Record<string, ort.Tensor> {
    return batchFeeds(this.spec, batch);
  }

  async trainStep(batch: Batch, lr: number): Promise<StepResult> {
    const s = await this.session("train-step");
    const out = await s.run({ ...this.modelFeeds(true), ...this.batchFeeds(batch), [io.lr]: new ort.Tensor("float32", new Float32Array([lr]), []) });
    const r = readTrainStep(this.spec, out, batch);
    this.state = r.state;
    return r.result;
  }

  async gradients(batch: Batch): Promise<GradientResult> {
    const s = await this.session("gradients");
    const out = await s.run({ ...this.modelFeeds(false), ...this.batchFeeds(batch) });
    const grads: Tensors = {};
    for (const p of this.spec.params) grads[p.name] = out[io.grad(p.name)]!.data as Float32Array;
    const buffers: Tensors = {};
    for (const b of this.spec.buffers) buffers[b.name] = out[io.newBuffer(b.name)]!.data as Float32Array;
    const correct = countCorrect(out[io.logits]!.data as Float32Array, batch.y, batch.size, this.spec.numClasses);
    return { loss: (out[io.loss]!.data as Float32Array)[0]!, grads, buffers, correct };
  }

  async predict(x: Float32Array, size: number): Promise<Float32Array> {
    const s = await this.session("eval");
    const [c, h, w] = this.spec.inputShape;
    const out = await s.run({ ...this.modelFeeds(false), [io.x]: new ort.Tensor("float32", x.subarray(0, size * c * h * w), [size, c, h, w]) });
    return out[io.logits]!.data as Float32Array;
  }

  async batchStats(x: Float32Array, size: number): Promise<Tensors> {
    const s = await this.session("bn-stats");
    const [c, h, w] = this.spec.inputShape;
    const out = await s.run({ ...this.modelFeeds(false), [io.x]: new ort.Tensor("float32", x.subarray(0, size * c * h * w), [size, c, h, w]) });
    const stats: Tensors = {};
    for (const op of this.spec.ops) {
      if (op.kind !== "bn") continue;
      const [, hh, ww] = this.spec.shapes[op.x] as [number, number, number];
      const n = size * hh * ww;
      stats[op.mean] = out[io.batchMean(op.mean)]!.data as Float32Array;
      stats[op.var] = (out[io.batchVar(op.var)]!.data as Float32Array).map((v) => (v * n) / (n - 1));
    }
    return stats;
  }

  async dispose(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
  }
}

/** A model's parameters (with momentum for a training step), masks and BN buffers as graph inputs; input names prefixed (a pack's member). */
export function modelFeeds(
  spec: ModelSpec,
  state: ModelState,
  masks: Tensors,
  maskedParams: string[],
  withMomentum: boolean,
  prefix = "",
): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const p of spec.params) {
    feeds[prefix + io.param(p.name)] = new ort.Tensor("float32", state.params[p.name]!, p.shape);
    if (withMomentum) feeds[prefix + io.momentum(p.name)] = new ort.Tensor("float32", state.momentum[p.name]!, p.shape);
  }
  for (const name of maskedParams) {
    const shape = spec.params.find((p) => p.name === name)!.shape;
    feeds[prefix + io.mask(name)] = new ort.Tensor("float32", masks[name]!, shape);
  }
  for (const b of spec.buffers) feeds[prefix + io.buffer(b.name)] = new ort.Tensor("float32", state.buffers[b.name]!, b.shape);
  return feeds;
}

/** Images and one-hot labels as graph inputs. */
export function batchFeeds(spec: ModelSpec, batch: Batch, prefix = ""): Record<string, ort.Tensor> {
  const [c, h, w] = spec.inputShape;
  const k = spec.numClasses;
  return {
    [prefix + io.x]: new ort.Tensor("float32", batch.x.subarray(0, batch.size * c * h * w), [batch.size, c, h, w]),
    [prefix + io.labels]: new ort.Tensor("float32", oneHot(batch.y, batch.size, k), [batch.size, k]),
  };
}

/** The state a train-step graph left, and the step's loss and correct count. */
export function readTrainStep(
  spec: ModelSpec,
  out: ort.InferenceSession.OnnxValueMapType,
  batch: Batch,
  prefix = "",
): { state: ModelState; result: StepResult } {
  const params: Tensors = {},
    momentum: Tensors = {},
    buffers: Tensors = {};
  for (const p of spec.params) {
    params[p.name] = out[prefix + io.newParam(p.name)]!.data as Float32Array;
    momentum[p.name] = out[prefix + io.newMomentum(p.name)]!.data as Float32Array;
  }
  for (const b of spec.buffers) buffers[b.name] = out[prefix + io.newBuffer(b.name)]!.data as Float32Array;
  const logits = out[prefix + io.logits]!.data as Float32Array;
  return {
    state: { params, momentum, buffers },
    result: { loss: (out[prefix + io.loss]!.data as Float32Array)[0]!, correct: countCorrect(logits, batch.y, batch.size, spec.numClasses) },
  };
}

/**
 * A session of graph `kind` for a trainer's options (ORT's blocked convolutions on the
 * CPU EP unless turned off), `wrap` applied to the built graph (a pack's copies).
 */
export function openSession(
  o: OnnxTrainerOptions,
  maskedParams: string[],
  kind: GraphKind,
  wrap = (model: Uint8Array) => model,
): Promise<SessionFactoryResult> {
  const build = async (p: ProviderName) => {
    const nchwcBlock = p === "cpu" && o.blockedConv !== false ? await nchwcBlockSize() : 0;
    return wrap(buildGraph(kind, { spec: o.spec, maskedParams, bn: o.bn, sgd: o.sgd, nchwcBlock }));
  };
  return createSession(build, o.provider ?? "cpu", { threads: o.threads, noSpin: o.takesTurns, log: o.log });
}
