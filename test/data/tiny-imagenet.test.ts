import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { zipSync } from "fflate";
import jpeg from "jpeg-js";
import { DATASETS } from "../../src/data/datasets.ts";
import { decodeJpegChw, loadTinyImageNet, tinyImageNetArchive } from "../../src/data/tiny-imagenet.ts";
import { ensureArchive } from "../../src/data/archive-download.ts";
import { dataErrorOf, makeTempDir } from "../fixtures/data-fixtures.ts";

const tmp = makeTempDir("tiny-imagenet-");
// Listed out of order in wnids.txt: classes are numbered in sorted order (ImageFolder's).
const WNIDS = ["n09999999", "n01443537", "n05555555"];
const SORTED = [...WNIDS].sort();
const TRAIN_PER_CLASS = 2;
const COUNTS = { train: WNIDS.length * TRAIN_PER_CLASS, test: 4 };

/** A flat-colour 64x64 JPEG: JPEG keeps a flat block's colour to within a level or two. */
function flat(rgb: [number, number, number]): Uint8Array {
  const data = new Uint8Array(64 * 64 * 4);
  for (let i = 0; i < 64 * 64; i++) data.set([...rgb, 255], i * 4);
  return new Uint8Array(jpeg.encode({ width: 64, height: 64, data }, 95).data);
}
const colourOf = (wnid: string, k: number): [number, number, number] => [20 + 60 * SORTED.indexOf(wnid), 200 - 30 * k, 90];
const VAL = [
  ["val_0.JPEG", "n05555555"],
  ["val_1.JPEG", "n01443537"],
  ["val_2.JPEG", "n09999999"],
  ["val_3.JPEG", "n01443537"],
] as const;

function officialFiles(): Record<string, Uint8Array> {
  const t = (s: string) => new TextEncoder().encode(s);
  const files: Record<string, Uint8Array> = {
    "tiny-imagenet-200/wnids.txt": t(WNIDS.join("\n") + "\n"),
    "tiny-imagenet-200/words.txt": t("n01443537\tgoldfish\n"),
  };
  for (const w of WNIDS) {
    for (let k = 0; k < TRAIN_PER_CLASS; k++) files[`tiny-imagenet-200/train/${w}/images/${w}_${k}.JPEG`] = flat(colourOf(w, k));
    files[`tiny-imagenet-200/train/${w}/${w}_boxes.txt`] = t(`${w}_0.JPEG\t0\t0\t63\t63\n`);
  }
  VAL.forEach(([f, w], i) => (files[`tiny-imagenet-200/val/images/${f}`] = flat(colourOf(w, i % 2))));
  files["tiny-imagenet-200/val/val_annotations.txt"] = t(VAL.map(([f, w]) => `${f}\t${w}\t0\t0\t63\t63`).join("\n") + "\n");
  files["tiny-imagenet-200/test/images/test_0.JPEG"] = flat([1, 2, 3]);
  return files;
}

function expectImage(images: Uint8Array, n: number, rgb: [number, number, number]) {
  const plane = 64 * 64;
  for (let c = 0; c < 3; c++) for (const p of [0, 2080, plane - 1]) expect(Math.abs(images[(n * 3 + c) * plane + p]! - rgb[c]!)).toBeLessThanOrEqual(3);
}

describe("Tiny-ImageNet", () => {
  test("the official zip decodes once into the cache: CHW RGB images, sorted-wnid labels, validation labels from val_annotations.txt", async () => {
    const zip = zipSync(officialFiles());
    const md5 = createHash("md5").update(zip).digest("hex");
    const cacheDir = join(tmp.dir, "cache");
    let fetched = 0;
    const fetchImpl = async () => (fetched++, new Response(zip, { headers: { "content-length": String(zip.length) } }));
    const dir = await ensureArchive(tinyImageNetArchive({ counts: COUNTS }), { cacheDir, fetchImpl, md5 });
    expect(readdirSync(cacheDir)).toEqual(["tiny-imagenet-200-npy"]);
    expect(readdirSync(dir).sort()).toEqual(["classes.txt", "test_images.npy", "test_labels.npy", "train_images.npy", "train_labels.npy"]);
    const ds = await loadTinyImageNet({ cacheDir, counts: COUNTS, download: false });
    expect(ds).toMatchObject({ name: "tiny-imagenet", channels: 3, height: 64, width: 64, numClasses: 3 });
    // Training images in path order: class by class in sorted wnid order, k = 0, 1.
    expect([...ds.train.labels]).toEqual([0, 0, 1, 1, 2, 2]);
    SORTED.forEach((w, ci) => [0, 1].forEach((k) => expectImage(ds.train.images, ci * 2 + k, colourOf(w, k))));
    expect([...ds.test.labels]).toEqual(VAL.map(([, w]) => SORTED.indexOf(w)));
    VAL.forEach(([, w], i) => expectImage(ds.test.images, i, colourOf(w, i % 2)));
    // Loaded again from the cache: no second download.
    await ensureArchive(tinyImageNetArchive({ counts: COUNTS }), { cacheDir, fetchImpl, md5 });
    expect(fetched).toBe(1);
  });

  test("a user's unpacked folder decodes to the same arrays as the zip, into a cache of its own", async () => {
    const root = join(tmp.dir, "unpacked");
    for (const [p, bytes] of Object.entries(officialFiles())) {
      mkdirSync(dirname(join(root, p)), { recursive: true });
      writeFileSync(join(root, p), bytes);
    }
    const cacheDir = join(tmp.dir, "cache2");
    const fromDir = await loadTinyImageNet({ cacheDir, dataDir: root, counts: COUNTS });
    const zipDir = join(tmp.dir, "zipcache");
    const zip = zipSync(officialFiles());
    await ensureArchive(tinyImageNetArchive({ counts: COUNTS }), {
      cacheDir: zipDir,
      fetchImpl: async () => new Response(zip),
      md5: createHash("md5").update(zip).digest("hex"),
    });
    const fromZip = await loadTinyImageNet({ cacheDir: zipDir, counts: COUNTS, download: false });
    expect(Buffer.from(fromDir.train.images).equals(Buffer.from(fromZip.train.images))).toBe(true);
    expect([...fromDir.test.labels]).toEqual([...fromZip.test.labels]);
    expect(readdirSync(cacheDir)[0]).toMatch(/^tiny-imagenet-200-npy-[0-9a-f]{12}$/);
  });

  test("a greyscale JPEG's one channel is repeated into R, G and B; a wrong size and a damaged file are named", async () => {
    // jpeg-js writes only colour JPEGs; sharp (an optional dependency) writes the one-component kind Tiny-ImageNet has some of.
    const sharp = await import("sharp").then((m) => m.default).catch(() => null);
    if (sharp) {
      const grey = await sharp(new Uint8Array(64 * 64).fill(77), { raw: { width: 64, height: 64, channels: 1 } })
        .toColourspace("b-w")
        .jpeg({ quality: 95 })
        .toBuffer();
      expect((await sharp(grey).metadata()).channels).toBe(1);
      const rgb = decodeJpegChw(new Uint8Array(grey), "g");
      for (const at of [0, 4096 + 100, 2 * 4096 + 4095]) expect(Math.abs(rgb[at]! - 77)).toBeLessThanOrEqual(2);
    } else console.warn("skipping the greyscale JPEG case: sharp does not load here");
    const small = new Uint8Array(jpeg.encode({ width: 8, height: 8, data: new Uint8Array(256) }, 90).data);
    expect(() => decodeJpegChw(small, "x/small.JPEG")).toThrow(/x\/small\.JPEG: is 8x8, but every Tiny-ImageNet image is 64x64/);
    expect(() => decodeJpegChw(new Uint8Array([1, 2, 3]), "x/bad.JPEG")).toThrow(/x\/bad\.JPEG: not a readable JPEG/);
  });

  test("no cached copy and downloads off: the error names the cache and both fixes; the registry counts 100,000 training images", async () => {
    const e = await dataErrorOf(loadTinyImageNet({ cacheDir: join(tmp.dir, "empty"), download: false }));
    expect(e.message).toMatch(/not in the cache directory .*empty.*--data-dir.*tiny-imagenet-200\.zip.*data\.download=true/);
    expect(DATASETS["tiny-imagenet"].nominalTrainCount()).toBe(100_000);
  });
});
