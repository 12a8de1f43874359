/**
 * The NumPy `.npy` file format (versions 1.0, 2.0 and 3.0, as `numpy.save` writes
 * them): the header (dtype, shape, order) and the array's elements. Little-endian (or
 * single-byte) dtypes and C order only: anything else is a DataError that names the
 * file and the numpy call that fixes it. The dataset built from such files is in
 * npy-dataset.ts.
 */
import { closeSync, openSync, readSync, writeSync } from "node:fs";
import { DataError, describeSize } from "./errors.ts";

/** "\x93NUMPY" */
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export interface NpyDtype {
  /** As written in the header, e.g. "<f4", "|u1". */
  descr: string;
  /** b = bool, i = signed, u = unsigned integer, f = float. */
  kind: "b" | "i" | "u" | "f";
  /** Bytes per element. */
  size: number;
}

export interface NpyHeader {
  version: string;
  dtype: NpyDtype;
  shape: number[];
  /** Bytes before the data: magic, version, header length and the header itself. */
  dataOffset: number;
}

export interface NpyArray extends NpyHeader {
  /** The elements' raw little-endian bytes, C order. */
  data: Uint8Array;
  /** Number of elements (product of the shape). */
  length: number;
}

export const FIX_RESAVE = "re-save the array with numpy.save";

function headerLength(bytes: Uint8Array, file: string): { version: string; dataOffset: number; headerStart: number } {
  const isZip = bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
  if (isZip) {
    throw new DataError(
      `${file}: this is a zip archive (an .npz from numpy.savez?), not an .npy file; save each array on its own with numpy.save(path, array).`,
      file,
    );
  }
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    const head = Array.from(bytes.subarray(0, 6), (b) => b.toString(16).padStart(2, "0")).join(" ");
    throw new DataError(
      bytes.length < 10
        ? `${file}: file is ${describeSize(bytes.length)}, too short for an .npy header; the file is truncated or empty — ${FIX_RESAVE}.`
        : `${file}: bad magic (first bytes ${head}, expected 93 4e 55 4d 50 59, "\\x93NUMPY"); this is not a NumPy .npy file — ${FIX_RESAVE}.`,
      file,
    );
  }
  const major = bytes[6]!,
    minor = bytes[7]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major === 1) return { version: `${major}.${minor}`, headerStart: 10, dataOffset: 10 + view.getUint16(8, true) };
  if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new DataError(`${file}: file is ${describeSize(bytes.length)}, too short for an .npy v${major} header; ${FIX_RESAVE}.`, file);
    return { version: `${major}.${minor}`, headerStart: 12, dataOffset: 12 + view.getUint32(8, true) };
  }
  throw new DataError(`${file}: .npy format version ${major}.${minor} is not supported (only 1.0, 2.0 and 3.0); ${FIX_RESAVE} from a current NumPy.`, file);
}

// ---- The header: a Python dict literal such as {'descr': '<u1', 'fortran_order': False, 'shape': (2, 32, 32, 3), }

type PyValue = string | number | boolean | null | PyValue[] | { [key: string]: PyValue };

class PyLiteralParser {
  private pos = 0;
  constructor(private readonly text: string) {}

  parseAll(): PyValue {
    const v = this.value();
    this.ws();
    if (this.pos !== this.text.length) this.fail("unexpected text after the dict");
    return v;
  }

  private fail(what: string): never {
    throw new SyntaxError(`${what} at character ${this.pos}`);
  }

  private ws(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
  }

  private value(): PyValue {
    this.ws();
    const ch = this.text[this.pos];
    if (ch === "{") return this.dict();
    if (ch === "(") return this.sequence(")");
    if (ch === "[") return this.sequence("]");
    if (ch === "'" || ch === '"') return this.string(ch);
    const word = /^(-?\d+)L?|^(True|False|None)\b/.exec(this.text.slice(this.pos));
    if (!word) this.fail(ch === undefined ? "unexpected end" : `unexpected ${JSON.stringify(ch)}`);
    this.pos += word[0].length;
    if (word[1] !== undefined) return Number(word[1]);
    return word[2] === "None" ? null : word[2] === "True";
  }

  private string(quote: string): string {
    let out = "";
    for (this.pos++; this.pos < this.text.length; this.pos++) {
      const ch = this.text[this.pos]!;
      if (ch === quote) {
        this.pos++;
        return out;
      }
      if (ch === "\\") this.pos++;
      out += this.text[this.pos] ?? "";
    }
    return this.fail("unterminated string");
  }

  private sequence(close: string): PyValue[] {
    const items: PyValue[] = [];
    this.pos++;
    for (;;) {
      this.ws();
      if (this.text[this.pos] === close) {
        this.pos++;
        return items;
      }
      items.push(this.value());
      this.ws();
      if (this.text[this.pos] === ",") this.pos++;
      else if (this.text[this.pos] !== close) this.fail(`expected "," or "${close}"`);
    }
  }

  private dict(): { [key: string]: PyValue } {
    const out: { [key: string]: PyValue } = {};
    this.pos++;
    for (;;) {
      this.ws();
      if (this.text[this.pos] === "}") {
        this.pos++;
        return out;
      }
      const key = this.value();
      if (typeof key !== "string") this.fail("dict keys must be strings");
      this.ws();
      if (this.text[this.pos] !== ":") this.fail('expected ":"');
      this.pos++;
      out[key] = this.value();
      this.ws();
      if (this.text[this.pos] === ",") this.pos++;
      else if (this.text[this.pos] !== "}") this.fail('expected "," or "}"');
    }
  }
}

function parseDtype(descr: PyValue, file: string): NpyDtype {
  if (typeof descr !== "string") {
    throw new DataError(
      `${file}: structured dtype ${JSON.stringify(descr)} is not supported; save a plain numeric array (images as uint8 or float32, labels as int64).`,
      file,
    );
  }
  const m = /^([<>|=])([biuf])(\d+)$/.exec(descr);
  if (!m) {
    throw new DataError(
      `${file}: dtype '${descr}' is not supported; images must be an integer type (uint8 preferred), float32 or float64, and labels an integer type — convert with array.astype(...) and ${FIX_RESAVE}.`,
      file,
    );
  }
  const [, order, kind, sizeText] = m as unknown as [string, string, NpyDtype["kind"], string];
  const size = Number(sizeText);
  const sizes = { b: [1], i: [1, 2, 4, 8], u: [1, 2, 4, 8], f: [4, 8] }[kind];
  if (!sizes.includes(size)) {
    throw new DataError(
      `${file}: dtype '${descr}' is not supported; use uint8, float32 or float64 for images and an integer type for labels (array.astype(...)), then ${FIX_RESAVE}.`,
      file,
    );
  }
  if (size > 1 && order === ">") {
    throw new DataError(`${file}: dtype '${descr}' is big-endian; only little-endian data is read — save array.astype('<${kind}${size}') instead.`, file);
  }
  if (size > 1 && order === "=") {
    throw new DataError(
      `${file}: dtype '${descr}' has native byte order, which the file does not pin down; save array.astype('<${kind}${size}') instead.`,
      file,
    );
  }
  return { descr, kind, size };
}

function decodeHeader(bytes: Uint8Array, file: string): NpyHeader {
  const { version, headerStart, dataOffset } = headerLength(bytes, file);
  if (bytes.length < dataOffset) {
    throw new DataError(
      `${file}: the .npy header says it is ${describeSize(dataOffset - headerStart)} but the file is only ${describeSize(bytes.length)}; the file is truncated — ${FIX_RESAVE}.`,
      file,
    );
  }
  const raw = bytes.subarray(headerStart, dataOffset);
  // Version 3.0 allows UTF-8 in the header (field names); 1.0 and 2.0 are latin-1.
  const text = version.startsWith("3.") ? new TextDecoder("utf-8").decode(raw) : Array.from(raw, (b) => String.fromCharCode(b)).join("");
  let dict: PyValue;
  try {
    dict = new PyLiteralParser(text).parseAll();
  } catch (e) {
    throw new DataError(`${file}: unreadable .npy header (${(e as Error).message}): ${JSON.stringify(text.trim())}; ${FIX_RESAVE}.`, file);
  }
  if (dict === null || typeof dict !== "object" || Array.isArray(dict) || !("descr" in dict) || !("fortran_order" in dict) || !("shape" in dict)) {
    throw new DataError(`${file}: the .npy header ${JSON.stringify(text.trim())} lacks 'descr', 'fortran_order' or 'shape'; ${FIX_RESAVE}.`, file);
  }
  const dtype = parseDtype(dict["descr"]!, file);
  if (dict["fortran_order"] !== false) {
    throw new DataError(`${file}: the array is stored in Fortran (column-major) order; save numpy.ascontiguousarray(array) instead.`, file);
  }
  const shape = dict["shape"];
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === "number" && Number.isSafeInteger(d) && d >= 0)) {
    throw new DataError(`${file}: the .npy header's shape ${JSON.stringify(shape)} is not a tuple of sizes; ${FIX_RESAVE}.`, file);
  }
  return { version, dtype, shape: shape as number[], dataOffset };
}

/** Decodes a whole .npy file; `data` is a view into `bytes`. */
export function parseNpy(bytes: Uint8Array, file: string): NpyArray {
  const header = decodeHeader(bytes, file);
  const length = header.shape.reduce((a, b) => a * b, 1);
  const expected = header.dataOffset + length * header.dtype.size;
  if (bytes.length !== expected) {
    throw new DataError(
      `${file}: ${bytes.length < expected ? "truncated" : "unexpected trailing data"}: shape (${header.shape.join(", ")}) of '${header.dtype.descr}' needs ` +
        `${describeSize(expected)} with the header but the file has ${describeSize(bytes.length)}; ${FIX_RESAVE}.`,
      file,
    );
  }
  return { ...header, length, data: bytes.subarray(header.dataOffset) };
}

/** The header of an .npy file, reading only its first bytes (for size estimates without loading). */
export function readNpyHeader(path: string): NpyHeader {
  const fd = openSync(path, "r");
  try {
    const prefix = new Uint8Array(12);
    const got = readSync(fd, prefix, 0, 12, 0);
    const { dataOffset } = headerLength(prefix.subarray(0, got), path);
    const head = new Uint8Array(dataOffset);
    const n = readSync(fd, head, 0, dataOffset, 0);
    return decodeHeader(head.subarray(0, n), path);
  } finally {
    closeSync(fd);
  }
}

/** The elements as numbers (integers of 8 bytes as bigints). Assumes a little-endian host, as every supported one is. */
export function elements(arr: NpyArray): ArrayLike<number | bigint> {
  if (!HOST_LITTLE_ENDIAN) throw new Error("reading .npy files needs a little-endian host");
  const { kind, size } = arr.dtype;
  // Typed arrays need an aligned offset: copy when the data is not aligned (v1 files from old writers).
  const aligned = arr.data.byteOffset % size === 0;
  const buf = aligned ? arr.data.buffer : arr.data.slice().buffer;
  const off = aligned ? arr.data.byteOffset : 0;
  const n = arr.length;
  switch (`${kind}${size}`) {
    case "b1":
    case "u1":
      return new Uint8Array(buf, off, n);
    case "i1":
      return new Int8Array(buf, off, n);
    case "u2":
      return new Uint16Array(buf, off, n);
    case "i2":
      return new Int16Array(buf, off, n);
    case "u4":
      return new Uint32Array(buf, off, n);
    case "i4":
      return new Int32Array(buf, off, n);
    case "u8":
      return new BigUint64Array(buf, off, n);
    case "i8":
      return new BigInt64Array(buf, off, n);
    case "f4":
      return new Float32Array(buf, off, n);
    case "f8":
      return new Float64Array(buf, off, n);
    default:
      throw new Error(`unhandled dtype ${arr.dtype.descr}`);
  }
}

/**
 * The header of an .npy file (format 1.0, as numpy.save writes it) for a C-order array
 * of `descr` ("|u1", "<u2") and `shape`: the data follows it at a multiple of 64 bytes.
 */
export function npyHeader(descr: string, shape: number[]): Uint8Array {
  const dims = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${dims}, }`;
  const unpadded = MAGIC.length + 4 + dict.length + 1;
  const text = dict + " ".repeat((64 - (unpadded % 64)) % 64) + "\n";
  if (text.length > 0xffff) throw new Error(`npy header of ${text.length} bytes needs format 2.0`);
  const out = new Uint8Array(MAGIC.length + 4 + text.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, text.length, true);
  out.set(new TextEncoder().encode(text), 10);
  return out;
}

/** Writes a C-order uint8 or uint16 array as an .npy file. */
export function writeNpy(path: string, data: Uint8Array | Uint16Array, shape: number[]): void {
  const descr = data instanceof Uint8Array ? "|u1" : "<u2";
  if (!HOST_LITTLE_ENDIAN && !(data instanceof Uint8Array)) throw new Error("writeNpy: big-endian hosts are not supported");
  const fd = openSync(path, "w");
  try {
    writeSync(fd, npyHeader(descr, shape));
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    // writeSync may write less than asked (large buffers): loop until all is written.
    for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at, Math.min(bytes.length - at, 1 << 30));
  } finally {
    closeSync(fd);
  }
}
