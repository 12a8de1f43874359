import { afterAll, describe, expect, test } from "bun:test";
import { rmSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { DataError, loadCifar10Dir } from "../../src/data/index.ts";
import { makeTempDir, writeCifarDir, dataErrorOf } from "../fixtures/data-fixtures.ts";

const tmp = makeTempDir();
afterAll(tmp.cleanup);

describe("CIFAR-10 bad input", () => {
  test("missing directory names it and suggests --data-dir or download", async () => {
    const missing = join(tmp.dir, "nope");
    const e = await dataErrorOf(loadCifar10Dir(missing));
    expect(e.message).toContain(missing);
    expect(e.message).toContain("--data-dir");
    expect(e.message).toContain("download");
  });

  test("missing batch file is named", async () => {
    const dir = await writeCifarDir(join(tmp.dir, "m"), 2);
    rmSync(join(dir, "test_batch.bin"));
    const e = await dataErrorOf(loadCifar10Dir(dir, { recordsPerFile: 2 }));
    expect(e.message).toContain(join(dir, "test_batch.bin"));
  });

  test("several damaged files: the error names the first in reading order, every time", async () => {
    const dir = await writeCifarDir(join(tmp.dir, "several"), 2);
    rmSync(join(dir, "test_batch.bin"));
    truncateSync(join(dir, "data_batch_5.bin"), 10);
    truncateSync(join(dir, "data_batch_3.bin"), 10);
    for (let i = 0; i < 3; i++) {
      const e = await dataErrorOf(loadCifar10Dir(dir, { recordsPerFile: 2 }));
      expect(e.message).toContain("data_batch_3.bin");
    }
  });

  test("truncated file: names file, expected vs actual size", async () => {
    const dir = await writeCifarDir(join(tmp.dir, "t"), 2);
    truncateSync(join(dir, "data_batch_4.bin"), 3073);
    const e = await dataErrorOf(loadCifar10Dir(dir, { recordsPerFile: 2 }));
    expect(e.message).toContain("data_batch_4.bin");
    expect(e.message).toContain("6,146 bytes"); // expected
    expect(e.message).toContain("3,073 bytes"); // actual
  });

  test("wrong record size (not a multiple of 3073) is reported with the file name", async () => {
    const dir = await writeCifarDir(join(tmp.dir, "r"), 2);
    await Bun.write(join(dir, "data_batch_2.bin"), new Uint8Array(3074 * 2));
    const e = await dataErrorOf(loadCifar10Dir(dir, { recordsPerFile: 2 }));
    expect(e.message).toContain("data_batch_2.bin");
    expect(e.message).toContain("3073-byte");
    expect(e.message).toContain("CIFAR-100");
  });

  test("out-of-range label is reported as corrupt", async () => {
    const dir = await writeCifarDir(join(tmp.dir, "l"), 2);
    const bytes = new Uint8Array(3073 * 2);
    bytes[3073] = 200;
    await Bun.write(join(dir, "data_batch_1.bin"), bytes);
    const e = await dataErrorOf(loadCifar10Dir(dir, { recordsPerFile: 2 }));
    expect(e.message).toContain("data_batch_1.bin");
    expect(e.message).toContain("label 200");
  });
});
