import { initParams } from "../models/init.ts";
import type { ModelSpec } from "../models/spec.ts";
import type { ModelState, Tensors } from "./types.ts";

/** SGD momentum buffers at zero, one per parameter: what a run that starts (or restarts) from given weights begins with. */
export function zeroMomentum(params: Tensors): Tensors {
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, new Float32Array(v.length)]));
}

/** Initial training state: seeded parameters, default BN statistics, zero momentum. */
export function freshState(spec: ModelSpec, seed: number): ModelState {
  const { params, buffers } = initParams(spec, seed);
  return { params, buffers, momentum: zeroMomentum(params) };
}
