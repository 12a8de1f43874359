import type { GraphBuilder } from "../graph-builder.ts";
import type { Op } from "../../../models/spec.ts";

/**
 * What an op emitter sees while a graph is built: the builder, the current ONNX name
 * of each model value, and a place to leave gradients. Forward emitters may stash
 * tensors in `saved` for their backward pass.
 */
export interface EmitContext {
  g: GraphBuilder;
  /** NCHWc block size for ORT CPU convolutions (ops/nchwc.ts); 0 = plain ONNX Conv. */
  nchwcBlock: number;
  /** "train": batch statistics in BN and running-stat outputs; "eval": running statistics. */
  mode: "train" | "eval";
  shapes: Record<string, number[]>;
  /** ONNX name of a model value computed so far. */
  value(v: string): string;
  setValue(v: string, onnxName: string): void;
  /** ONNX name of a parameter as used in the forward pass (masked where a mask applies). */
  param(p: string): string;
  /** ONNX name of a buffer (BN running statistics). */
  buffer(b: string): string;
  /** Records a buffer's new value (train mode). */
  setBuffer(b: string, onnxName: string): void;
  /** Batch size as a float scalar tensor, computed once from the input's shape. */
  batchSize(): string;
  saved: Map<string, Record<string, string>>;
  /** Adds a gradient contribution to a model value; contributions are summed. */
  addGrad(v: string, onnxName: string): void;
  /** Gradient with respect to the parameter as used in the forward pass. */
  setParamGrad(p: string, onnxName: string): void;
  /** Whether a gradient is wanted for a value (false for the image input). */
  needsGrad(v: string): boolean;
}

export interface OpEmitter<K extends Op["kind"]> {
  forward(ctx: EmitContext, op: Extract<Op, { kind: K }>): void;
  backward(ctx: EmitContext, op: Extract<Op, { kind: K }>, dOut: string): void;
}

export function savedOf<K extends string>(ctx: EmitContext, key: string, ...names: K[]): Record<K, string> {
  const s = ctx.saved.get(key);
  const out = {} as Record<K, string>;
  for (const n of names) {
    const v = s?.[n];
    if (v === undefined) throw new Error(`op ${key}: no saved tensor "${n}" (backward before forward?)`);
    out[n] = v;
  }
  return out;
}

/** Axes of per-channel reductions over NCHW. */
export const CHANNEL_REDUCE_AXES = [0, 2, 3];
