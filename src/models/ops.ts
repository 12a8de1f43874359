import type { Op, OpKind, OpOf } from "./spec.ts";

/**
 * What every pass that walks a model needs to know about an op kind, in one table.
 * Each engine and structured compaction keep their own table keyed by the same kinds
 * ({ [K in OpKind]: ... }), so a new kind fails to compile until every TypeScript
 * engine implements it, and test/models/model-zoo.test.ts fails until the torch
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
}

const x = <K extends OpKind>(op: OpOf<K>) => [(op as { x: string }).x];

export const OPS: { [K in OpKind]: OpInfo<K> } = {
  conv: { inputs: x, channelLocal: false },
  bn: { inputs: x, channelLocal: true },
  relu: { inputs: x, channelLocal: true },
  add: { inputs: (op) => [op.a, op.b], channelLocal: false },
  "shortcut-a": { inputs: x, channelLocal: false },
  gap: { inputs: x, channelLocal: true },
  "add-const": { inputs: x, channelLocal: true },
  "channel-gather": { inputs: x, channelLocal: false },
  fc: { inputs: x, channelLocal: false },
  maxpool: { inputs: x, channelLocal: true },
  flatten: { inputs: x, channelLocal: false },
};

/** Every op kind of the model IR. */
export const OP_KINDS = Object.keys(OPS) as OpKind[];

/** Model values an op reads. */
export function inputsOf(op: Op): string[] {
  return (OPS[op.kind].inputs as (o: Op) => string[])(op);
}
