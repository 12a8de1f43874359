import type { Tensors } from "../engine/types.ts";
import { Rng } from "../util/rng.ts";
import { keepCount } from "./magnitude.ts";

/**
 * Random pruning, the sanity baseline of OpenLTH, ShrinkBench, Torch-Pruning and
 * Synaptic-Flow: every listed layer keeps exactly keepCount(size, density) of its weights,
 * drawn uniformly without replacement (a partial Fisher-Yates shuffle) from the stream
 * Rng(seed, "random-prune", layer), so each layer's draw depends on nothing else.
 * Layer-wise, as ShrinkBench's RandomPruning: the same density in every layer.
 */
export function randomMasks(params: Tensors, layers: string[], density: number, seed: number): Tensors {
  const out: Tensors = {};
  for (const name of layers) {
    const w = params[name];
    if (!w) throw new Error(`no parameter ${name} to prune`);
    const rng = new Rng(seed, "random-prune", name);
    const order = Uint32Array.from({ length: w.length }, (_, i) => i);
    const k = keepCount(w.length, density);
    const mask = new Float32Array(w.length);
    for (let i = 0; i < k; i++) {
      const j = i + rng.int(w.length - i);
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
      mask[order[i]!] = 1;
    }
    out[name] = mask;
  }
  return out;
}
