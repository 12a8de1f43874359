import { afterAll, describe, expect, test } from "bun:test";
import { homedir } from "node:os";
import { join } from "node:path";
import { classCounts, DataError, defaultCacheDir, resolveDataset } from "../../src/data/index.ts";
import type { FetchLike, ResolveOptions } from "../../src/data/index.ts";
import { cifarTarGz, makeTempDir, writeCifarDir, writeIdxDir, dataErrorOf } from "../fixtures/data-fixtures.ts";

const tmp = makeTempDir("resolve-");
afterAll(tmp.cleanup);
const RECORDS = 4;

function withLog(opts: ResolveOptions): { opts: ResolveOptions; lines: string[] } {
  const lines: string[] = [];
  return { opts: { cifarRecordsPerFile: RECORDS, ...opts, log: (l) => lines.push(l) }, lines };
}

const offline: FetchLike = () => Promise.reject(new Error("getaddrinfo ENOTFOUND www.cs.toronto.edu"));

describe("resolveDataset auto", () => {
  test("uses a cached CIFAR-10 and says so", async () => {
    const cacheDir = join(tmp.dir, "cache");
    await writeCifarDir(cacheDir, RECORDS);
    const { opts, lines } = withLog({ dataset: "auto", cacheDir, fetchImpl: offline });
    const ds = await resolveDataset(opts);
    expect(ds.name).toBe("cifar10");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("CIFAR-10 (cached");
  });

  test("--data-dir may be cifar-10-batches-bin, its parent, or an IDX dir", async () => {
    const parent = join(tmp.dir, "dd");
    const bin = await writeCifarDir(parent, RECORDS);
    for (const dataDir of [parent, bin]) {
      const { opts, lines } = withLog({ dataset: "auto", dataDir });
      expect((await resolveDataset(opts)).name).toBe("cifar10");
      expect(lines[0]).toContain(bin);
    }
    const idx = join(tmp.dir, "idx");
    await writeIdxDir(idx, { train: 20, test: 10, gz: true });
    const { opts, lines } = withLog({ dataset: "auto", dataDir: idx, padTo: 32 });
    const ds = await resolveDataset(opts);
    expect([ds.name, ds.height]).toEqual(["fashion-mnist", 32]);
    expect(lines[0]).toContain("Fashion-MNIST");
  });

  test("an unusable --data-dir is named", async () => {
    const dataDir = join(tmp.dir, "nothing-here");
    const e = await dataErrorOf(resolveDataset({ dataset: "auto", dataDir }));
    expect(e.message).toContain(dataDir);
  });

  test("falls back to the embedded subset when CIFAR-10 cannot be downloaded, with a one-line reason", async () => {
    const { opts, lines } = withLog({ dataset: "auto", cacheDir: join(tmp.dir, "empty1"), fetchImpl: offline });
    const ds = await resolveDataset(opts);
    expect(ds.name).toBe("fashion-mnist-embedded");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("embedded Fashion-MNIST");
    expect(lines[0]).toContain("ENOTFOUND");
  });

  test("a download that fails its MD5 check also falls back", async () => {
    const tarball = cifarTarGz(RECORDS);
    const fake: FetchLike = () => Promise.resolve(new Response(tarball));
    const { opts, lines } = withLog({ dataset: "auto", cacheDir: join(tmp.dir, "empty2"), fetchImpl: fake });
    expect((await resolveDataset(opts)).name).toBe("fashion-mnist-embedded");
    expect(lines.at(-1)).toContain("MD5 mismatch");
  });

  test("download: false never touches the network", async () => {
    let called = false;
    const spy: FetchLike = () => ((called = true), offline(""));
    const { opts, lines } = withLog({ dataset: "auto", cacheDir: join(tmp.dir, "empty3"), download: false, fetchImpl: spy });
    expect((await resolveDataset(opts)).name).toBe("fashion-mnist-embedded");
    expect(called).toBe(false);
    expect(lines[0]).toContain("downloading is disabled");
  });
});

describe("resolveDataset explicit choices", () => {
  test("cifar10 without cache or download names the cache dir and the fixes", async () => {
    const cacheDir = join(tmp.dir, "empty4");
    const e = await dataErrorOf(resolveDataset({ dataset: "cifar10", cacheDir, download: false }));
    expect(e.message).toContain(cacheDir);
    expect(e.message).toContain("--data-dir");
  });

  test("cifar10 with a missing --data-dir names it", async () => {
    const dataDir = join(tmp.dir, "missing-cifar");
    const e = await dataErrorOf(resolveDataset({ dataset: "cifar10", dataDir }));
    expect(e.message).toContain(dataDir);
  });

  test("trainLimit/testLimit give balanced seeded subsets and note it in the source", async () => {
    const opts: ResolveOptions = { dataset: "fashion-mnist-embedded", trainLimit: 100, testLimit: 30, subsetSeed: 3 };
    const ds = await resolveDataset(opts);
    expect([ds.train.count, ds.test.count]).toEqual([100, 30]);
    expect(classCounts(ds.train, 10)).toEqual(new Array(10).fill(10));
    expect(classCounts(ds.test, 10)).toEqual(new Array(10).fill(3));
    expect(ds.source).toContain("balanced subset");
    expect((await resolveDataset(opts)).train.images).toEqual(ds.train.images);
  });

  test("synthetic takes overrides", async () => {
    const ds = await resolveDataset({ dataset: "synthetic", synthetic: { count: 20, testCount: 10, size: 8, channels: 1 } });
    expect([ds.name, ds.train.count, ds.test.count, ds.channels, ds.height]).toEqual(["synthetic", 20, 10, 1, 8]);
  });

  test("fashion-mnist reads --data-dir", async () => {
    const idx = join(tmp.dir, "idx2");
    await writeIdxDir(idx, { train: 10, test: 10, gz: false });
    const ds = await resolveDataset({ dataset: "fashion-mnist", dataDir: idx });
    expect([ds.name, ds.train.count]).toEqual(["fashion-mnist", 10]);
  });
});

describe("defaultCacheDir", () => {
  test("prefers $PRUNING_HARNESS_CACHE, then $XDG_CACHE_HOME, then ~/.cache", () => {
    expect(defaultCacheDir({ PRUNING_HARNESS_CACHE: "/a", XDG_CACHE_HOME: "/b" })).toBe("/a");
    expect(defaultCacheDir({ XDG_CACHE_HOME: "/b" })).toBe("/b/pruning-harness");
    expect(defaultCacheDir({})).toBe(join(homedir(), ".cache", "pruning-harness"));
  });
});
