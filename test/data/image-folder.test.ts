import { describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadImageFolder } from "../../src/data/image-folder.ts";
import { resolveDataset } from "../../src/data/resolve.ts";
import { dataErrorOf, makeTempDir } from "../fixtures/data-fixtures.ts";

const sharp = await import("sharp").then((m) => m.default).catch(() => null);
if (!sharp) console.warn("skipping the image-folder tests: sharp (an optional dependency) does not load here");
const tmp = makeTempDir("image-folder-");

const RED = [250, 10, 10],
  BLUE = [10, 10, 250];

/** A PNG (lossless) w x h whose left half is `left` and right half `right`. */
async function png(w: number, h: number, left: number[], right: number[]): Promise<Uint8Array> {
  const raw = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set(x < w / 2 ? left : right, (y * w + x) * 3);
  return new Uint8Array(
    await sharp!(raw, { raw: { width: w, height: h, channels: 3 } })
      .png()
      .toBuffer(),
  );
}

async function tree(root: string, spec: Record<string, Record<string, Uint8Array>>) {
  for (const [dir, files] of Object.entries(spec)) {
    mkdirSync(join(root, dir), { recursive: true });
    for (const [f, b] of Object.entries(files)) writeFileSync(join(root, dir, f), b);
  }
}

describe.skipIf(!sharp)("image-folder datasets", () => {
  test("classes in sorted folder order; shorter side resized, centre crop; val from its own folders; decoded once", async () => {
    const root = join(tmp.dir, "ok");
    const wide = await png(24, 12, RED, BLUE); // landscape: the crop keeps the middle, half red, half blue
    const tall = await png(12, 24, BLUE, BLUE);
    await tree(root, {
      "train/zebra": { "a.png": wide, "b.png": tall, "notes.txt": new TextEncoder().encode("not an image") },
      "train/ant": { "c.png": tall },
      "val/ant": { "d.png": wide },
      "val/zebra": { "e.png": tall },
    });
    const cacheDir = join(tmp.dir, "cache");
    const lines: string[] = [];
    const ds = await loadImageFolder({ dataDir: root, cacheDir, imageSize: 8, log: (l) => lines.push(l) });
    expect(ds).toMatchObject({ name: "image-folder", channels: 3, height: 8, width: 8, numClasses: 2 });
    expect([...ds.train.labels]).toEqual([0, 1, 1]); // ant/c, zebra/a, zebra/b; notes.txt skipped
    expect([...ds.test.labels]).toEqual([0, 1]);
    const px = (images: Uint8Array, n: number, c: number, y: number, x: number) => images[((n * 3 + c) * 8 + y) * 8 + x]!;
    // zebra/a: 24x12 scaled to 16x8, centre 8 columns: columns 0-3 red, 4-7 blue.
    expect(px(ds.train.images, 1, 0, 4, 0)).toBeGreaterThan(200);
    expect(px(ds.train.images, 1, 2, 4, 0)).toBeLessThan(40);
    expect(px(ds.train.images, 1, 2, 4, 7)).toBeGreaterThan(200);
    expect(px(ds.train.images, 1, 0, 4, 7)).toBeLessThan(40);
    expect(lines.some((l) => l.includes("decoding 5 images of 2 classes"))).toBe(true);
    // Second load: from the cache, nothing decoded.
    lines.length = 0;
    await resolveDataset({ dataset: "image-folder", dataDir: root, cacheDir, imageSize: 8, log: (l) => lines.push(l) });
    expect(lines.filter((l) => l.includes("decoding"))).toEqual([]);
    expect(readdirSync(cacheDir)).toEqual([expect.stringMatching(/^image-folder-8px-[0-9a-f]{12}$/)]);
  });

  test("a missing split, an empty class, an unreadable image and a val class train lacks are each named with the fix", async () => {
    const img = await png(8, 8, RED, RED);
    const cacheDir = join(tmp.dir, "cache-bad");
    const fail = async (name: string, spec: Record<string, Record<string, Uint8Array>>) => {
      const root = join(tmp.dir, name);
      await tree(root, spec);
      return (await dataErrorOf(loadImageFolder({ dataDir: root, cacheDir, imageSize: 8 }))).message;
    };
    expect(await fail("noval", { "train/a": { "x.png": img } })).toMatch(/noval: has no val\/ folder; .*train\/ and val\//);
    expect(await fail("empty", { "train/a": { "x.png": img }, "train/b": {}, "val/a": { "y.png": img } })).toMatch(
      /empty\/train\/b: class folder holds no images/,
    );
    expect(await fail("unknown", { "train/a": { "x.png": img }, "val/q": { "y.png": img } })).toMatch(
      /val: class folder q is not in .*train; val\/ must use train\/'s class names/,
    );
    expect(await fail("broken", { "train/a": { "x.png": img, "z.jpg": new Uint8Array([1, 2, 3]) }, "val/a": { "y.png": img } })).toMatch(
      /broken\/train\/a\/z\.jpg: cannot be read as an image .*remove or replace the file/,
    );
    // Nothing half-written is left in the cache by the failed decode.
    expect(readdirSync(cacheDir).filter((d) => !d.startsWith("image-folder-8px-"))).toEqual([]);
    expect(readdirSync(cacheDir)).toEqual([]);
    const none = await dataErrorOf(resolveDataset({ dataset: "image-folder" }));
    expect(none.message).toMatch(/data\.dataset=image-folder needs data\.dataDir/);
  });
});
