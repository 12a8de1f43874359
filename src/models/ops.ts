import type { Op, OpKind, OpOf } from "./spec.ts";

/**
 * What every pass that walks a model needs to know about an op kind, in one table.
 * Each engine and structured compaction keep their own table keyed by the same kinds
 * ({ [K in OpKind]: ... }), so a new kind fails to compile until every TypeScript
 * engine implements it, and test/models/op-table.test.ts fails until the torch
 * server's does too.
 */
export interface OpInfo<K extends OpKind> {
  /** Model values the op reads, in order. */
  inputs(op: OpOf<K>): string[];
  /**
   * Output channel j depends on input channel j only, value by value or over space
   * (BN, ReLU, pooling, global average): channel-following passes (structured pruning's conv pairs)
   * see through it. Ops that mix, move or merge channels (conv, fc, add, shortcuts,
   * flatten) are false.
   */
  channelLocal: boolean;
  /** One line for the README's op table. */
  summary: string;
}

const x = <K extends OpKind>(op: OpOf<K>) => [(op as { x: string }).x];

export const OPS: { [K in OpKind]: OpInfo<K> } = {
  conv: { inputs: x, channelLocal: false, summary: "2-D convolution without bias (OIHW weight), any kernel, stride and padding" },
  bn: { inputs: x, channelLocal: true, summary: "batch normalisation: batch statistics in training, running statistics in evaluation" },
  relu: { inputs: x, channelLocal: true, summary: "ReLU" },
  add: { inputs: (op) => [op.a, op.b], channelLocal: false, summary: "elementwise sum of two values (residual connections)" },
  "shortcut-a": { inputs: x, channelLocal: false, summary: "option-A shortcut: subsample, zero-pad channels on both sides" },
  gap: { inputs: x, channelLocal: true, summary: "global average pool [C, H, W] -> [C]" },
  "add-const": { inputs: x, channelLocal: true, summary: "adds a per-position constant (compaction's folded channels)" },
  "channel-gather": { inputs: x, channelLocal: false, summary: "subsample, then pick channels by index or zeros (a compacted option-A shortcut)" },
  fc: { inputs: x, channelLocal: false, summary: "linear layer with bias ([out, in] weight)" },
  maxpool: { inputs: x, channelLocal: true, summary: "max pooling (kernel, stride, padding; floor mode)" },
  flatten: { inputs: x, channelLocal: false, summary: "[C, H, W] -> [C*H*W] in C, H, W order" },
};

/** Every op kind of the model IR. */
export const OP_KINDS = Object.keys(OPS) as OpKind[];

/** Model values an op reads. */
export function inputsOf(op: Op): string[] {
  return (OPS[op.kind].inputs as (o: Op) => string[])(op);
}
