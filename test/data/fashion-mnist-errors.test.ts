import { afterAll, describe, expect, test } from "bun:test";
import { rmSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { DataError, loadFashionMnistDir } from "../../src/data/index.ts";
import { idxImages, idxLabels, idxPixel, makeTempDir, writeIdxDir, dataErrorOf } from "../fixtures/data-fixtures.ts";

const tmp = makeTempDir("idx-err-");
afterAll(tmp.cleanup);

async function freshDir(name: string, gz: boolean): Promise<string> {
  const dir = join(tmp.dir, name);
  await writeIdxDir(dir, { train: 10, test: 4, gz });
  return dir;
}

describe("Fashion-MNIST bad input", () => {
  test("missing directory is named with the fixes", async () => {
    const dir = join(tmp.dir, "absent");
    const e = await dataErrorOf(loadFashionMnistDir(dir));
    expect(e.message).toContain(dir);
    expect(e.message).toContain("--data-dir");
  });

  test("missing file names the file and the .gz alternative", async () => {
    const dir = await freshDir("missing", true);
    rmSync(join(dir, "t10k-labels-idx1-ubyte.gz"));
    const e = await dataErrorOf(loadFashionMnistDir(dir));
    expect(e.message).toContain(join(dir, "t10k-labels-idx1-ubyte"));
    expect(e.message).toContain(".gz");
  });

  test("bad magic: names file, expected vs actual", async () => {
    const dir = await freshDir("magic", false);
    // Labels where images belong.
    await Bun.write(join(dir, "train-images-idx3-ubyte"), idxLabels([1, 2, 3]));
    const e = await dataErrorOf(loadFashionMnistDir(dir));
    expect(e.message).toContain("train-images-idx3-ubyte");
    expect(e.message).toContain("0x00000801");
    expect(e.message).toContain("0x00000803");
  });

  test("truncated plain file: expected vs actual size", async () => {
    const dir = await freshDir("trunc", false);
    truncateSync(join(dir, "train-images-idx3-ubyte"), 16 + 784 * 9);
    const e = await dataErrorOf(loadFashionMnistDir(dir));
    expect(e.message).toContain("train-images-idx3-ubyte");
    expect(e.message).toContain(`${(16 + 784 * 10).toLocaleString("en-US")} bytes`);
    expect(e.message).toContain(`${(16 + 784 * 9).toLocaleString("en-US")} bytes`);
  });

  test("truncated gzip stream is reported as corrupt gzip", async () => {
    const dir = await freshDir("gztrunc", true);
    const gz = gzipSync(idxImages(10, 28, 28, idxPixel));
    await Bun.write(join(dir, "train-images-idx3-ubyte.gz"), gz.subarray(0, gz.length >> 1));
    const e = await dataErrorOf(loadFashionMnistDir(dir));
    expect(e.message).toContain("train-images-idx3-ubyte.gz");
    expect(e.message).toContain("gzip");
  });

  test("image/label count mismatch names both files", async () => {
    const dir = await freshDir("count", false);
    await Bun.write(join(dir, "t10k-labels-idx1-ubyte"), idxLabels([0, 1, 2]));
    const e = await dataErrorOf(loadFashionMnistDir(dir));
    expect(e.message).toContain("t10k-images-idx3-ubyte");
    expect(e.message).toContain("t10k-labels-idx1-ubyte");
  });
});
