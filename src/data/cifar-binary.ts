/**
 * The CIFAR binary record layout shared by CIFAR-10 and CIFAR-100: label byte(s), then
 * 3072 pixel bytes, the 32x32 red plane, then green, then blue (already CHW, so records
 * copy straight into NCHW buffers). CIFAR-10 has one label byte; CIFAR-100 two (coarse,
 * then fine).
 */
import { DataError, describeSize } from "./errors.ts";
import type { Split } from "./types.ts";

export const CIFAR_IMAGE_BYTES = 3 * 32 * 32;

export interface CifarLayout {
  /** "CIFAR-10", "CIFAR-100": the dataset in messages. */
  label: string;
  /** Label bytes before the pixels. */
  labelBytes: number;
  /** Which of them is the class (CIFAR-100: 1, the fine label). */
  labelAt: number;
  numClasses: number;
  /** The cache directory to delete in the re-download advice. */
  dirName: string;
  /** Extra advice when the size fits another layout's records. */
  otherLayoutHint?: (size: number) => string;
}

export const recordBytes = (l: CifarLayout) => l.labelBytes + CIFAR_IMAGE_BYTES;

/** Decodes one binary file; `file` names it in errors. `records: null` accepts any whole count. */
export function parseCifarRecords(bytes: Uint8Array, file: string, l: CifarLayout, records: number | null): Split {
  const rec = recordBytes(l);
  const fix = `Re-download (delete the cached ${l.dirName} directory) or point --data-dir at an intact copy.`;
  if (bytes.length % rec !== 0) {
    throw new DataError(
      `${file}: size ${describeSize(bytes.length)} is not a whole number of ${rec}-byte ${l.label} records ` +
        `(${l.labelBytes} label byte${l.labelBytes > 1 ? "s" : ""} + 3072 pixel bytes), so it is truncated or not a ${l.label} binary file.${l.otherLayoutHint?.(bytes.length) ?? ""} ${fix}`,
      file,
    );
  }
  const count = bytes.length / rec;
  if (records !== null && count !== records) {
    throw new DataError(
      `${file}: truncated or corrupt: expected ${describeSize(records * rec)} (${records} records of ${rec}) but the file is ${describeSize(bytes.length)} (${count} records). ${fix}`,
      file,
    );
  }
  const images = new Uint8Array(count * CIFAR_IMAGE_BYTES);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const at = i * rec;
    const label = bytes[at + l.labelAt]!;
    if (label >= l.numClasses) {
      throw new DataError(
        `${file}: record ${i} has label ${label}, outside 0..${l.numClasses - 1}; the file is corrupt or not ${l.label} — re-download it.`,
        file,
      );
    }
    labels[i] = label;
    images.set(bytes.subarray(at + l.labelBytes, at + rec), i * CIFAR_IMAGE_BYTES);
  }
  return { images, labels, count };
}

/** Splits joined in order. */
export function concatSplits(parts: Split[], imageBytes: number): Split {
  const count = parts.reduce((n, p) => n + p.count, 0);
  const images = new Uint8Array(count * imageBytes);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * imageBytes);
    labels.set(p.labels, at);
    at += p.count;
  }
  return { images, labels, count };
}
