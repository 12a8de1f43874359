/**
 * .npy labels that make accuracy meaningless (one training class; test classes never
 * seen in training) load, with a warning that says so.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadNpyDir, NPY_FILES, resolveDataset } from "../../src/data/index.ts";
import { labelWarnings } from "../../src/data/stats.ts";
import { makeTempDir } from "../fixtures/data-fixtures.ts";

const tmp = makeTempDir("npy-labels-");
afterAll(tmp.cleanup);

/** A version 1.0 .npy file of uint8 values (numpy.save's layout: magic, header dict padded to 64 bytes, data). */
function npyU8(shape: number[], data: Uint8Array): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  const dict = `{'descr': '|u1', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  const header = dict + " ".repeat(total - 10 - dict.length - 1) + "\n";
  const out = new Uint8Array(total + data.length);
  out.set([0x93, ...new TextEncoder().encode("NUMPY"), 1, 0, header.length & 0xff, header.length >> 8]);
  out.set(new TextEncoder().encode(header), 10);
  out.set(data, total);
  return out;
}

/** Four .npy files of 4x4 greyscale images with these labels. */
function writeDir(name: string, train: number[], test: number[]): string {
  const dir = join(tmp.dir, name);
  mkdirSync(dir, { recursive: true });
  const images = (n: number) =>
    npyU8(
      [n, 4, 4],
      Uint8Array.from({ length: n * 16 }, (_, i) => (i * 37) & 0xff),
    );
  writeFileSync(join(dir, NPY_FILES.trainImages), images(train.length));
  writeFileSync(join(dir, NPY_FILES.trainLabels), npyU8([train.length], Uint8Array.from(train)));
  writeFileSync(join(dir, NPY_FILES.testImages), images(test.length));
  writeFileSync(join(dir, NPY_FILES.testLabels), npyU8([test.length], Uint8Array.from(test)));
  return dir;
}

async function warningsOf(dir: string): Promise<string[]> {
  const lines: string[] = [];
  await loadNpyDir(dir, { log: (l) => lines.push(l) });
  return lines;
}

test("training labels of one class warn that accuracies mean nothing", async () => {
  const dir = writeDir("one-class", [0, 0, 0, 0], [0, 0]);
  const w = await warningsOf(dir);
  expect(w).toHaveLength(1);
  expect(w[0]).toStartWith(`warning: ${dir}: every training label is 0`);
  expect(w[0]).toContain("100% or 0%");
});

test("test classes absent from training warn, with how many images and the best accuracy possible", async () => {
  const dir = writeDir("unseen", [0, 1, 0, 1], [0, 1, 2, 3]);
  const w = await warningsOf(dir);
  expect(w).toHaveLength(1);
  expect(w[0]).toContain("test labels 2, 3 never occur in the training labels (2 of 4 test images)");
  expect(w[0]).toContain("at most 50.00%");
});

test("through resolveDataset the warning goes to the run's log", async () => {
  const dir = writeDir("resolve", [3, 3, 3], [3, 5]);
  const lines: string[] = [];
  await resolveDataset({ dataset: "npy", dataDir: dir, padTo: 1, log: (l) => lines.push(l) });
  expect(lines.filter((l) => l.startsWith("warning:"))).toHaveLength(2);
});

test("labels with every test class seen in training load without a warning", async () => {
  expect(await warningsOf(writeDir("fine", [0, 1, 2, 0, 1, 2], [2, 1, 0]))).toEqual([]);
  expect(labelWarnings(Uint8Array.from([0, 1]), Uint8Array.from([1]), "x")).toEqual([]);
});
