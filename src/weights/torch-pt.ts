import { unzipSync, zipSync, type Zippable } from "fflate";
import { NameRegistry, Parser } from "pickleparser";

/** One tensor of a PyTorch state_dict: float32 weights and statistics, int64 counters (BN's num_batches_tracked). */
export interface PtTensor {
  dtype: "float32" | "int64";
  shape: number[];
  data: Float32Array | BigInt64Array;
}

/**
 * PyTorch's file format (torch.save, the zip format since 1.6): a zip of `<archive>/data.pkl`,
 * a pickle (protocol 2) of the object in which each tensor is a call of
 * torch._utils._rebuild_tensor_v2 on a storage named by a persistent id, the storages as raw
 * little-endian `<archive>/data/<key>` records, and `<archive>/version`. Only what a
 * state_dict needs is written and read: an OrderedDict of contiguous CPU tensors.
 */
const ARCHIVE = "archive";

const STORAGE_OF = { float32: "FloatStorage", int64: "LongStorage" } as const;
const DTYPE_OF: Record<string, PtTensor["dtype"]> = { FloatStorage: "float32", LongStorage: "int64" };

/** The pickle opcodes a state_dict needs (Python's Lib/pickle.py names). */
const OP = {
  PROTO: 0x80,
  GLOBAL: 0x63,
  EMPTY_TUPLE: 0x29,
  REDUCE: 0x52,
  MARK: 0x28,
  TUPLE: 0x74,
  SETITEMS: 0x75,
  BINUNICODE: 0x58,
  BININT: 0x4a,
  BINPERSID: 0x51,
  NEWFALSE: 0x89,
  STOP: 0x2e,
} as const;

/** Writes pickle opcodes into a growing buffer. */
class Pickler {
  private readonly chunks: number[] = [];

  op(code: number): this {
    this.chunks.push(code);
    return this;
  }

  global(module: string, name: string): this {
    this.op(OP.GLOBAL);
    for (const b of new TextEncoder().encode(`${module}\n${name}\n`)) this.chunks.push(b);
    return this;
  }

  str(s: string): this {
    const bytes = new TextEncoder().encode(s);
    this.op(OP.BINUNICODE).u32(bytes.length);
    for (const b of bytes) this.chunks.push(b);
    return this;
  }

  int(n: number): this {
    if (!Number.isInteger(n) || n < -(2 ** 31) || n >= 2 ** 31) throw new RangeError(`pickle: ${n} does not fit a 4-byte int`);
    return this.op(OP.BININT).u32(n >>> 0);
  }

  /** A tuple of ints: MARK, each, TUPLE (the empty tuple for a scalar's shape). */
  ints(xs: number[]): this {
    if (!xs.length) return this.op(OP.EMPTY_TUPLE);
    this.op(OP.MARK);
    for (const x of xs) this.int(x);
    return this.op(OP.TUPLE);
  }

  private u32(n: number): this {
    this.chunks.push(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
    return this;
  }

  bytes(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

/** Row-major strides of a shape, in elements. */
const stridesOf = (shape: number[]) => shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));

/** A state_dict file as torch.save writes it: loadable by torch.load (and load_state_dict). */
export function writeStateDict(entries: [string, PtTensor][]): Uint8Array {
  const p = new Pickler().op(OP.PROTO).op(2);
  p.global("collections", "OrderedDict").op(OP.EMPTY_TUPLE).op(OP.REDUCE).op(OP.MARK);
  const files: Zippable = {};
  entries.forEach(([name, t], i) => {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== numel) throw new RangeError(`${name}: ${t.data.length} values for shape [${t.shape.join(", ")}]`);
    const key = String(i);
    p.str(name).global("torch._utils", "_rebuild_tensor_v2").op(OP.MARK);
    // The storage, by persistent id: ("storage", storage type, key, location, size).
    p.op(OP.MARK).str("storage").global("torch", STORAGE_OF[t.dtype]).str(key).str("cpu").int(numel).op(OP.TUPLE).op(OP.BINPERSID);
    p.int(0).ints(t.shape).ints(stridesOf(t.shape)).op(OP.NEWFALSE);
    p.global("collections", "OrderedDict").op(OP.EMPTY_TUPLE).op(OP.REDUCE);
    p.op(OP.TUPLE).op(OP.REDUCE);
    files[`${ARCHIVE}/data/${key}`] = [new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), { level: 0 }];
  });
  p.op(OP.SETITEMS).op(OP.STOP);
  return zipSync({
    [`${ARCHIVE}/data.pkl`]: [p.bytes(), { level: 0 }],
    ...files,
    [`${ARCHIVE}/version`]: [new TextEncoder().encode("3\n"), { level: 0 }],
    [`${ARCHIVE}/byteorder`]: [new TextEncoder().encode("little"), { level: 0 }],
  });
}

/** A file that is not a state_dict this reader understands; `reason` says what is wrong with it. */
export class PtFormatError extends Error {
  override name = "PtFormatError";
}

/**
 * The tensors of a state_dict file written by torch.save (the zip format), by name: a
 * bare state_dict, or one under a "state_dict" / "model" / "net" key as training scripts
 * save it. Legacy (pre-1.6, non-zip) files are refused with the fix.
 */
export function readStateDict(bytes: Uint8Array): Map<string, PtTensor> {
  if (bytes[0] !== 0x50 || bytes[1] !== 0x4b)
    throw new PtFormatError(
      "not a zip-format PyTorch file (torch.save before 1.6 wrote another format): load it in PyTorch and save it again with torch.save(state_dict, path)",
    );
  const files = unzipSync(bytes);
  const pkl = Object.keys(files).find((f) => /^[^/]+\/data\.pkl$/.test(f));
  if (!pkl) throw new PtFormatError("no data.pkl in the zip: not a torch.save file");
  const root = pkl.slice(0, -"data.pkl".length);
  const registry = new NameRegistry()
    .register("collections", "OrderedDict", (...args: unknown[]) => (args.length ? new Map(args[0] as [string, unknown][]) : new Map()))
    .register("torch._utils", "_rebuild_tensor_v2", (storage: Storage, offset: number, shape: number[], stride: number[]) =>
      rebuild(storage, offset, shape, stride),
    )
    .register("torch._utils", "_rebuild_parameter", (t: PtTensor) => t);
  // Storage types appear in persistent ids as the objects GLOBAL resolved them to.
  const storageTypes = new Map<unknown, PtTensor["dtype"]>();
  for (const [s, dtype] of Object.entries(DTYPE_OF)) {
    const marker = () => s;
    storageTypes.set(marker, dtype);
    registry.register("torch", s, marker);
  }
  const parser = new Parser({
    nameResolver: registry,
    unpicklingTypeOfDictionary: "Map",
    persistentResolver: {
      resolve: (pid: unknown) => {
        const [kind, type, key] = pid as [string, string, string];
        if (kind !== "storage") throw new PtFormatError(`persistent id ${JSON.stringify(pid)} is not a storage`);
        const dtype = storageTypes.get(type);
        if (!dtype) throw new PtFormatError(`a storage of ${describe(type)}: only float32 and int64 tensors are read`);
        const raw = files[`${root}data/${key}`];
        if (!raw) throw new PtFormatError(`storage data/${key} missing from the zip`);
        return { dtype, raw } satisfies Storage;
      },
    },
  });
  let obj = parser.parse(files[pkl]!) as unknown;
  for (const key of ["state_dict", "model", "net"]) if (obj instanceof Map && obj.has(key) && !isTensor(obj.get(key))) obj = obj.get(key);
  if (!(obj instanceof Map)) throw new PtFormatError("the pickled object is not a dict of tensors");
  const out = new Map<string, PtTensor>();
  for (const [k, v] of obj) if (isTensor(v)) out.set(String(k), v);
  return out;
}

/** A pickled global as the parser left it (an unregistered class carries its module and name). */
const describe = (v: unknown) => (typeof v === "function" ? `${(v as { module?: string }).module ?? ""}.${v.name}` : JSON.stringify(v));

interface Storage {
  dtype: PtTensor["dtype"];
  raw: Uint8Array;
}

const isTensor = (v: unknown): v is PtTensor => typeof v === "object" && v !== null && "dtype" in v && "shape" in v && "data" in v;

/** A contiguous tensor out of its storage (a non-contiguous one is refused: state_dicts hold contiguous tensors). */
function rebuild(storage: Storage, offset: number, shape: number[], stride: number[]): PtTensor {
  const numel = shape.reduce((a, b) => a * b, 1);
  const want = stridesOf(shape);
  if (numel > 1 && stride.some((s, i) => shape[i]! > 1 && s !== want[i]))
    throw new PtFormatError(`a non-contiguous tensor (strides ${stride.join(", ")}): save tensor.contiguous()`);
  const size = storage.dtype === "float32" ? 4 : 8;
  // Copy out: a view would pin the whole zip and may be misaligned.
  const bytes = storage.raw.slice((offset ?? 0) * size, ((offset ?? 0) + numel) * size);
  const data = storage.dtype === "float32" ? new Float32Array(bytes.buffer) : new BigInt64Array(bytes.buffer);
  return { dtype: storage.dtype, shape: [...shape], data };
}
