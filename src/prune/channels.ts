import type { Tensors } from "../engine/types.ts";
import type { ModelSpec, Op } from "../models/spec.ts";
import { inputsOf, OPS } from "../models/ops.ts";
import { keepCount, topKMask } from "./magnitude.ts";

/** A conv whose output reaches exactly one other conv through channel-local ops only (BN, ReLU, pooling: a residual block's inner channels). */
export interface ConvPair {
  producer: Extract<Op, { kind: "conv" }>;
  consumer: Extract<Op, { kind: "conv" }>;
}

/**
 * Inner channel pairs of the residual blocks, found from the graph: channels between
 * them are not tied to a residual stream, so pruning a producer filter together with
 * the consumer's matching input slice removes the channel outright.
 */
export function chainedConvPairs(spec: ModelSpec): ConvPair[] {
  const readers = new Map<string, Op[]>();
  for (const op of spec.ops) for (const v of inputsOf(op)) readers.set(v, [...(readers.get(v) ?? []), op]);
  const pairs: ConvPair[] = [];
  for (const op of spec.ops) {
    if (op.kind !== "conv") continue;
    let v = op.out;
    for (;;) {
      const r = readers.get(v) ?? [];
      if (r.length !== 1 || v === spec.output) break;
      const next = r[0]!;
      if (next.kind === "conv") {
        pairs.push({ producer: op, consumer: next });
        break;
      }
      if (!OPS[next.kind].channelLocal) break;
      v = next.out;
    }
  }
  return pairs;
}

/**
 * Structured pruning by filter L1 norm (Li et al. 2017, "Pruning Filters for Efficient
 * ConvNets", which for ResNets prunes only the first conv of each block): every block
 * keeps round(density * channels) of its inner channels (at least one; or the nearest
 * multiple of `channelMultiple`, at least one multiple), those whose
 * producer filters have the largest L1 norm; masks zero those filters and the
 * consumer's input slices. Other layers stay dense (no mask).
 */
export function blockChannelMasks(spec: ModelSpec, params: Tensors, density: number, channelMultiple = 1): Tensors {
  const masks: Tensors = {};
  for (const { producer: p, consumer: c } of chainedConvPairs(spec)) {
    const w = params[p.weight]!,
      per = p.cin * p.kernel * p.kernel;
    const norms = Float32Array.from({ length: p.cout }, (_, f) => w.subarray(f * per, (f + 1) * per).reduce((s, v) => s + Math.abs(v), 0));
    // With a channel multiple, the kept count is rounded to it (at least one multiple, at most every channel).
    const k =
      channelMultiple > 1
        ? Math.min(p.cout, Math.max(channelMultiple, Math.round((p.cout * density) / channelMultiple) * channelMultiple))
        : Math.max(1, keepCount(p.cout, density));
    const keep = topKMask(norms, k);
    masks[p.weight] = Float32Array.from({ length: w.length }, (_, i) => keep[Math.floor(i / per)]!);
    const kk = c.kernel * c.kernel;
    masks[c.weight] = Float32Array.from({ length: c.cout * c.cin * kk }, (_, i) => keep[Math.floor(i / kk) % c.cin]!);
  }
  return masks;
}
