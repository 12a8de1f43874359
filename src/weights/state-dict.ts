import { zeroMomentum } from "../engine/state.ts";
import type { ModelState, Tensors } from "../engine/types.ts";
import type { ModelSpec } from "../models/spec.ts";
import { applyMasks } from "../prune/magnitude.ts";
import type { PtTensor } from "./torch-pt.ts";

/**
 * A model's weights as a PyTorch state_dict, and back. The harness names parameters and
 * BN statistics as the reference code of each architecture does (the three-regime
 * paper's PreResNet, akamaster's and BiP's CIFAR ResNets, torchvision's ResNet-50; the
 * README's mapping table), with PyTorch's layouts (conv OIHW, fc [out, in]), so a
 * state_dict maps one to one; PyTorch adds one `num_batches_tracked` counter per BN.
 */
const NUM_BATCHES_TRACKED = "num_batches_tracked";

/** Names of the BN layers of a spec (the prefix of their running statistics). */
function bnLayers(spec: ModelSpec): string[] {
  return spec.buffers.filter((b) => b.role === "bn-mean").map((b) => b.name.replace(/\.running_mean$/, ""));
}

/**
 * The state_dict of a model: masked parameters (pruned weights exactly zero), BN
 * running statistics, and each BN's num_batches_tracked (0: the harness does not count
 * batches; PyTorch reads it only with momentum=None).
 */
export function toStateDict(spec: ModelSpec, state: Pick<ModelState, "params" | "buffers">, masks: Tensors = {}): [string, PtTensor][] {
  const params = applyMasks(state.params, masks);
  const out: [string, PtTensor][] = [];
  const float = (name: string, shape: number[], data: Float32Array | undefined): [string, PtTensor] => {
    if (!data) throw new Error(`state has no ${name}`);
    return [name, { dtype: "float32", shape: [...shape], data }];
  };
  for (const p of spec.params) out.push(float(p.name, p.shape, params[p.name]));
  for (const b of spec.buffers) if (b.role !== "fold") out.push(float(b.name, b.shape, state.buffers[b.name]));
  for (const bn of bnLayers(spec)) out.push([`${bn}.${NUM_BATCHES_TRACKED}`, { dtype: "int64", shape: [], data: BigInt64Array.of(0n) }]);
  return out;
}

/** Why a state_dict does not fit a model: each key at fault, by kind. */
export class StateDictMismatch extends Error {
  override name = "StateDictMismatch";
  constructor(
    readonly missing: string[],
    readonly unexpected: string[],
    readonly wrongShape: string[],
  ) {
    const list = (what: string, xs: string[]) =>
      xs.length ? [`${what}: ${xs.slice(0, 6).join(", ")}${xs.length > 6 ? ` and ${xs.length - 6} more` : ""}`] : [];
    super([...list("missing", missing), ...list("not in the model", unexpected), ...list("wrong shape", wrongShape)].join("; "));
  }
}

/**
 * A model's parameters and BN statistics from a state_dict, checked key by key as
 * PyTorch's load_state_dict(strict=True) does. Accepted as written by common training
 * code: a "module." prefix on every key (DataParallel), and pruned weights stored as
 * `weight_orig` and `weight_mask` (torch.nn.utils.prune, as the three-regime code saves
 * them), which give the weights (orig x mask) and the masks. num_batches_tracked is read
 * past. Momentum buffers start at zero.
 */
export function fromStateDict(spec: ModelSpec, dict: Map<string, PtTensor>): { state: ModelState; masks: Tensors } {
  const keys = [...dict.keys()];
  const prefix = keys.length && keys.every((k) => k.startsWith("module.")) ? "module." : "";
  const byName = new Map<string, PtTensor>();
  const masks: Tensors = {};
  for (const [k, t] of dict) {
    const name = k.slice(prefix.length);
    if (name.endsWith(`.${NUM_BATCHES_TRACKED}`)) continue;
    if (name.endsWith("_mask")) continue;
    if (name.endsWith("_orig")) {
      const base = name.slice(0, -"_orig".length);
      const mask = dict.get(`${prefix}${base}_mask`);
      const w = asFloat(t);
      if (mask) {
        const m = asFloat(mask).map((v) => (v !== 0 ? 1 : 0));
        masks[base] = m;
        byName.set(base, { ...t, dtype: "float32", data: w.map((v, i) => v * m[i]!) });
      } else byName.set(base, { ...t, dtype: "float32", data: w });
      continue;
    }
    byName.set(name, t);
  }
  const want = [...spec.params.map((p) => [p.name, p.shape] as const), ...spec.buffers.filter((b) => b.role !== "fold").map((b) => [b.name, b.shape] as const)];
  const missing: string[] = [],
    wrongShape: string[] = [];
  const params: Tensors = {},
    buffers: Tensors = {};
  const isParam = new Set(spec.params.map((p) => p.name));
  for (const [name, shape] of want) {
    const t = byName.get(name);
    if (!t) {
      missing.push(name);
      continue;
    }
    if (t.shape.join("x") !== shape.join("x")) {
      wrongShape.push(`${name} [${t.shape.join(", ")}] for [${shape.join(", ")}]`);
      continue;
    }
    (isParam.has(name) ? params : buffers)[name] = asFloat(t);
  }
  const known = new Set(want.map(([n]) => n));
  const unexpected = [...byName.keys()].filter((k) => !known.has(k));
  if (missing.length || unexpected.length || wrongShape.length) throw new StateDictMismatch(missing, unexpected, wrongShape);
  for (const b of spec.buffers) if (b.role === "fold") buffers[b.name] = new Float32Array(b.shape.reduce((a, c) => a * c, 1)).fill(b.init);
  return { state: { params, buffers, momentum: zeroMomentum(params) }, masks };
}

function asFloat(t: PtTensor): Float32Array {
  return t.dtype === "float32" ? (t.data as Float32Array) : Float32Array.from(t.data as BigInt64Array, (v) => Number(v));
}
