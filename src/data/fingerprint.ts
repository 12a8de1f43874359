import { createHash } from "node:crypto";
import type { Dataset, Split } from "./types.ts";

const memo = new WeakMap<Split, string>();

/**
 * SHA-256 of a split's images with their labels, independent of their order: each
 * (label, image) pair is hashed on its own and the pair digests are hashed in sorted
 * order, with the image shape in front. Two units that trained on the same images have
 * the same fingerprint whatever order their loaders stored them in, and a single
 * changed pixel or label changes it.
 */
export function splitFingerprint(split: Split, shape: readonly [number, number, number]): string {
  const known = memo.get(split);
  if (known) return known;
  const bytes = shape[0] * shape[1] * shape[2];
  if (split.images.length !== split.count * bytes) throw new Error(`split holds ${split.images.length} image bytes, expected ${split.count} x ${bytes}`);
  const pairs: string[] = new Array(split.count);
  for (let i = 0; i < split.count; i++) {
    pairs[i] = createHash("sha256")
      .update(split.labels.subarray(i, i + 1))
      .update(split.images.subarray(i * bytes, (i + 1) * bytes))
      .digest("hex");
  }
  pairs.sort();
  const h = createHash("sha256").update(`${shape.join("x")}:${split.count}\n`);
  for (const p of pairs) h.update(p);
  const out = h.digest("hex");
  memo.set(split, out);
  return out;
}

/** The fingerprints every training unit records, under the keys units are compared by. */
export function dataFingerprints(data: Dataset): { trainFingerprint: string; testFingerprint: string } {
  const shape = [data.channels, data.height, data.width] as const;
  return { trainFingerprint: splitFingerprint(data.train, shape), testFingerprint: splitFingerprint(data.test, shape) };
}
