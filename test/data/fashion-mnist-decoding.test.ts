import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DEBIAN_FASHION_MNIST_DIR, loadFashionMnistDir, padImages } from "../../src/data/index.ts";
import { idxPixel, makeTempDir, writeIdxDir } from "../fixtures/data-fixtures.ts";

const tmp = makeTempDir("idx-");
afterAll(tmp.cleanup);

describe("Fashion-MNIST IDX decoding", () => {
  for (const gz of [true, false]) {
    test(`decodes ${gz ? "gzipped" : "plain"} IDX files`, async () => {
      const dir = join(tmp.dir, gz ? "gz" : "plain");
      await writeIdxDir(dir, { train: 12, test: 5, gz });
      const ds = await loadFashionMnistDir(dir);
      expect([ds.name, ds.channels, ds.height, ds.width, ds.numClasses]).toEqual(["fashion-mnist", 1, 28, 28, 10]);
      expect([ds.train.count, ds.test.count]).toEqual([12, 5]);
      expect(ds.train.images.length).toBe(12 * 784);
      expect(Array.from(ds.train.labels.subarray(9, 12))).toEqual([9, 0, 1]);
      expect(ds.train.images[3 * 784 + 5 * 28 + 7]).toBe(idxPixel(3, 5, 7));
      expect(ds.test.images[4 * 784 + 27 * 28 + 27]).toBe(idxPixel(4, 27, 27));
      expect(ds.source).toBe(dir);
    });
  }

  test("padTo 32 centres the 28x28 image with 2 zero pixels on each side", async () => {
    const dir = join(tmp.dir, "pad");
    await writeIdxDir(dir, { train: 3, test: 2, gz: true });
    const ds = await loadFashionMnistDir(dir, { padTo: 32 });
    expect([ds.height, ds.width]).toEqual([32, 32]);
    expect(ds.train.images.length).toBe(3 * 1024);
    const n = 2,
      img = n * 1024;
    expect(ds.train.images[img + 2 * 32 + 2]).toBe(idxPixel(n, 0, 0));
    expect(ds.train.images[img + 29 * 32 + 29]).toBe(idxPixel(n, 27, 27));
    expect(ds.train.images[img + 10 * 32 + 15]).toBe(idxPixel(n, 8, 13));
    for (const [y, x] of [
      [0, 0],
      [1, 16],
      [16, 1],
      [30, 16],
      [16, 31],
      [31, 31],
    ] as const) {
      expect(ds.train.images[img + y * 32 + x]).toBe(0);
    }
  });

  test("padImages rejects odd margins", () => {
    expect(() => padImages(new Uint8Array(784), 1, 28, 31)).toThrow(RangeError);
  });

  test("mean/std are computed from the (padded) training split", async () => {
    const dir = join(tmp.dir, "stats");
    await writeIdxDir(dir, { train: 4, test: 1, gz: false });
    const plain = await loadFashionMnistDir(dir);
    const padded = await loadFashionMnistDir(dir, { padTo: 32 });
    let sum = 0,
      sumSq = 0;
    for (const v of plain.train.images) {
      sum += v / 255;
      sumSq += (v / 255) ** 2;
    }
    const n = plain.train.images.length;
    const mean = sum / n;
    expect(plain.mean[0]!).toBeCloseTo(mean, 10);
    expect(plain.std[0]!).toBeCloseTo(Math.sqrt(sumSq / n - mean * mean), 10);
    // Padding adds zeros: same sum over more pixels.
    expect(padded.mean[0]!).toBeCloseTo(sum / (4 * 1024), 10);
  });

  test.skipIf(!existsSync(DEBIAN_FASHION_MNIST_DIR))("loads the Debian copy with known statistics", async () => {
    const ds = await loadFashionMnistDir(DEBIAN_FASHION_MNIST_DIR);
    expect([ds.train.count, ds.test.count]).toEqual([60000, 10000]);
    expect(ds.mean[0]!).toBeCloseTo(0.286, 3);
    expect(ds.std[0]!).toBeCloseTo(0.353, 3);
  });
});
