import { initParams } from "../models/init.ts";
import type { ModelSpec } from "../models/spec.ts";
import type { ModelState } from "./types.ts";

/** Initial training state: seeded parameters, default BN statistics, zero momentum. */
export function freshState(spec: ModelSpec, seed: number): ModelState {
  const { params, buffers } = initParams(spec, seed);
  const momentum = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, new Float32Array(v.length)]));
  return { params, buffers, momentum };
}
