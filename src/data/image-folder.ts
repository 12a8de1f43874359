/**
 * A user's image dataset in the ImageFolder layout torchvision reads (ImageNet's usual
 * form on disk): `<root>/train/<class>/<image>` and `<root>/val/<class>/<image>`, one
 * folder per class, classes numbered in sorted folder-name order. Files that are not
 * images by extension are skipped, as ImageFolder does.
 *
 * Every image is decoded and resized once into an .npy dataset in the cache: the
 * shorter side scaled to `imageSize`, then the centre `imageSize` x `imageSize` crop
 * (torchvision's Resize + CenterCrop at one size; the training split's random-resized
 * crops of the ImageNet recipe become the harness's pad-and-crop augmentation, a
 * stated difference). Decoder and resizer: sharp (libvips), an optional dependency:
 * ImageNet's JPEGs are large and varied, and libjpeg's shrink-on-load makes the resize
 * cheap, which jpeg-js (no resizing, 2-3x slower on large images) cannot.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import { buildCached, findCached, type ArchiveSpec } from "./archive-download.ts";
import { DataError } from "./errors.ts";
import { isCompleteNpyCache, writeClasses, writeNpySplit } from "./npy-cache.ts";
import { loadNpyDir, MAX_LABEL } from "./npy-dataset.ts";
import type { Dataset } from "./types.ts";

export const IMAGE_EXTENSIONS = [".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"] as const;
export const IMAGE_FOLDER_SPLITS = { train: "train", test: "val" } as const;

type Sharp = typeof import("sharp").default;

async function loadSharp(): Promise<Sharp> {
  try {
    return (await import("sharp")).default;
  } catch (e) {
    throw new DataError(
      `data.dataset=image-folder decodes images with sharp, which does not load here (${(e as Error).message.split("\n")[0]}); ` +
        `install it with \`bun add sharp\` (its prebuilt libvips comes from the npm registry), or convert the images to the four .npy files of data.dataset=npy.`,
    );
  }
}

interface Listing {
  classes: string[];
  files: { train: { path: string; label: number }[]; test: { path: string; label: number }[] };
}

const isImage = (name: string) => IMAGE_EXTENSIONS.some((e) => name.toLowerCase().endsWith(e));

/** The classes and image files of `root`, with every layout problem named. */
export function listImageFolder(root: string): Listing {
  if (!existsSync(root)) throw new DataError(`--data-dir ${root} does not exist; point it at a folder holding train/ and val/, one subfolder per class.`, root);
  const splitDir = (s: string) => {
    const dir = join(root, s);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new DataError(
        `${root}: has no ${s}/ folder; an image folder dataset needs train/ and val/, each with one subfolder per class (ImageNet's layout).`,
        dir,
      );
    }
    return dir;
  };
  const classDirs = (dir: string) =>
    readdirSync(dir)
      .filter((n) => statSync(join(dir, n)).isDirectory())
      .sort();
  const trainDir = splitDir(IMAGE_FOLDER_SPLITS.train);
  const testDir = splitDir(IMAGE_FOLDER_SPLITS.test);
  const classes = classDirs(trainDir);
  if (classes.length === 0) throw new DataError(`${trainDir}: has no class folders; put each class's images in a folder of its own.`, trainDir);
  if (classes.length > MAX_LABEL + 1) throw new DataError(`${trainDir}: has ${classes.length} classes; at most ${MAX_LABEL + 1} are supported.`, trainDir);
  const labelOf = new Map(classes.map((c, i) => [c, i]));
  const filesOf = (dir: string, names: string[]) =>
    names.flatMap((c) => {
      const images = readdirSync(join(dir, c))
        .filter(isImage)
        .sort()
        .map((f) => ({ path: join(dir, c, f), label: labelOf.get(c)! }));
      if (images.length === 0) {
        throw new DataError(
          `${join(dir, c)}: class folder holds no images (${IMAGE_EXTENSIONS.join(", ")}); add its images or remove the folder.`,
          join(dir, c),
        );
      }
      return images;
    });
  const testClasses = classDirs(testDir);
  const unknown = testClasses.filter((c) => !labelOf.has(c));
  if (unknown.length) {
    throw new DataError(
      `${testDir}: class folder${unknown.length > 1 ? "s" : ""} ${unknown.slice(0, 5).join(", ")}${unknown.length > 5 ? ", ..." : ""} ${unknown.length > 1 ? "are" : "is"} not in ${trainDir}; val/ must use train/'s class names.`,
      testDir,
    );
  }
  return { classes, files: { train: filesOf(trainDir, classes), test: filesOf(testDir, testClasses) } };
}

/** Decodes every image of `listing` at `size` into `<dest>/images` (.npy files and classes.txt). */
async function decode(listing: Listing, dest: string, size: number, log: (line: string) => void): Promise<string> {
  const sharp = await loadSharp();
  const out = join(dest, "images");
  mkdirSync(out, { recursive: true });
  const plane = size * size;
  const total = listing.files.train.length + listing.files.test.length;
  const started = performance.now();
  let done = 0;
  const wide = listing.classes.length > 256;
  for (const [split, items] of Object.entries(listing.files) as ["train" | "test", { path: string; label: number }[]][]) {
    const images = new Uint8Array(items.length * 3 * plane);
    const labels = wide ? new Uint16Array(items.length) : new Uint8Array(items.length);
    // A few images in flight keep libvips' threads busy; more only costs memory.
    const inFlight = 8;
    for (let start = 0; start < items.length; start += inFlight) {
      const batch = items.slice(start, start + inFlight);
      const pixels = await Promise.all(
        batch.map((it) =>
          sharp(it.path)
            .rotate()
            .removeAlpha()
            .toColourspace("srgb")
            .resize(size, size, { fit: "cover", position: "centre" })
            .raw()
            .toBuffer({ resolveWithObject: true })
            .catch((e: Error) => {
              throw new DataError(`${it.path}: cannot be read as an image (${e.message}); remove or replace the file.`, it.path);
            }),
        ),
      );
      for (const [k, { data, info }] of pixels.entries()) {
        const i = start + k;
        const ch = info.channels;
        // HWC from libvips to CHW; a greyscale image's one channel is repeated.
        for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) images[(i * 3 + c) * plane + p] = data[p * ch + (ch === 1 ? 0 : c)]!;
        labels[i] = batch[k]!.label;
      }
      done += batch.length;
      if (done % 5000 < batch.length) {
        const s = (performance.now() - started) / 1000;
        log(`data: decoding image folder: ${done}/${total} images, ${s.toFixed(0)} s, about ${((s / done) * (total - done)).toFixed(0)} s left`);
      }
    }
    writeNpySplit(out, split, images, labels, size);
  }
  writeClasses(out, listing.classes);
  return out;
}

export interface ImageFolderOptions {
  dataDir?: string;
  cacheDir: string;
  /** Side of the square images the cache holds. */
  imageSize: number;
  log?: (line: string) => void;
}

export async function loadImageFolder(opts: ImageFolderOptions): Promise<Dataset> {
  if (!opts.dataDir) {
    throw new DataError(
      `data.dataset=image-folder needs data.dataDir: a folder holding train/ and val/, one subfolder per class (--data-dir /path/to/imagenet).`,
    );
  }
  const listing = listImageFolder(opts.dataDir);
  const counts = { train: listing.files.train.length, test: listing.files.test.length };
  // One cache per folder and size; the file list is part of the key, so adding or removing images decodes again.
  const key = createHash("sha256")
    .update(`${realpathSync(opts.dataDir)}\n${opts.imageSize}\n`)
    .update([...listing.files.train, ...listing.files.test].map((f) => `${f.label} ${f.path}`).join("\n"))
    .digest("hex")
    .slice(0, 12);
  const spec: Pick<ArchiveSpec, "label" | "dirName" | "tempPrefix" | "isComplete"> = {
    label: "image folder",
    dirName: `image-folder-${opts.imageSize}px-${key}`,
    tempPrefix: "image-folder",
    isComplete: (dir) => isCompleteNpyCache(dir, counts, opts.imageSize),
  };
  const log = opts.log ?? (() => {});
  let dir = findCached(spec as ArchiveSpec, opts.cacheDir);
  if (!dir) {
    log(
      `data: decoding ${counts.train + counts.test} images of ${listing.classes.length} classes from ${opts.dataDir} at ${opts.imageSize}x${opts.imageSize} into ${join(opts.cacheDir, spec.dirName)} (once)`,
    );
    dir = await buildCached(spec as ArchiveSpec, opts.cacheDir, (dest) => decode(listing, dest, opts.imageSize, log), opts.dataDir);
  }
  const ds = await loadNpyDir(dir, { log });
  return {
    ...ds,
    name: "image-folder",
    numClasses: listing.classes.length,
    source: `${opts.dataDir} (image folder: ${listing.classes.length} classes, ${counts.train} train / ${counts.test} val images at ${opts.imageSize}px, decoded in ${dir})`,
  };
}
