import { unzipSync } from "fflate";
import { onnx } from "onnx-proto";
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import type { TrainingConfig } from "../config/generated/training.ts";
import { ConfigError } from "../config/load.ts";
import { sha256Hex } from "../config/start-weights.ts";
import { elements, parseNpy } from "../data/npy.ts";
import type { ModelState, Tensors } from "../engine/types.ts";
import type { ModelSpec } from "../models/spec.ts";
import { fromStateDict, StateDictMismatch } from "./state-dict.ts";
import { readStateDict, type PtTensor } from "./torch-pt.ts";

/** A NumPy .npz (numpy.savez: a zip of one <name>.npy per array) as named tensors: float arrays as float32, integer ones as int64. */
export function readNpz(bytes: Uint8Array, file: string): Map<string, PtTensor> {
  const out = new Map<string, PtTensor>();
  for (const [entry, data] of Object.entries(unzipSync(bytes))) {
    if (!entry.endsWith(".npy")) continue;
    const arr = parseNpy(data, `${file}:${entry}`);
    const values = elements(arr);
    const name = entry.slice(0, -".npy".length);
    if (arr.dtype.kind === "f") out.set(name, { dtype: "float32", shape: arr.shape, data: Float32Array.from(values as ArrayLike<number>) });
    else if (arr.dtype.kind === "i" || arr.dtype.kind === "u")
      out.set(name, { dtype: "int64", shape: arr.shape, data: BigInt64Array.from(values as ArrayLike<number | bigint>, (v) => BigInt(v)) });
    else throw new ConfigError(`${file}: array ${name} has dtype '${arr.dtype.descr}'; weights must be float or integer arrays`);
  }
  return out;
}

const ONNX_FLOAT = 1,
  ONNX_INT64 = 7;

/** A float or int64 ONNX tensor's values (raw_data or the typed fields). */
function onnxValues(t: onnx.ITensorProto): Float32Array | BigInt64Array | null {
  // A copy: the decoder may hand out a view into a shared pool, at any offset.
  const raw = t.rawData && t.rawData.byteLength ? new Uint8Array(t.rawData) : null;
  if (t.dataType === ONNX_FLOAT) return raw ? new Float32Array(raw.buffer) : Float32Array.from(t.floatData ?? []);
  if (t.dataType === ONNX_INT64) return raw ? new BigInt64Array(raw.buffer) : BigInt64Array.from((t.int64Data ?? []).map((v) => BigInt(v.toString())));
  return null;
}

/** An initializer's tensor name: the harness's exports prefix "param/" and "buffer/" (src/onnx/export.ts), PyTorch's keep the state_dict key. */
const tensorName = (initializer: string) => initializer.replace(/^(param|buffer)\//, "");

/**
 * An ONNX model's initializers as named tensors: dense ones as stored, sparse ones
 * (values at flat int64 indices, as bench:sparse-inference writes them) made dense.
 * Only float32 and int64 tensors: other constants of the graph cannot be weights.
 */
export function readOnnxInitializers(bytes: Uint8Array): Map<string, PtTensor> {
  const g = onnx.ModelProto.decode(bytes).graph;
  const out = new Map<string, PtTensor>();
  const shape = (dims: onnx.ITensorProto["dims"]) => (dims ?? []).map((d) => Number(d));
  for (const t of g?.initializer ?? []) {
    const v = onnxValues(t);
    if (v) out.set(tensorName(t.name!), { dtype: v instanceof Float32Array ? "float32" : "int64", shape: shape(t.dims), data: v });
  }
  for (const s of g?.sparseInitializer ?? []) {
    const values = onnxValues(s.values!),
      indices = onnxValues(s.indices!);
    if (!(values instanceof Float32Array) || !(indices instanceof BigInt64Array)) continue;
    const dims = shape(s.dims);
    const dense = new Float32Array(dims.reduce((a, b) => a * b, 1));
    indices.forEach((i, k) => (dense[Number(i)] = values[k]!));
    out.set(tensorName(s.values!.name!), { dtype: "float32", shape: dims, data: dense });
  }
  return out;
}

/** The formats a weights file may be in, by extension. */
const READERS: Record<string, (bytes: Uint8Array, file: string) => Map<string, PtTensor>> = {
  ".pt": (b) => readStateDict(b),
  ".pth": (b) => readStateDict(b),
  ".npz": readNpz,
  ".onnx": (b) => readOnnxInitializers(b),
};

/**
 * The model state in a weights file (a PyTorch state_dict, a NumPy .npz of the same
 * names, or an ONNX model's initializers), checked against `spec` as load_state_dict(strict)
 * would: an ONNX graph's other constants (not named as the model's tensors) are passed over.
 * Errors say which setting, which file and what does not fit.
 */
export function readStartWeights(spec: ModelSpec, file: string, setting = "startWeights", bytes?: Uint8Array): { state: ModelState; masks: Tensors } {
  const ext = extname(file).toLowerCase();
  const reader = READERS[ext];
  if (!reader) throw new ConfigError(`${setting}.path: ${file} is not a weights file this harness reads; use one of ${Object.keys(READERS).join(", ")}`);
  let dict: Map<string, PtTensor>;
  try {
    dict = reader(bytes ?? readFileSync(file), file);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`${setting}.path: ${file} could not be read as ${extname(file)}: ${(e as Error).message}`);
  }
  if (ext === ".onnx") {
    const names = new Set([...spec.params.map((p) => p.name), ...spec.buffers.filter((b) => b.role !== "fold").map((b) => b.name)]);
    dict = new Map([...dict].filter(([k]) => names.has(k)));
  }
  try {
    return fromStateDict(spec, dict);
  } catch (e) {
    if (!(e instanceof StateDictMismatch)) throw e;
    throw new ConfigError(
      `${setting}.path: ${file} does not fit ${spec.arch} (width and classes as configured): ${e.message}; the README's "PyTorch state_dicts" table gives the names each architecture expects`,
    );
  }
}

/**
 * A training config's start weights (training.schema.json startWeights), or undefined when it
 * starts from its seeded initialisation. The file must still have the SHA-256 the plan pinned.
 */
export function startWeightsOf(t: TrainingConfig, spec: ModelSpec): { state: ModelState; masks: Tensors } | undefined {
  const sw = t.startWeights;
  if (!sw) return undefined;
  // One read: the bytes whose hash is checked are the bytes parsed.
  const bytes = readFileSync(sw.path);
  if (sw.sha256 !== undefined) {
    const now = sha256Hex(bytes);
    if (now !== sw.sha256)
      throw new ConfigError(
        `startWeights.path: ${sw.path} changed since the run was planned (SHA-256 ${now}, planned ${sw.sha256}); plan again to start from it as it is now`,
      );
  }
  return readStartWeights(spec, sw.path, "startWeights", bytes);
}
