import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { CIFAR10_MEAN, CIFAR10_STD, loadCifar10Dir, parseCifar10Batch } from "../../src/data/index.ts";
import { cifarLabel, cifarPixel, makeTempDir, writeCifarDir } from "../fixtures/data-fixtures.ts";

const tmp = makeTempDir();
afterAll(tmp.cleanup);

describe("CIFAR-10 binary decoding", () => {
  test("a hand-built record decodes to label + RRR..GGG..BBB planes in NCHW order", () => {
    const rec = new Uint8Array(3073 * 2);
    rec[0] = 7;
    rec[1] = 11; // R(0,0)
    rec[1 + 1023] = 12; // R(31,31)
    rec[1 + 1024] = 21; // G(0,0)
    rec[1 + 2048 + 32 + 2] = 33; // B(1,2)
    rec[3073] = 2;
    rec[3073 + 1 + 5] = 99; // second image R(0,5)
    const split = parseCifar10Batch(rec, "hand.bin", null);
    expect(split.count).toBe(2);
    expect(Array.from(split.labels)).toEqual([7, 2]);
    expect(split.images.length).toBe(2 * 3072);
    expect(split.images[0]).toBe(11);
    expect(split.images[1023]).toBe(12);
    expect(split.images[1024]).toBe(21);
    expect(split.images[2048 + 1 * 32 + 2]).toBe(33);
    expect(split.images[3072 + 5]).toBe(99);
  });

  test("loads a batches dir: 5 train files concatenated in order, test separate, CIFAR constants", async () => {
    const dir = await writeCifarDir(join(tmp.dir, "a"), 3);
    const ds = await loadCifar10Dir(dir, { recordsPerFile: 3 });
    expect(ds.name).toBe("cifar10");
    expect([ds.channels, ds.height, ds.width, ds.numClasses]).toEqual([3, 32, 32, 10]);
    expect(ds.train.count).toBe(15);
    expect(ds.test.count).toBe(3);
    expect(ds.mean).toEqual(CIFAR10_MEAN);
    expect(ds.std).toEqual(CIFAR10_STD);
    // train image 7 = file 2 (data_batch_3), record 1
    const img = 7 * 3072;
    expect(ds.train.labels[7]).toBe(cifarLabel(2, 1));
    expect(ds.train.images[img + 1 * 1024 + 4 * 32 + 9]).toBe(cifarPixel(2, 1, 1, 4, 9));
    expect(ds.train.images[img + 2 * 1024 + 31 * 32 + 31]).toBe(cifarPixel(2, 1, 2, 31, 31));
    expect(ds.test.labels[2]).toBe(cifarLabel(5, 2));
    expect(ds.test.images[2 * 3072 + 0]).toBe(cifarPixel(5, 2, 0, 0, 0));
  });

  test("accepts the parent of cifar-10-batches-bin", async () => {
    const parent = join(tmp.dir, "b");
    await writeCifarDir(parent, 2);
    const ds = await loadCifar10Dir(parent, { recordsPerFile: 2 });
    expect(ds.source).toBe(join(parent, "cifar-10-batches-bin"));
    expect(ds.train.count).toBe(10);
  });
});
