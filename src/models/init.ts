import { Rng } from "../util/rng.ts";
import { numel, type ModelSpec } from "./spec.ts";

export type Tensors = Record<string, Float32Array>;

/** Fresh parameters and buffers for a spec, deterministic in the seed. */
export function initParams(spec: ModelSpec, seed: number): { params: Tensors; buffers: Tensors } {
  const params: Tensors = {};
  for (const p of spec.params) {
    const rng = new Rng(seed, "init", p.name);
    const a = new Float32Array(numel(p.shape));
    const init = p.init;
    if (init.kind === "normal") for (let i = 0; i < a.length; i++) a[i] = rng.normal() * init.std;
    else if (init.kind === "uniform") for (let i = 0; i < a.length; i++) a[i] = (rng.next() * 2 - 1) * init.bound;
    else a.fill(init.value);
    params[p.name] = a;
  }
  const buffers: Tensors = {};
  for (const b of spec.buffers) buffers[b.name] = new Float32Array(numel(b.shape)).fill(b.init);
  return { params, buffers };
}
