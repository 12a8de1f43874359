/**
 * Tiny-ImageNet-200 (cs231n): 200 classes of 64x64 JPEGs, 500 training images per
 * class (train/<wnid>/images/*.JPEG) and 10,000 validation images (val/images/*.JPEG)
 * whose classes are in val/val_annotations.txt. The test split has no public labels, so
 * the validation split is the test split here, as in BiP's and every pruning paper's runs.
 *
 * The JPEGs are decoded once into an .npy dataset in the cache (NCHW uint8 images,
 * labels, and classes.txt), which later runs load in seconds. Classes are numbered in
 * sorted wnid order, torchvision ImageFolder's convention. Decoder: jpeg-js (pure JS,
 * 116 kB installed), measured at 0.3 ms per 64x64 image against sharp's 0.6-0.9 ms
 * (its per-call overhead dominates at this size) and ~20 MB installed.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import jpeg from "jpeg-js";
import { buildCached, ensureArchive, findCached, type ArchiveDownloadOptions, type ArchiveSpec } from "./archive-download.ts";
import { DataError } from "./errors.ts";
import { dirSource, zipSource, type FileSource } from "./file-source.ts";
import { isCompleteNpyCache, writeClasses, writeNpySplit } from "./npy-cache.ts";
import { loadNpyDir } from "./npy-dataset.ts";
import type { Dataset } from "./types.ts";

export const TINY_IMAGENET_URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip";
/** The MD5 every public loader checks (torchvision-style TinyImageNet classes; 248,100,043 bytes). */
export const TINY_IMAGENET_MD5 = "90528d7ca1a48142e341f4ef8d21d0de";
export const TINY_IMAGENET_ARCHIVE_NAME = "tiny-imagenet-200.zip";
export const TINY_IMAGENET_TOP = "tiny-imagenet-200";
/** The decoded cache of the official archive. */
export const TINY_IMAGENET_CACHE_DIR = "tiny-imagenet-200-npy";
export const TINY_IMAGENET_COUNTS = { train: 100_000, test: 10_000 } as const;
const SIZE = 64;

export interface TinyImageNetOptions {
  /** Images per split; the official archive holds 100000 and 10000, tests use tiny fixtures. */
  counts?: { train: number; test: number };
}

/** Whether `dir` holds a complete decoded copy (the four .npy files with the expected counts, and classes.txt). */
export function isCompleteTinyImageNetCache(dir: string, opts: TinyImageNetOptions = {}): boolean {
  return isCompleteNpyCache(dir, opts.counts ?? TINY_IMAGENET_COUNTS, SIZE);
}

/** One decoded JPEG as CHW uint8 RGB (jpeg-js returns a greyscale JPEG as three equal channels; one channel is repeated too). */
export function decodeJpegChw(bytes: Uint8Array, file: string, size = SIZE): Uint8Array {
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
  } catch (e) {
    throw new DataError(`${file}: not a readable JPEG (${(e as Error).message}); the archive is damaged — delete it and download it again.`, file);
  }
  if (img.width !== size || img.height !== size) {
    throw new DataError(`${file}: is ${img.width}x${img.height}, but every Tiny-ImageNet image is ${size}x${size}; this is not the official archive.`, file);
  }
  const plane = size * size;
  const ch = img.data.length / plane;
  const out = new Uint8Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[c * plane + i] = img.data[i * ch + (ch === 1 ? 0 : c)]!;
  }
  return out;
}

/** The archive's layout, from its file list: where it starts and which files hold what. */
function layout(src: FileSource): { top: string; train: { path: string; wnid: string }[]; valImages: Map<string, string>; annotations: string } {
  const paths = src.paths();
  const wnidsFile = paths.find((p) => p === "wnids.txt" || p.endsWith("/wnids.txt"));
  if (!wnidsFile) {
    throw new DataError(
      `${src.where}: has no wnids.txt; expected the official Tiny-ImageNet layout (${TINY_IMAGENET_TOP}/wnids.txt, train/, val/).`,
      src.where,
    );
  }
  const top = wnidsFile.slice(0, -"wnids.txt".length);
  const train: { path: string; wnid: string }[] = [];
  const valImages = new Map<string, string>();
  for (const p of paths) {
    if (!p.startsWith(top) || !/\.jpe?g$/i.test(p)) continue;
    const parts = p.slice(top.length).split("/");
    if (parts[0] === "train" && parts.length === 4 && parts[2] === "images") train.push({ path: p, wnid: parts[1]! });
    else if (parts[0] === "val" && parts.length === 3 && parts[1] === "images") valImages.set(parts[2]!, p);
  }
  const annotations = `${top}val/val_annotations.txt`;
  if (!paths.includes(annotations)) throw new DataError(`${src.where}: has no ${annotations}; the validation labels live there.`, src.where);
  // Archive order is the zip's; a sorted order makes the decoded arrays the same from a zip or a folder.
  train.sort((a, b) => (a.path < b.path ? -1 : 1));
  return { top, train, valImages, annotations };
}

/**
 * Decodes Tiny-ImageNet from `src` into `<dest>/<TINY_IMAGENET_CACHE_DIR>` and returns
 * that directory. Validation images are numbered in the annotations file's order.
 */
export async function decodeTinyImageNet(src: FileSource, dest: string, log: (line: string) => void): Promise<string> {
  const { top, train, valImages, annotations } = layout(src);
  const wnids = (new TextDecoder().decode(await src.read(`${top}wnids.txt`)).match(/\S+/g) ?? []).sort();
  const classOf = new Map(wnids.map((w, i) => [w, i]));
  if (wnids.length === 0 || wnids.length > 256) throw new DataError(`${src.where}: wnids.txt lists ${wnids.length} classes; Tiny-ImageNet has 200.`, src.where);
  const val: { path: string; wnid: string }[] = [];
  for (const [i, line] of new TextDecoder()
    .decode(await src.read(annotations))
    .split("\n")
    .entries()) {
    const [file, wnid] = line.split("\t");
    if (!file?.trim()) continue;
    const path = valImages.get(file);
    if (!path || wnid === undefined)
      throw new DataError(`${src.where}: ${annotations} line ${i + 1} names ${file}, which the archive does not hold.`, src.where);
    val.push({ path, wnid });
  }
  const out = join(dest, TINY_IMAGENET_CACHE_DIR);
  mkdirSync(out, { recursive: true });
  const plane = 3 * SIZE * SIZE;
  const started = performance.now();
  let done = 0;
  const total = train.length + val.length;
  for (const [name, items] of [
    ["train", train],
    ["test", val],
  ] as const) {
    const images = new Uint8Array(items.length * plane);
    const labels = new Uint8Array(items.length);
    for (const [i, it] of items.entries()) {
      const label = classOf.get(it.wnid);
      if (label === undefined) throw new DataError(`${src.where}: ${it.path} is of class ${it.wnid}, which wnids.txt does not list.`, src.where);
      images.set(decodeJpegChw(await src.read(it.path), `${src.where}: ${it.path}`), i * plane);
      labels[i] = label;
      if (++done % 10_000 === 0) {
        const s = (performance.now() - started) / 1000;
        log(`data: decoding Tiny-ImageNet: ${done}/${total} images, ${s.toFixed(0)} s, about ${((s / done) * (total - done)).toFixed(0)} s left`);
      }
    }
    writeNpySplit(out, name, images, labels, SIZE);
  }
  writeClasses(out, wnids);
  return out;
}

export function tinyImageNetArchive(opts: TinyImageNetOptions = {}, dirName = TINY_IMAGENET_CACHE_DIR): ArchiveSpec {
  return {
    label: "Tiny-ImageNet-200",
    url: TINY_IMAGENET_URL,
    md5: TINY_IMAGENET_MD5,
    archiveName: TINY_IMAGENET_ARCHIVE_NAME,
    dirName,
    tempPrefix: "tiny-imagenet",
    isComplete: (dir) => isCompleteTinyImageNetCache(dir, opts),
    unpack: async (archive, dest, log) => {
      const src = await zipSource(archive);
      try {
        return await decodeTinyImageNet(src, dest, log);
      } finally {
        src.close();
      }
    },
  };
}

export const findTinyImageNet = (cacheDir: string, opts: TinyImageNetOptions = {}) => findCached(tinyImageNetArchive(opts), cacheDir);

export interface TinyImageNetLoadOptions extends TinyImageNetOptions, ArchiveDownloadOptions {
  /** The official zip, or the folder it unpacks to (or its parent), or a decoded cache folder. */
  dataDir?: string;
  download?: boolean;
}

/**
 * Decodes a user's copy (`dataDir`: the zip or its unpacked folder) into the cache once,
 * under a name derived from the copy's real path, so two copies never share a cache.
 */
async function decodeCopy(dataDir: string, opts: TinyImageNetLoadOptions): Promise<string> {
  if (isCompleteTinyImageNetCache(dataDir, opts)) return dataDir;
  if (!existsSync(dataDir)) {
    throw new DataError(
      `--data-dir ${dataDir} does not exist; point it at ${TINY_IMAGENET_ARCHIVE_NAME}, the ${TINY_IMAGENET_TOP} folder it unpacks to, or drop it to download.`,
      dataDir,
    );
  }
  const isZip = statSync(dataDir).isFile();
  const folder = !isZip && existsSync(join(dataDir, TINY_IMAGENET_TOP, "wnids.txt")) ? join(dataDir, TINY_IMAGENET_TOP) : dataDir;
  const key = createHash("sha256").update(realpathSync(folder)).digest("hex").slice(0, 12);
  // A user's copy may hold fewer images than the official archive (a subset in its format): complete is what it holds.
  const counts = opts.counts ?? (await countImages(folder, isZip));
  if (counts.train !== TINY_IMAGENET_COUNTS.train || counts.test !== TINY_IMAGENET_COUNTS.test)
    opts.log?.(
      `notice: ${folder} holds ${counts.train} training and ${counts.test} validation images, not the official ${TINY_IMAGENET_COUNTS.train} and ${TINY_IMAGENET_COUNTS.test}: a subset, or an incomplete copy`,
    );
  const spec = tinyImageNetArchive({ counts }, `${TINY_IMAGENET_CACHE_DIR}-${key}`);
  const cached = findCached(spec, opts.cacheDir);
  if (cached) return cached;
  opts.log?.(`data: decoding Tiny-ImageNet from ${folder} into ${join(opts.cacheDir, spec.dirName)} (once)`);
  // The copy is the user's: no download and no MD5 (a folder has none).
  return buildCached(
    spec,
    opts.cacheDir,
    async (dest) => {
      const src = isZip ? await zipSource(folder) : dirSource(folder);
      try {
        return await decodeTinyImageNet(src, dest, opts.log ?? (() => {}));
      } finally {
        src.close();
      }
    },
    folder,
  );
}

/** Training images and annotated validation images of a copy, from its file list and annotations. */
async function countImages(folder: string, isZip: boolean): Promise<{ train: number; test: number }> {
  const src = isZip ? await zipSource(folder) : dirSource(folder);
  try {
    const l = layout(src);
    const lines = new TextDecoder()
      .decode(await src.read(l.annotations))
      .split("\n")
      .filter((x) => x.trim());
    return { train: l.train.length, test: lines.length };
  } finally {
    src.close();
  }
}

export async function loadTinyImageNet(opts: TinyImageNetLoadOptions): Promise<Dataset> {
  let dir: string;
  if (opts.dataDir) dir = await decodeCopy(opts.dataDir, opts);
  else {
    const cached = findTinyImageNet(opts.cacheDir, opts);
    if (cached) dir = cached;
    else if (opts.download === false) {
      throw new DataError(
        `Tiny-ImageNet is not in the cache directory ${opts.cacheDir}; pass --data-dir pointing at ${TINY_IMAGENET_ARCHIVE_NAME} or its unpacked ${TINY_IMAGENET_TOP} folder, or allow the download (--set data.download=true).`,
        opts.cacheDir,
      );
    } else {
      opts.log?.(`data: Tiny-ImageNet not cached in ${opts.cacheDir}; downloading ${TINY_IMAGENET_URL} (248 MB) and decoding it once`);
      dir = await ensureArchive(tinyImageNetArchive(opts), opts);
    }
  }
  const ds = await loadNpyDir(dir, { log: opts.log });
  return { ...ds, name: "tiny-imagenet", source: `Tiny-ImageNet-200, decoded in ${dir} (validation split as test)` };
}
