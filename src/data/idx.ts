/**
 * The IDX format used by MNIST and Fashion-MNIST: a big-endian header (magic, then one
 * uint32 per dimension) followed by raw uint8 data. Files may be gzipped; we sniff the
 * gzip magic rather than trusting the extension because mirrors rename files freely.
 */
import { gunzipSync, gzipSync } from "node:zlib";
import { DataError, describeSize } from "./errors.ts";

export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Reads a file, transparently gunzipping it when it carries the gzip magic. */
export async function readMaybeGzip(path: string): Promise<Uint8Array> {
  const raw = new Uint8Array(await Bun.file(path).arrayBuffer());
  if (!isGzip(raw)) return raw;
  try {
    return new Uint8Array(gunzipSync(raw));
  } catch (e) {
    throw new DataError(
      `${path}: gzip data is corrupt or truncated (${(e as Error).message}); ` + `re-copy or re-download the file, or point --data-dir at an intact copy.`,
      path,
    );
  }
}

export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  /** count*rows*cols bytes, row-major per image. */
  data: Uint8Array;
}

function readU32BE(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset, false);
}

function checkMagic(bytes: Uint8Array, expected: number, file: string, what: string): void {
  if (bytes.length < 4) {
    throw new DataError(`${file}: file is ${describeSize(bytes.length)}, too short for an IDX header; the file is truncated — re-copy it.`, file);
  }
  const magic = readU32BE(bytes, 0);
  if (magic !== expected) {
    const hex = (v: number) => `0x${v.toString(16).padStart(8, "0")}`;
    throw new DataError(
      `${file}: bad IDX magic ${hex(magic)}, expected ${hex(expected)} (${what}); ` +
        `this is not an IDX ${what} file (or it is compressed in a format other than gzip) — check the file name and --data-dir.`,
      file,
    );
  }
}

function checkSize(bytes: Uint8Array, expected: number, file: string, detail: string): void {
  if (bytes.length !== expected) {
    throw new DataError(
      `${file}: ${bytes.length < expected ? "truncated" : "unexpected trailing data"}: expected ${describeSize(expected)} ` +
        `(${detail}) but found ${describeSize(bytes.length)} of IDX data (after gunzip, if gzipped); re-copy or re-download the file.`,
      file,
    );
  }
}

export function parseIdxImages(bytes: Uint8Array, file: string): IdxImages {
  checkMagic(bytes, IDX_IMAGES_MAGIC, file, "images (idx3)");
  if (bytes.length < 16) checkSize(bytes, 16, file, "16-byte idx3 header");
  const count = readU32BE(bytes, 4),
    rows = readU32BE(bytes, 8),
    cols = readU32BE(bytes, 12);
  checkSize(bytes, 16 + count * rows * cols, file, `16-byte header + ${count} images of ${rows}x${cols}`);
  return { count, rows, cols, data: bytes.subarray(16) };
}

export function parseIdxLabels(bytes: Uint8Array, file: string): Uint8Array {
  checkMagic(bytes, IDX_LABELS_MAGIC, file, "labels (idx1)");
  if (bytes.length < 8) checkSize(bytes, 8, file, "8-byte idx1 header");
  const count = readU32BE(bytes, 4);
  checkSize(bytes, 8 + count, file, `8-byte header + ${count} labels`);
  return bytes.subarray(8);
}

function header(words: number[]): Uint8Array {
  const out = new Uint8Array(words.length * 4);
  const view = new DataView(out.buffer);
  words.forEach((w, i) => view.setUint32(i * 4, w, false));
  return out;
}

export function encodeIdxImages(data: Uint8Array, count: number, rows: number, cols: number): Uint8Array {
  const h = header([IDX_IMAGES_MAGIC, count, rows, cols]);
  const out = new Uint8Array(h.length + count * rows * cols);
  out.set(h);
  out.set(data.subarray(0, count * rows * cols), h.length);
  return out;
}

export function encodeIdxLabels(labels: Uint8Array): Uint8Array {
  const h = header([IDX_LABELS_MAGIC, labels.length]);
  const out = new Uint8Array(h.length + labels.length);
  out.set(h);
  out.set(labels, h.length);
  return out;
}

/** Max compression, and node's gzip header has mtime 0, so output is byte-reproducible. */
export function gzip(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(gzipSync(bytes, { level: 9 }));
}
