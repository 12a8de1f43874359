import { expect, test } from "bun:test";
import { freshState } from "../../src/engine/state.ts";
import { blockChannelMasks, chainedConvPairs } from "../../src/prune/channels.ts";
import { tinySpecs } from "../helpers/tiny-models.ts";

const keptFilters = (mask: Float32Array, cout: number) => {
  const per = mask.length / cout;
  return Array.from({ length: cout }, (_, f) => mask[f * per]!).reduce((a, b) => a + b, 0);
};

test("block channel pruning keeps the filters of largest L1 norm, rounded to a channel multiple when asked, and masks the consumer's matching inputs", () => {
  const spec = tinySpecs()[0]!; // width 4: inner channels 4, 8, 16 per stage
  const state = freshState(spec, 1);
  const pairs = chainedConvPairs(spec);
  const plain = blockChannelMasks(spec, state.params, 0.25);
  expect(pairs.map((p) => keptFilters(plain[p.producer.weight]!, p.producer.cout))).toEqual([1, 1, 1, 2, 2, 2, 4, 4, 4]);
  const aligned = blockChannelMasks(spec, state.params, 0.25, 4);
  // round(0.25 * c / 4) * 4, at least 4: stage 1 keeps all 4, stage 2 keeps 4 of 8 (0.5 rounds to 0, raised to one multiple), stage 3 4 of 16.
  expect(pairs.map((p) => keptFilters(aligned[p.producer.weight]!, p.producer.cout))).toEqual([4, 4, 4, 4, 4, 4, 4, 4, 4]);
  // The kept filters are those of largest L1 norm, and the consumer keeps exactly the matching input channels.
  const { producer: p, consumer: c } = pairs[8]!;
  const w = state.params[p.weight]!,
    per = p.cin * 9;
  const norms = Array.from({ length: p.cout }, (_, f) => w.subarray(f * per, (f + 1) * per).reduce((s, v) => s + Math.abs(v), 0));
  const kept = Array.from({ length: p.cout }, (_, f) => f).filter((f) => aligned[p.weight]![f * per] === 1);
  const threshold = Math.min(...kept.map((f) => norms[f]!));
  for (let f = 0; f < p.cout; f++) if (!kept.includes(f)) expect(norms[f]!).toBeLessThanOrEqual(threshold);
  const cm = aligned[c.weight]!;
  for (let o = 0; o < c.cout; o++) for (let j = 0; j < c.cin; j++) expect(cm[(o * c.cin + j) * 9]).toBe(kept.includes(j) ? 1 : 0);
});
