import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { classCounts, EMBEDDED_SUBSET_DIR, loadEmbeddedFashionMnist } from "../../src/data/index.ts";

describe("embedded Fashion-MNIST subset", () => {
  test("loads 5000 train / 2000 test, 500/200 per class, 28x28x1", async () => {
    const ds = await loadEmbeddedFashionMnist();
    expect(ds.name).toBe("fashion-mnist-embedded");
    expect(ds.source).toContain("data/fashion-mnist-subset");
    expect([ds.channels, ds.height, ds.width, ds.numClasses]).toEqual([1, 28, 28, 10]);
    expect([ds.train.count, ds.test.count]).toEqual([5000, 2000]);
    expect(classCounts(ds.train, 10)).toEqual(new Array(10).fill(500));
    expect(classCounts(ds.test, 10)).toEqual(new Array(10).fill(200));
    // Close to the full set's statistics (0.2860 / 0.3530) since the subset is a random sample.
    expect(Math.abs(ds.mean[0]! - 0.286)).toBeLessThan(0.01);
    expect(Math.abs(ds.std[0]! - 0.353)).toBeLessThan(0.01);
    // Not sorted by class.
    expect(Array.from(ds.train.labels.subarray(0, 20)).some((l, i, a) => i > 0 && l !== a[i - 1])).toBe(true);
  });

  test("padTo 32 gives 32x32 images", async () => {
    const ds = await loadEmbeddedFashionMnist({ padTo: 32 });
    expect([ds.height, ds.width]).toEqual([32, 32]);
    expect(ds.train.images.length).toBe(5000 * 1024);
  });

  test("ships the four gzip IDX files, a provenance README, and stays small", () => {
    let total = 0;
    for (const f of ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]) {
      const p = join(EMBEDDED_SUBSET_DIR, f);
      expect(existsSync(p)).toBe(true);
      total += statSync(p).size;
    }
    expect(total).toBeLessThan(4_000_000);
    const readme = readFileSync(join(EMBEDDED_SUBSET_DIR, "README.md"), "utf8");
    for (const needle of ["dataset-fashion-mnist", "Zalando", "MIT", "make-embedded-subset.ts", "seed"]) expect(readme).toContain(needle);
  });
});
