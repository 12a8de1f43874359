import { expect, test } from "bun:test";
import { splitFingerprint } from "../../src/data/fingerprint.ts";
import { takeIndices } from "../../src/data/subset.ts";
import type { Split } from "../../src/data/types.ts";

const shape = [1, 2, 2] as const;
const split = (images: number[], labels: number[]): Split => ({ images: Uint8Array.from(images), labels: Uint8Array.from(labels), count: labels.length });

test("a fingerprint ignores the order of the images but not their content", () => {
  const a = split([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [0, 1, 2]);
  const shuffled = takeIndices(a, [2, 0, 1]);
  expect(splitFingerprint(shuffled, shape)).toBe(splitFingerprint(a, shape));
  expect(splitFingerprint(a, shape)).toMatch(/^[0-9a-f]{64}$/);
  // One pixel, one label, or which label goes with which image: each changes it.
  expect(splitFingerprint(split([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13], [0, 1, 2]), shape)).not.toBe(splitFingerprint(a, shape));
  expect(splitFingerprint(split([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [0, 1, 1]), shape)).not.toBe(splitFingerprint(a, shape));
  expect(splitFingerprint(split([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [1, 0, 2]), shape)).not.toBe(splitFingerprint(a, shape));
  // The same bytes read as other shapes are other data.
  expect(splitFingerprint(split([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [0, 1, 2]), [1, 1, 4])).not.toBe(splitFingerprint(a, shape));
});

test("a split whose byte count does not match the shape is refused", () => {
  expect(() => splitFingerprint(split([1, 2, 3], [0]), shape)).toThrow(/expected 1 x 4/);
});
