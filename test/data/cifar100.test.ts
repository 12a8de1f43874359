import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { downloadCifar100, findCifar100, loadCifar100Dir } from "../../src/data/cifar100.ts";
import { dataErrorOf, makeTempDir, tarBytes } from "../fixtures/data-fixtures.ts";

const tmp = makeTempDir("cifar100-");
const COUNTS = { train: 3, test: 2 };
const pixel = (split: number, n: number, c: number, i: number) => (split * 97 + n * 31 + c * 7 + i) & 0xff;
// Coarse and fine labels differ, so taking the wrong byte shows.
const coarse = (split: number, n: number) => (split + n) % 20;
const fine = (split: number, n: number) => 99 - split * 10 - n;

function records(split: number, count: number): Uint8Array {
  const out = new Uint8Array(count * 3074);
  for (let n = 0; n < count; n++) {
    out[n * 3074] = coarse(split, n);
    out[n * 3074 + 1] = fine(split, n);
    for (let c = 0; c < 3; c++) for (let i = 0; i < 1024; i++) out[n * 3074 + 2 + c * 1024 + i] = pixel(split, n, c, i);
  }
  return out;
}

function writeDir(parent: string): string {
  const dir = join(parent, "cifar-100-binary");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "train.bin"), records(0, COUNTS.train));
  writeFileSync(join(dir, "test.bin"), records(1, COUNTS.test));
  return dir;
}

describe("CIFAR-100 binary", () => {
  test("records decode to the fine label and R, G, B planes in order; normalisation is the training split's own statistics", async () => {
    const ds = await loadCifar100Dir(writeDir(join(tmp.dir, "a")), { counts: COUNTS });
    expect(ds).toMatchObject({ name: "cifar100", channels: 3, height: 32, width: 32, numClasses: 100 });
    expect([...ds.train.labels]).toEqual([99, 98, 97]);
    expect([...ds.test.labels]).toEqual([89, 88]);
    for (const [n, c, i] of [
      [0, 0, 0],
      [2, 1, 517],
      [1, 2, 1023],
    ] as const)
      expect(ds.train.images[(n * 3 + c) * 1024 + i]).toBe(pixel(0, n, c, i));
    // Mean of channel 1 over the training pixels, summed here by hand.
    let sum = 0;
    for (let n = 0; n < COUNTS.train; n++) for (let i = 0; i < 1024; i++) sum += pixel(0, n, 1, i) / 255;
    expect(ds.mean[1]).toBeCloseTo(sum / (COUNTS.train * 1024), 12);
  });

  test("a user's copy (counts: null) may be a subset in the official format, said in a notice; the official counts are the default", async () => {
    const dir = writeDir(join(tmp.dir, "subset"));
    const lines: string[] = [];
    const ds = await loadCifar100Dir(dir, { counts: null, log: (l) => lines.push(l) });
    expect([ds.train.count, ds.test.count]).toEqual([3, 2]);
    expect(lines).toEqual([expect.stringMatching(/holds 3 training and 2 test records, not the official 50000 and 10000: a subset, or a truncated copy/)]);
    expect((await dataErrorOf(loadCifar100Dir(dir))).message).toMatch(/expected 153,700,000 bytes \(50000 records of 3074\)/);
  });

  test("a CIFAR-10 file, a truncated file and a label past 99 are named with the fix", async () => {
    const dir = writeDir(join(tmp.dir, "bad"));
    writeFileSync(join(dir, "train.bin"), new Uint8Array(3 * 3073));
    expect((await dataErrorOf(loadCifar100Dir(dir, { counts: COUNTS }))).message).toMatch(
      /train\.bin.*3074-byte CIFAR-100 records.*matches CIFAR-10's 3073-byte records/,
    );
    writeFileSync(join(dir, "train.bin"), records(0, 2));
    expect((await dataErrorOf(loadCifar100Dir(dir, { counts: COUNTS }))).message).toMatch(/expected 9,222 bytes \(3 records of 3074\)/);
    const bad = records(0, 3);
    bad[3074 + 1] = 100;
    writeFileSync(join(dir, "train.bin"), bad);
    expect((await dataErrorOf(loadCifar100Dir(dir, { counts: COUNTS }))).message).toMatch(/record 1 has label 100, outside 0\.\.99/);
  });

  test("download: MD5-checked, unpacked into the cache and found there next time; a wrong archive leaves nothing", async () => {
    const top = join(tmp.dir, "src");
    writeDir(top);
    const tgz = new Uint8Array(
      gzipSync(
        tarBytes(
          ["train.bin", "test.bin"].map((f) => ({ name: `cifar-100-binary/${f}`, data: new Uint8Array(readFileSync(join(top, "cifar-100-binary", f))) })),
        ),
      ),
    );
    const md5 = createHash("md5").update(tgz).digest("hex");
    const cacheDir = join(tmp.dir, "cache");
    let fetched = 0;
    const fetchImpl = async () => {
      fetched++;
      return new Response(tgz, { headers: { "content-length": String(tgz.length) } });
    };
    const bad = await dataErrorOf(downloadCifar100({ cacheDir, fetchImpl, md5: "0".repeat(32), counts: COUNTS }));
    expect(bad.message).toMatch(/MD5 mismatch.*CIFAR-100/);
    expect(readdirSync(cacheDir)).toEqual([]);
    const dir = await downloadCifar100({ cacheDir, fetchImpl, md5, counts: COUNTS });
    expect(findCifar100(cacheDir, { counts: COUNTS })).toBe(dir);
    expect(readdirSync(cacheDir)).toEqual(["cifar-100-binary"]);
    expect((await loadCifar100Dir(dir, { counts: COUNTS })).train.labels[0]).toBe(99);
    expect(await downloadCifar100({ cacheDir, fetchImpl, md5, counts: COUNTS })).toBe(dir);
    expect(fetched).toBe(2);
  });
});
