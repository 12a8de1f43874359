import { describe, expect, test } from "bun:test";
import { balancedSubset, classCounts } from "../../src/data/index.ts";
import type { Split } from "../../src/data/index.ts";

/** Image i is a single byte equal to i, so subset membership is visible in the pixels. */
function split(labels: number[]): Split {
  return { images: Uint8Array.from(labels, (_, i) => i), labels: Uint8Array.from(labels), count: labels.length };
}

describe("balancedSubset", () => {
  const s = split(Array.from({ length: 200 }, (_, i) => (i * 7) % 4)); // 50 per class, interleaved

  test("takes equal counts per class with images matching labels", () => {
    const sub = balancedSubset(s, 40, 4, 1);
    expect(sub.count).toBe(40);
    expect(classCounts(sub, 4)).toEqual([10, 10, 10, 10]);
    for (let k = 0; k < sub.count; k++) expect(sub.labels[k]).toBe(s.labels[sub.images[k]!]!);
    // Original order preserved.
    expect(Array.from(sub.images)).toEqual(Array.from(sub.images).sort((a, b) => a - b));
  });

  test("remainder goes to the lowest classes; small classes run out without starving others", () => {
    expect(classCounts(balancedSubset(s, 42, 4, 1), 4)).toEqual([11, 11, 10, 10]);
    const skewed = split([...new Array(3).fill(0), ...new Array(30).fill(1), ...new Array(30).fill(2)]);
    expect(classCounts(balancedSubset(skewed, 21, 3, 0), 3)).toEqual([3, 9, 9]);
  });

  test("seeded: same seed same subset, different seed different subset", () => {
    const a = balancedSubset(s, 40, 4, 1),
      b = balancedSubset(s, 40, 4, 1),
      c = balancedSubset(s, 40, 4, 2);
    expect(Array.from(a.images)).toEqual(Array.from(b.images));
    expect(Array.from(a.images)).not.toEqual(Array.from(c.images));
  });

  test("a limit at or above the size returns the split unchanged", () => {
    expect(balancedSubset(s, 500, 4, 0)).toBe(s);
  });
});
