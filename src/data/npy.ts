/**
 * A user's own dataset as NumPy `.npy` files (format versions 1.0, 2.0 and 3.0, as
 * `numpy.save` writes them): four files with fixed names in one directory (NPY_FILES).
 *
 * Images: shape (N, C, H, W) or (N, H, W, C) with C = 1 or 3 (the layout is told from
 * which of axes 1 and 3 has size 1 or 3), or (N, H, W) for greyscale. dtype: any integer
 * type holding 0..255, or float32/float64 in [0, 1] or [0, 255] — [0, 1] when no pixel of
 * the train and test image files together exceeds 1, else [0, 255]; floats are rounded to
 * the nearest of the 256 levels, since the harness keeps images as uint8 NCHW (Split).
 * Labels: shape (N,) or (N, 1), any integer dtype, class indices 0..255; the number of
 * classes is the largest label of the train and test files plus one.
 * Little-endian (or single-byte) dtypes and C order only: anything else is a DataError
 * that names the file and the numpy call that fixes it.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { DataError, describeSize } from "./errors.ts";
import { channelStats } from "./stats.ts";
import type { Dataset, Split } from "./types.ts";

export const NPY_FILES = {
  trainImages: "train_images.npy",
  trainLabels: "train_labels.npy",
  testImages: "test_images.npy",
  testLabels: "test_labels.npy",
} as const;

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

const FIX_RESAVE = "re-save the array with numpy.save";

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
function elements(arr: NpyArray): ArrayLike<number | bigint> {
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

// ---- Images

export type ImageLayoutName = "NCHW" | "NHWC" | "NHW";

export interface ImageLayout {
  layout: ImageLayoutName;
  count: number;
  channels: number;
  height: number;
  width: number;
}

/** Tells NCHW from NHWC by which of axes 1 and 3 has size 1 or 3; 3-D arrays are greyscale (N, H, W). */
export function imageLayout(shape: number[], file: string): ImageLayout {
  const dims = `(${shape.join(", ")})`;
  if (shape.length === 3) return { layout: "NHW", count: shape[0]!, channels: 1, height: shape[1]!, width: shape[2]! };
  if (shape.length !== 4) {
    throw new DataError(`${file}: images have shape ${dims}; expected (N, C, H, W), (N, H, W, C) with C = 1 or 3, or (N, H, W) for greyscale.`, file);
  }
  const [n, a, b, c] = shape as [number, number, number, number];
  const isChannels = (d: number) => d === 1 || d === 3;
  if (isChannels(a) && isChannels(c)) {
    throw new DataError(
      `${file}: images have shape ${dims}: both axis 1 and axis 3 could be the channels, so the layout is ambiguous; images must be at least 4 pixels wide and high.`,
      file,
    );
  }
  if (isChannels(a)) return { layout: "NCHW", count: n, channels: a, height: b, width: c };
  if (isChannels(c)) return { layout: "NHWC", count: n, channels: c, height: a, width: b };
  throw new DataError(
    `${file}: images have shape ${dims}, with neither axis 1 (NCHW) nor axis 3 (NHWC) of size 1 or 3; only greyscale or RGB images are supported.`,
    file,
  );
}

/** How float pixels map to 0..255: "unit" multiplies by 255 ([0, 1] data), "byte" keeps the value ([0, 255] data). */
export type FloatScale = "unit" | "byte";

/** The largest pixel of a float image array, checking every pixel is finite and within [0, 255]. */
export function floatPixelMax(arr: NpyArray, file: string): number {
  const v = elements(arr) as ArrayLike<number>;
  let max = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (!(x >= 0 && x <= 255)) {
      throw new DataError(
        `${file}: pixel ${x} at flat index ${i} is outside [0, 255]; float images must be in [0, 1] or [0, 255] — undo any normalisation (the harness normalises itself).`,
        file,
      );
    }
    if (x > max) max = x;
  }
  return max;
}

/** The pixels of an image array as uint8, in the file's own layout. */
export function pixelsOf(arr: NpyArray, file: string, scale: FloatScale = "unit"): Uint8Array {
  const { kind } = arr.dtype;
  if (kind === "b") throw new DataError(`${file}: images are booleans; save them as uint8 (array.astype(numpy.uint8) * 255).`, file);
  if (kind === "u" && arr.dtype.size === 1) return arr.data.slice();
  const v = elements(arr);
  const out = new Uint8Array(v.length);
  if (kind === "f") {
    const k = scale === "unit" ? 255 : 1;
    for (let i = 0; i < v.length; i++) out[i] = Math.min(255, Math.round((v[i] as number) * k));
    return out;
  }
  for (let i = 0; i < v.length; i++) {
    const x = Number(v[i]!);
    if (!(x >= 0 && x <= 255)) {
      throw new DataError(
        `${file}: pixel ${v[i]} at flat index ${i} is outside 0..255; integer images must hold 0..255 — rescale them or save floats in [0, 1].`,
        file,
      );
    }
    out[i] = x;
  }
  return out;
}

/** NHWC (or NHW) pixels to NCHW. */
export function toNchw(pixels: Uint8Array, l: ImageLayout): Uint8Array {
  if (l.layout !== "NHWC" || l.channels === 1) return pixels;
  const { count, channels: C, height: H, width: W } = l;
  const out = new Uint8Array(pixels.length);
  const plane = H * W;
  for (let n = 0; n < count; n++) {
    const base = n * C * plane;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < C; c++) out[base + c * plane + p] = pixels[base + p * C + c]!;
    }
  }
  return out;
}

/** Centres NCHW images in zero frames at least `padTo` high and wide (an odd margin puts the extra pixel bottom/right). */
export function padNchw(data: Uint8Array, l: Omit<ImageLayout, "layout">, padTo: number): { data: Uint8Array; height: number; width: number } {
  const { count, channels, height: h, width: w } = l;
  const H = Math.max(h, padTo),
    W = Math.max(w, padTo);
  if (H === h && W === w) return { data, height: h, width: w };
  const top = Math.floor((H - h) / 2),
    left = Math.floor((W - w) / 2);
  const out = new Uint8Array(count * channels * H * W);
  for (let plane = 0; plane < count * channels; plane++) {
    for (let y = 0; y < h; y++) {
      const src = (plane * h + y) * w;
      out.set(data.subarray(src, src + w), (plane * H + y + top) * W + left);
    }
  }
  return { data: out, height: H, width: W };
}

// ---- Labels

/** Class indices 0..255 from a (N,) or (N, 1) integer array. */
export function labelsOf(arr: NpyArray, file: string): Uint8Array {
  const { shape } = arr;
  if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1))) {
    const hint = shape.length === 2 ? " (one-hot labels? save labels.argmax(1))" : "";
    throw new DataError(`${file}: labels have shape (${shape.join(", ")}); expected (N,) or (N, 1) class indices${hint}.`, file);
  }
  if (arr.dtype.kind !== "i" && arr.dtype.kind !== "u") {
    throw new DataError(`${file}: labels have dtype '${arr.dtype.descr}'; class indices must be an integer type — save labels.astype(numpy.int64).`, file);
  }
  const v = elements(arr);
  const out = new Uint8Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = Number(v[i]!);
    if (!(x >= 0 && x <= 255)) {
      throw new DataError(
        `${file}: label ${v[i]} at index ${i} is outside 0..255; labels are class indices 0..numClasses-1 (at most 256 classes) — ` +
          `remap them, e.g. numpy.unique(labels, return_inverse=True)[1].`,
        file,
      );
    }
    out[i] = x;
  }
  return out;
}

// ---- The directory

export interface NpyLoadOptions {
  /** Zero-pad images smaller than this (in either dimension) up to it; default no padding. */
  padTo?: number;
}

/** True when `dir` holds the training images of an .npy dataset. */
export function looksLikeNpyDir(dir: string): boolean {
  const p = join(dir, NPY_FILES.trainImages);
  return existsSync(p) && statSync(p).isFile();
}

function requireFile(dir: string, name: string): string {
  const path = join(dir, name);
  const all = Object.values(NPY_FILES).join(", ");
  if (!existsSync(dir)) {
    throw new DataError(`.npy dataset directory ${dir} does not exist; point data.dataDir at a directory holding ${all}.`, dir);
  }
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new DataError(`${path}: missing; an .npy dataset directory needs ${all} (write each with numpy.save).`, path);
  }
  return path;
}

/** The file's bytes, without the copy `new Uint8Array(buffer)` would make (image files can be hundreds of MB). */
function readBytes(path: string): Uint8Array {
  const b = readFileSync(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

interface RawSplit {
  images: NpyArray;
  imagesPath: string;
  layout: ImageLayout;
  labels: Uint8Array;
}

function readSplit(dir: string, imagesName: string, labelsName: string): RawSplit {
  const imagesPath = requireFile(dir, imagesName);
  const labelsPath = requireFile(dir, labelsName);
  const images = parseNpy(readBytes(imagesPath), imagesPath);
  const layout = imageLayout(images.shape, imagesPath);
  if (layout.count === 0) throw new DataError(`${imagesPath}: holds no images; save at least one.`, imagesPath);
  const labels = labelsOf(parseNpy(readBytes(labelsPath), labelsPath), labelsPath);
  if (labels.length !== layout.count) {
    throw new DataError(
      `${imagesPath} has ${layout.count} images but ${labelsPath} has ${labels.length} labels; save matching arrays (one label per image, same order).`,
      labelsPath,
    );
  }
  return { images, imagesPath, layout, labels };
}

export async function loadNpyDir(dir: string, opts: NpyLoadOptions = {}): Promise<Dataset> {
  const f = NPY_FILES;
  const train = readSplit(dir, f.trainImages, f.trainLabels);
  const test = readSplit(dir, f.testImages, f.testLabels);
  const shapeOf = (l: ImageLayout) => `${l.channels}x${l.height}x${l.width}`;
  if (shapeOf(train.layout) !== shapeOf(test.layout)) {
    throw new DataError(
      `${dir}: train images are ${shapeOf(train.layout)} (CxHxW) but test images are ${shapeOf(test.layout)}; both files must hold images of one shape.`,
      test.imagesPath,
    );
  }
  // One scale for both files, so a test set that happens to be dark is not read as [0, 1].
  const floats = [train, test].filter((s) => s.images.dtype.kind === "f");
  const floatMax = Math.max(0, ...floats.map((s) => floatPixelMax(s.images, s.imagesPath)));
  const scale: FloatScale = floatMax <= 1 ? "unit" : "byte";

  const toSplit = (s: RawSplit): { split: Split; height: number; width: number } => {
    const nchw = toNchw(pixelsOf(s.images, s.imagesPath, scale), s.layout);
    const padded = opts.padTo === undefined ? { data: nchw, height: s.layout.height, width: s.layout.width } : padNchw(nchw, s.layout, opts.padTo);
    return { split: { images: padded.data, labels: s.labels, count: s.layout.count }, height: padded.height, width: padded.width };
  };
  const trainSplit = toSplit(train);
  const testSplit = toSplit(test);

  let maxLabel = 0;
  for (const s of [train, test]) for (const l of s.labels) maxLabel = Math.max(maxLabel, l);
  const { channels } = train.layout;
  const { mean, std } = channelStats(trainSplit.split.images, trainSplit.split.count, channels, trainSplit.height * trainSplit.width);
  const describe = (s: RawSplit) =>
    `${s.layout.layout} '${s.images.dtype.descr}'${s.images.dtype.kind === "f" ? (scale === "unit" ? " in [0,1]" : " in [0,255]") : ""}`;
  const padded = trainSplit.height !== train.layout.height || trainSplit.width !== train.layout.width;
  return {
    name: "npy",
    source:
      `${dir} (.npy: train ${describe(train)}, test ${describe(test)}, ${shapeOf(train.layout)}` +
      `${padded ? ` zero-padded to ${trainSplit.height}x${trainSplit.width}` : ""}, ${maxLabel + 1} classes)`,
    channels,
    height: trainSplit.height,
    width: trainSplit.width,
    numClasses: maxLabel + 1,
    mean,
    std,
    train: trainSplit.split,
    test: testSplit.split,
  };
}
