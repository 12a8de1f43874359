/**
 * A decoded image dataset in the cache (Tiny-ImageNet, image folders): an .npy dataset
 * (npy-dataset.ts's four files: NCHW uint8 images, labels) plus classes.txt, the class
 * names in label order. Written by the decoders, checked before a cache is used.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readNpyHeader, writeNpy } from "./npy.ts";
import { NPY_FILES } from "./npy-dataset.ts";
import type { Labels } from "./types.ts";

const CLASSES_FILE = "classes.txt";
const FILES = {
  train: { images: NPY_FILES.trainImages, labels: NPY_FILES.trainLabels },
  test: { images: NPY_FILES.testImages, labels: NPY_FILES.testLabels },
} as const;

/** One split's images ([count, 3, size, size]) and labels. */
export function writeNpySplit(dir: string, split: "train" | "test", images: Uint8Array, labels: Labels, size: number): void {
  writeNpy(join(dir, FILES[split].images), images, [labels.length, 3, size, size]);
  writeNpy(join(dir, FILES[split].labels), labels, [labels.length]);
}

export function writeClasses(dir: string, names: string[]): void {
  writeFileSync(join(dir, CLASSES_FILE), names.join("\n") + "\n");
}

/** Whether `dir` holds a complete cache: classes.txt, and both splits with `counts` images of side `size` and as many labels. */
export function isCompleteNpyCache(dir: string, counts: { train: number; test: number }, size: number): boolean {
  try {
    if (!existsSync(join(dir, CLASSES_FILE))) return false;
    return (["train", "test"] as const).every((s) => {
      const img = readNpyHeader(join(dir, FILES[s].images)).shape;
      return img[0] === counts[s] && img[2] === size && img[3] === size && readNpyHeader(join(dir, FILES[s].labels)).shape[0] === counts[s];
    });
  } catch {
    return false;
  }
}
